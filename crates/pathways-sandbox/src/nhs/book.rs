//! The NHS simulator's record of referrals: each ServiceRequest it received, the Task that
//! tracks it, the X-Request-IDs already processed (so a repeated message is a 409 duplicate),
//! and the statistics exactly-once tests read.
//!
//! A Task's status comes from the shared sandbox clock (from the message's X-Request-ID and
//! the time since it arrived) unless something fixed it: a referral to a full service is
//! rejected on arrival, a `revoked` message cancels it, and tests can set it directly. A
//! cancellation also updates the stored ServiceRequest: its `status` becomes `revoked`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::data::{SeedCapacity, ServiceSeed};
use super::message::{ReferralMessage, RequestStatus, Subject};
use super::status::{NhsReferralRecord, NhsStats, NhsTaskReason, NhsTaskStatus};
use crate::clock::{ClockConfig, RejectReason, Stage};
use crate::webhook::{EventReason, Progress, TaskState};

/// How many accepted message bodies are kept for [`crate::Sandbox::nhs_messages`].
const KEPT_MESSAGES: usize = 100;

/// One referral as the simulated service holds it.
#[derive(Debug, Clone)]
pub(crate) struct NhsReferral {
    pub task_id: String,
    pub service_request_id: String,
    pub patient_id: String,
    /// The X-Request-ID of the message that created it: the clock's key.
    pub request_id: String,
    pub identifiers: Vec<(Option<String>, String)>,
    pub service: &'static ServiceSeed,
    received: Instant,
    pub received_at: DateTime<Utc>,
    /// A status fixed on arrival, by a cancellation or by a test, with when it was set.
    fixed: Option<(NhsTaskStatus, Option<NhsTaskReason>, DateTime<Utc>)>,
    /// The ServiceRequest as stored (the sender's, with this receiver's ids).
    pub service_request: Value,
}

/// What a `$process-message` POST came to.
#[derive(Debug)]
pub(crate) enum PostOutcome {
    /// A new referral; its Task id.
    Created(String),
    /// An earlier referral, now cancelled; its Task id.
    Cancelled(String),
    /// The X-Request-ID (or an active ServiceRequest's identifier) was seen before.
    Duplicate,
    /// A cancellation of a referral that has already ended.
    Conflict,
    /// A cancellation of a referral this service does not hold.
    UnknownReferral,
    /// A cancellation whose `subject` names another Patient than the referral's.
    SubjectMismatch,
}

/// Every referral, every processed X-Request-ID, and the statistics.
#[derive(Debug)]
pub(crate) struct ReferralBook {
    referrals: Vec<NhsReferral>,
    request_ids: HashMap<String, usize>,
    messages: VecDeque<Value>,
    ids: fastrand::Rng,
    clock: ClockConfig,
    clock_seed: u64,
    pub stats: NhsStats,
}

impl ReferralBook {
    /// An empty book whose ids come from `id_seed`, its Tasks moved by `clock` with
    /// `clock_seed` (the sandbox seed, shared by every simulator's clock).
    pub(crate) fn new(id_seed: u64, clock: ClockConfig, clock_seed: u64) -> Self {
        Self {
            referrals: Vec::new(),
            request_ids: HashMap::new(),
            messages: VecDeque::new(),
            ids: fastrand::Rng::with_seed(id_seed),
            clock,
            clock_seed,
            stats: NhsStats::default(),
        }
    }

    /// A new UUID (version 4 layout) from the seeded stream.
    pub(crate) fn new_id(&mut self) -> String {
        let bits = self.ids.u128(..);
        let bits = (bits & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
        let hex = format!("{bits:032x}");
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }

    /// Handles a valid message for `service`, whose capacity is `capacity` right now.
    pub(crate) fn post(
        &mut self,
        request_id: &str,
        message: ReferralMessage,
        body: Value,
        service: &'static ServiceSeed,
        capacity: SeedCapacity,
    ) -> PostOutcome {
        if self.request_ids.contains_key(request_id) {
            return PostOutcome::Duplicate;
        }
        let earlier = self.referrals.iter().position(|r| {
            message.identifiers.iter().any(|id| r.identifiers.contains(id))
                || message.service_request_id.as_deref() == Some(r.service_request_id.as_str())
        });
        let outcome = match (message.status, earlier) {
            // The same referral sent again as a new message: already processed.
            (RequestStatus::Active, Some(_)) => return PostOutcome::Duplicate,
            (RequestStatus::Revoked, None) => return PostOutcome::UnknownReferral,
            (RequestStatus::Revoked, Some(index)) => {
                if let Subject::OnRecord(patient) = &message.subject {
                    if *patient != self.referrals[index].patient_id {
                        return PostOutcome::SubjectMismatch;
                    }
                }
                if self.status_of(index).0.is_final() {
                    return PostOutcome::Conflict;
                }
                let now = Utc::now();
                let reason = message.revoke_reason.unwrap_or(NhsTaskReason::RevokedByRequester);
                let referral = &mut self.referrals[index];
                referral.fixed = Some((NhsTaskStatus::Cancelled, Some(reason), now));
                // The BaRS way: the update revokes the ServiceRequest itself.
                referral.service_request["status"] = Value::String("revoked".into());
                referral.service_request["meta"] =
                    serde_json::json!({"lastUpdated": super::resources::instant(now)});
                self.stats.referrals_cancelled += 1;
                self.request_ids.insert(request_id.to_string(), index);
                PostOutcome::Cancelled(referral.task_id.clone())
            }
            (RequestStatus::Active, None) => {
                let (task_id, sr_id, patient_id) = (self.new_id(), self.new_id(), self.new_id());
                let now = Utc::now();
                let mut stored = message.service_request;
                stored["id"] = Value::String(sr_id.clone());
                stored["subject"] =
                    serde_json::json!({"reference": format!("Patient/{patient_id}")});
                stored["meta"] = serde_json::json!({"lastUpdated": super::resources::instant(now)});
                // A full service says no at once rather than leaving the referrer waiting.
                let fixed = (capacity == SeedCapacity::NoCapacity).then_some((
                    NhsTaskStatus::Rejected,
                    Some(NhsTaskReason::NoCapacity),
                    now,
                ));
                self.referrals.push(NhsReferral {
                    task_id: task_id.clone(),
                    service_request_id: sr_id,
                    patient_id,
                    request_id: request_id.to_string(),
                    identifiers: message.identifiers,
                    service,
                    received: Instant::now(),
                    received_at: now,
                    fixed,
                    service_request: stored,
                });
                self.stats.referrals_created += 1;
                self.request_ids.insert(request_id.to_string(), self.referrals.len() - 1);
                PostOutcome::Created(task_id)
            }
        };
        if self.messages.len() == KEPT_MESSAGES {
            self.messages.pop_front();
        }
        self.messages.push_back(body);
        outcome
    }

    /// The message bodies accepted so far (the last hundred), oldest first.
    pub(crate) fn messages(&self) -> Vec<Value> {
        self.messages.iter().cloned().collect()
    }

    /// The referral whose Task has `task_id`.
    pub(crate) fn by_task(&self, task_id: &str) -> Option<usize> {
        self.referrals.iter().position(|r| r.task_id == task_id)
    }

    /// The referral whose ServiceRequest has `id`.
    pub(crate) fn by_service_request(&self, id: &str) -> Option<usize> {
        self.referrals.iter().position(|r| r.service_request_id == id)
    }

    /// Referrals whose ServiceRequest carries an identifier matching `(system, value)`
    /// (a `None` system matches any).
    pub(crate) fn by_identifier(&self, system: Option<&str>, value: &str) -> Vec<usize> {
        (0..self.referrals.len())
            .filter(|&i| {
                self.referrals[i]
                    .identifiers
                    .iter()
                    .any(|(s, v)| v == value && system.is_none_or(|sys| s.as_deref() == Some(sys)))
            })
            .collect()
    }

    /// The referral at `index`.
    pub(crate) fn referral(&self, index: usize) -> &NhsReferral {
        &self.referrals[index]
    }

    /// What the book holds of the referral whose Task has `task_id`.
    pub(crate) fn record(&self, task_id: &str) -> Option<NhsReferralRecord> {
        let index = self.by_task(task_id)?;
        let (task_status, task_reason, _) = self.status_of(index);
        let stored = &self.referrals[index].service_request;
        Some(NhsReferralRecord {
            task_status,
            task_reason,
            service_request_status: stored["status"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Fixes a Task's status, as the service would; `false` if there is no such Task.
    pub(crate) fn set_status(
        &mut self,
        task_id: &str,
        status: NhsTaskStatus,
        reason: Option<NhsTaskReason>,
    ) -> bool {
        let Some(index) = self.by_task(task_id) else {
            return false;
        };
        self.referrals[index].fixed = Some((status, reason, Utc::now()));
        true
    }

    /// Where every referral stands now, as referral events tell it (by Task id).
    pub(crate) fn progress(&self) -> Vec<Progress> {
        (0..self.referrals.len())
            .map(|index| {
                let referral = &self.referrals[index];
                let (status, reason, changed_at) = self.status_of(index);
                let state = match status {
                    NhsTaskStatus::Requested => TaskState::Requested,
                    NhsTaskStatus::Accepted => TaskState::Accepted,
                    NhsTaskStatus::Rejected => TaskState::Rejected,
                    // On hold is care paused, not ended: still under way for the referrer.
                    NhsTaskStatus::InProgress | NhsTaskStatus::OnHold => TaskState::InProgress,
                    NhsTaskStatus::Completed => TaskState::Completed,
                    NhsTaskStatus::Failed => TaskState::Failed,
                    NhsTaskStatus::Cancelled => TaskState::Cancelled,
                };
                let reason = reason.filter(|_| status != NhsTaskStatus::OnHold).map(|r| match r {
                    NhsTaskReason::NoCapacity => EventReason::NoCapacity,
                    NhsTaskReason::NotEligible => EventReason::NotEligible,
                    NhsTaskReason::OutOfArea => EventReason::OutOfArea,
                    NhsTaskReason::CouldNotContact => EventReason::CouldNotContact,
                    NhsTaskReason::MissingInformation => EventReason::MissingInformation,
                    NhsTaskReason::NoLongerInterested => EventReason::NoLongerInterested,
                    NhsTaskReason::RevokedByRequester | NhsTaskReason::Other => EventReason::Other,
                });
                Progress {
                    reference: referral.task_id.clone(),
                    state,
                    reason,
                    received_at: referral.received_at,
                    changed_at,
                    area: Some(referral.service.area),
                }
            })
            .collect()
    }

    /// The Task status of the referral at `index` now, its reason, and when it last changed.
    pub(crate) fn status_of(
        &self,
        index: usize,
    ) -> (NhsTaskStatus, Option<NhsTaskReason>, DateTime<Utc>) {
        let referral = &self.referrals[index];
        if let Some(fixed) = referral.fixed {
            return fixed;
        }
        let clock = &self.clock;
        let stage = clock.stage(self.clock_seed, &referral.request_id, referral.received.elapsed());
        let (status, reason, steps) = match stage {
            Stage::Received => (NhsTaskStatus::Requested, None, 0),
            Stage::Accepted => (NhsTaskStatus::Accepted, None, 1),
            Stage::InProgress => (NhsTaskStatus::InProgress, None, 2),
            Stage::Completed => (NhsTaskStatus::Completed, None, 3),
            Stage::Rejected(why) => {
                let reason = match why {
                    RejectReason::NoCapacity => NhsTaskReason::NoCapacity,
                    RejectReason::NotEligible => NhsTaskReason::NotEligible,
                    RejectReason::CouldNotContact => NhsTaskReason::CouldNotContact,
                };
                (NhsTaskStatus::Rejected, Some(reason), 1)
            }
        };
        let moved = Duration::from_millis(clock.step_ms.saturating_mul(steps));
        let changed = chrono::Duration::from_std(moved)
            .ok()
            .and_then(|d| referral.received_at.checked_add_signed(d))
            .unwrap_or(referral.received_at);
        (status, reason, changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nhs::data;

    fn message(identifier: &str, status: RequestStatus) -> ReferralMessage {
        ReferralMessage {
            bundle_id: None,
            source_endpoint: "urn:test".into(),
            status,
            service_request_id: None,
            identifiers: vec![(Some("urn:ietf:rfc:3986".into()), identifier.into())],
            service_request: serde_json::json!({"resourceType": "ServiceRequest"}),
            subject: Subject::InBundle,
            revoke_reason: None,
        }
    }

    fn service() -> &'static ServiceSeed {
        data::by_dos_id("2000100001").unwrap()
    }

    fn book(seed: u64, step_ms: u64) -> ReferralBook {
        ReferralBook::new(seed, ClockConfig { step_ms, reject_rate: 0.0 }, 9)
    }

    #[test]
    fn ids_are_version_4_uuids_and_repeat_for_a_seed() {
        let (mut a, mut b) = (book(3, 0), book(3, 0));
        let id = a.new_id();
        assert!(crate::nhs::headers::is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(id, b.new_id());
    }

    #[test]
    fn a_repeated_request_id_or_identifier_is_a_duplicate_and_revoked_cancels_once() {
        let mut book = book(1, 0);
        let body = serde_json::json!({});
        let cap = SeedCapacity::Capacity;
        let created = book.post(
            "r1",
            message("urn:uuid:a", RequestStatus::Active),
            body.clone(),
            service(),
            cap,
        );
        assert!(matches!(created, PostOutcome::Created(_)));
        let again = book.post(
            "r1",
            message("urn:uuid:a", RequestStatus::Active),
            body.clone(),
            service(),
            cap,
        );
        assert!(matches!(again, PostOutcome::Duplicate));
        let resent = book.post(
            "r2",
            message("urn:uuid:a", RequestStatus::Active),
            body.clone(),
            service(),
            cap,
        );
        assert!(matches!(resent, PostOutcome::Duplicate));
        let cancel = book.post(
            "r3",
            message("urn:uuid:a", RequestStatus::Revoked),
            body.clone(),
            service(),
            cap,
        );
        assert!(matches!(cancel, PostOutcome::Cancelled(_)));
        let late = book.post(
            "r4",
            message("urn:uuid:a", RequestStatus::Revoked),
            body.clone(),
            service(),
            cap,
        );
        assert!(matches!(late, PostOutcome::Conflict));
        let unknown =
            book.post("r5", message("urn:uuid:b", RequestStatus::Revoked), body, service(), cap);
        assert!(matches!(unknown, PostOutcome::UnknownReferral));
        assert_eq!((book.stats.referrals_created, book.stats.referrals_cancelled), (1, 1));
        let (status, reason, _) = book.status_of(0);
        assert_eq!(
            (status, reason),
            (NhsTaskStatus::Cancelled, Some(NhsTaskReason::RevokedByRequester))
        );
    }

    #[test]
    fn a_revoke_may_name_the_patient_on_record_say_why_and_revokes_the_stored_request() {
        let mut book = book(1, 0);
        let (body, cap) = (serde_json::json!({}), SeedCapacity::Capacity);
        let active = message("urn:uuid:a", RequestStatus::Active);
        assert!(matches!(
            book.post("r1", active, body.clone(), service(), cap),
            PostOutcome::Created(_)
        ));
        let patient = book.referral(0).patient_id.clone();
        let mut stranger = message("urn:uuid:a", RequestStatus::Revoked);
        stranger.subject = Subject::OnRecord("someone-else".into());
        let refused = book.post("r2", stranger, body.clone(), service(), cap);
        assert!(matches!(refused, PostOutcome::SubjectMismatch));
        assert_eq!(book.status_of(0).0, NhsTaskStatus::Requested, "nothing changed");
        let mut revoke = message("urn:uuid:a", RequestStatus::Revoked);
        revoke.subject = Subject::OnRecord(patient);
        revoke.revoke_reason = Some(NhsTaskReason::NoLongerInterested);
        let cancelled = book.post("r3", revoke, body, service(), cap);
        assert!(matches!(cancelled, PostOutcome::Cancelled(_)));
        let (status, reason, _) = book.status_of(0);
        assert_eq!(
            (status, reason),
            (NhsTaskStatus::Cancelled, Some(NhsTaskReason::NoLongerInterested))
        );
        assert_eq!(book.referral(0).service_request["status"], "revoked");
    }

    #[test]
    fn a_full_service_rejects_on_arrival_and_the_clock_moves_the_rest() {
        let mut book = book(1, 1);
        let (body, msg) = (serde_json::json!({}), message);
        let full = book.post(
            "r1",
            msg("urn:uuid:a", RequestStatus::Active),
            body.clone(),
            service(),
            SeedCapacity::NoCapacity,
        );
        assert!(matches!(full, PostOutcome::Created(_)));
        assert_eq!(book.status_of(0).1, Some(NhsTaskReason::NoCapacity));
        book.post(
            "r2",
            msg("urn:uuid:b", RequestStatus::Active),
            body,
            service(),
            SeedCapacity::Capacity,
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(book.status_of(1).0, NhsTaskStatus::Completed);
        assert!(book.set_status(&book.referral(1).task_id.clone(), NhsTaskStatus::OnHold, None));
        assert_eq!(book.status_of(1).0, NhsTaskStatus::OnHold);
    }
}
