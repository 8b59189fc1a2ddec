//! The [`Store`] trait: everything the daemon and the dispatcher keep, behind one interface
//! that SQLite and PostgreSQL both implement and one test suite checks.
//!
//! Times that decide what happens next (leases, backoff, when a state began, report ranges)
//! are passed in, so tests and simulations can drive the clock; times that only stamp a row
//! (a case stored, a plan stored) come from the system clock.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pathways_core::{ActionPlan, Case, TaskState};

use crate::accounts::{
    AccountStatus, AttentionReferral, CaseSummary, NewSession, NewUser, StoredSession, StoredUser,
    UserId,
};
use crate::audit::{AuditEntry, AuditFilter, AuditRecord};
use crate::cancel::{CancelItem, CancelOrder, CancelOutcome, CancelRequested};
use crate::erasure::{Erasure, ErasureReason, LegalHold, ResealProgress};
use crate::error::StoreError;
use crate::idempotency::{IdempotencyOutcome, StoredResponse};
use crate::ids::{CaseId, OutboxItemId, ReferralId};
use crate::inbox::PartnerCapacity;
use crate::lanes::{OpenReferral, PartnerRoom};
use crate::records::{StoredCase, StoredPlan};
use crate::referral::{
    DispatchOutcome, NewReferral, OutboxItem, PartnerEvent, StatusChange, StoredReferral,
    StuckReferral,
};
use crate::stats::{PathwayStatsRow, UnmetNeedRow};

/// Durable storage of cases, plans, audit, idempotency records, referrals and the outbox, and
/// of the web console's users and sessions.
///
/// Every method is atomic: it either happens completely or not at all. Implementations are
/// cheap to share (`Arc<dyn Store>`) and safe to call from many tasks at once.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Transactions committed, and the writes they carried, since the store was opened — for a
    /// backend that groups writes into commits itself (SQLite's group commit), so an operator
    /// can see the batch size; `None` for one that does not (PostgreSQL).
    fn commit_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Writes a consistent copy of the database to `path`, a new file readable by its owner
    /// only (`0600`), while the store serves. Its personal data stays sealed: the copy is
    /// readable only with the data keys. [`StoreError::BackupUnsupported`] for a backend
    /// whose own tools do this better (PostgreSQL: `pg_dump`).
    async fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        let _ = path;
        Err(StoreError::BackupUnsupported { backend: self.backend() })
    }

    /// Stores a new case for `organisation` and returns the id the store gave it. Its
    /// council area (the client's local authority code) is kept plain for the statistics.
    async fn insert_case(&self, organisation: &str, case: &Case) -> Result<CaseId, StoreError>;

    /// The case with this id, if there is one and it has not been erased.
    async fn get_case(&self, id: &CaseId) -> Result<Option<StoredCase>, StoreError>;

    /// Records a follow-up with the client of a case (sealed). `false` for an unknown or
    /// erased case.
    async fn insert_follow_up(
        &self,
        case_id: &CaseId,
        follow_up: &pathways_core::FollowUp,
    ) -> Result<bool, StoreError>;

    /// The follow-ups of one case, oldest first.
    async fn follow_ups_of_case(
        &self,
        case_id: &CaseId,
    ) -> Result<Vec<pathways_core::FollowUp>, StoreError>;

    /// The follow-ups recorded in `[from, to)` with their cases, of `organisation`'s cases
    /// (every organisation's for `None`), oldest first, at most `limit`.
    async fn follow_ups_between(
        &self,
        organisation: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(CaseId, pathways_core::FollowUp)>, StoreError>;

    /// Makes `schedule` its organisation's follow-up schedule, replacing what was set before.
    async fn set_follow_up_schedule(
        &self,
        schedule: &crate::FollowUpSchedule,
    ) -> Result<(), StoreError>;

    /// The follow-up schedule `organisation`'s coordinators set, if they ever did.
    async fn follow_up_schedule(
        &self,
        organisation: &str,
    ) -> Result<Option<crate::FollowUpSchedule>, StoreError>;

    /// `organisation`'s cases (not erased) due a follow-up by `now` under a schedule of
    /// `after_days`: no referral still under way, one at least completed, the last ended on or
    /// before `now - after_days`, and no follow-up recorded since it ended. The longest
    /// waiting first, at most `limit`. Read from plain columns, never opening a sealed value.
    async fn follow_ups_due(
        &self,
        organisation: &str,
        after_days: u32,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<crate::FollowUpDue>, StoreError>;

    /// Makes `consent` the case's consent, keeping the one it replaces at the end of
    /// [`StoredCase::consent_history`], in one transaction (two changes at once are applied
    /// one after the other, neither lost). `None` for an unknown or erased case.
    async fn replace_consent(
        &self,
        id: &CaseId,
        consent: &pathways_core::Consent,
    ) -> Result<Option<StoredCase>, StoreError>;

    /// Stores a plan for a case; the newest plan is the case's plan. Fails with
    /// [`StoreError::UnknownCase`] when the case does not exist. In the same transaction,
    /// the plan's unmet needs replace the case's in the statistics
    /// ([`unmet_needs`](Store::unmet_needs)).
    async fn insert_plan(
        &self,
        case_id: &CaseId,
        plan: &ActionPlan,
        basis: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// The newest plan of a case, if it has one.
    async fn latest_plan(&self, case_id: &CaseId) -> Result<Option<StoredPlan>, StoreError>;

    /// Every plan of a case, oldest first (for the subject access export).
    async fn plans_of_case(&self, case_id: &CaseId) -> Result<Vec<StoredPlan>, StoreError>;

    /// Appends an entry to the audit log after [`AuditEntry::validate`]. Entries are never
    /// changed or removed.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Audit entries matching `filter`, oldest first.
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;

    /// Claims `(scope, key)` for a request whose body hashes to `fingerprint`, atomically:
    /// of concurrent callers with the same key exactly one gets `Started` (or `TakenOver`,
    /// when the key's claim began more than `stale_after` ago, by the database's clock, and
    /// never finished). See [`IdempotencyOutcome`] for the others.
    async fn begin_idempotent(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        stale_after: Duration,
    ) -> Result<IdempotencyOutcome, StoreError>;

    /// Records the response of a request that got `Started` or `TakenOver`, for replay to
    /// repeats.
    async fn complete_idempotent(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;

    /// Releases a key whose request failed before changing anything, so the client can retry.
    /// Does nothing to a completed key.
    async fn abandon_idempotent(&self, scope: &str, key: &str) -> Result<(), StoreError>;

    /// Creates referrals for a case, each in state `draft` with a pending outbox row due at
    /// `now`, all in one transaction: if any fails (e.g. [`StoreError::DuplicateReferral`],
    /// [`StoreError::UnknownCase`]) none is written. Returns their ids in input order.
    ///
    /// A plan step (case, need, partner, service) has at most one live referral (not yet
    /// rejected, failed, cancelled, completed or entered in error): another for it fails with
    /// [`StoreError::StepHasLiveReferral`] naming the live one. The database enforces this (a
    /// unique partial index), so concurrent requests, in this daemon or another, cannot both
    /// pass.
    async fn create_referrals(
        &self,
        case_id: &CaseId,
        referrals: Vec<NewReferral>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReferralId>, StoreError>;

    /// Claims up to `limit` due outbox rows for `worker_id` until `now + lease` (at most a
    /// day), oldest due first. A row is due when pending, its `not_before` has come, and it is
    /// unclaimed or its lease has run out (its dispatcher died or stalled). Concurrent
    /// claimers, in this process or another, never receive the same row while its lease runs.
    async fn claim_outbox(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Returns at once the leases a previous run left behind, where the store is one daemon's
    /// alone (SQLite, while `pathways serve` holds its lock file): they belong to a process that
    /// is gone, so waiting out `lease_ms` only delays the referrals. A claim already counted
    /// its attempt, so a referral whose sends kill the daemon still runs out of attempts.
    /// Elsewhere (PostgreSQL, shared by several daemons) leases lapse by time; this does
    /// nothing. Returns how many were taken back.
    async fn take_back_leases(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Ends `worker_id`'s attempt on a claimed row (see [`DispatchOutcome`]). Returns `false`
    /// and changes nothing when the worker no longer holds the row: its lease ran out and
    /// another worker claimed it, or the row is finished already.
    async fn finish_outbox(
        &self,
        item: OutboxItemId,
        worker_id: &str,
        outcome: DispatchOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records the referring side's order to cancel a referral (see [`crate::CancelOrder`]).
    /// A referral still queued and not being sent now is withdrawn at once, in the same
    /// transaction ([`CancelRequested::Withdrawn`]): nothing reaches the partner. One being
    /// sent, or already delivered, gets a cancel for the dispatcher to send
    /// ([`CancelRequested::Queued`]), not before a send in flight has finished. A second order
    /// changes nothing ([`CancelRequested::Already`]); a referral in a final state has nothing
    /// to cancel ([`CancelRequested::Final`]). `None` for an unknown referral.
    async fn request_cancel(
        &self,
        referral_id: &ReferralId,
        order: &CancelOrder,
        now: DateTime<Utc>,
    ) -> Result<Option<CancelRequested>, StoreError>;

    /// Claims up to `limit` due cancels that need the partner, under a lease as
    /// [`claim_outbox`](Self::claim_outbox) does. Settles on the way, without the partner, a
    /// cancel whose referral went back to the queue (withdrawn after all) or reached a final
    /// state meanwhile.
    async fn claim_cancels(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<CancelItem>, StoreError>;

    /// Ends `worker_id`'s attempt at a claimed cancel (see [`CancelOutcome`]); `false` when
    /// the worker no longer holds it.
    async fn finish_cancel(
        &self,
        referral_id: &ReferralId,
        worker_id: &str,
        outcome: CancelOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Records a status change of a referral, appending it to the history and making it the
    /// current state. Returns `false` and records nothing for a repeat (same state and reason
    /// as now, as polling and callbacks both report) or a stale report (older than the
    /// current state). Fails with [`StoreError::UnknownReferral`] for an unknown id.
    async fn record_referral_status(
        &self,
        referral_id: &ReferralId,
        change: &StatusChange,
    ) -> Result<bool, StoreError>;

    /// A referral with its history and dispatch state, if there is one.
    async fn get_referral(&self, id: &ReferralId) -> Result<Option<StoredReferral>, StoreError>;

    /// Every referral of a case, oldest first.
    async fn referrals_of_case(&self, case_id: &CaseId) -> Result<Vec<StoredReferral>, StoreError>;

    /// The referral sent with this idempotency key, if there is one.
    async fn find_referral_by_key(&self, key: &str) -> Result<Option<ReferralId>, StoreError>;

    /// The referral `partner_id` acknowledged with `reference`, if there is one: how a
    /// partner's callback names a referral. Another partner's reference finds nothing.
    async fn find_referral_by_partner_reference(
        &self,
        partner_id: &str,
        reference: &str,
    ) -> Result<Option<ReferralId>, StoreError>;

    /// The referrals delivered to partner `partner_id` (a partner organisation's staff see
    /// these in the console), newest first, at most `limit`; none of an erased case.
    async fn referrals_sent_to(
        &self,
        partner_id: &str,
        limit: u32,
    ) -> Result<Vec<ReferralId>, StoreError>;

    /// Outbox rows still pending (waiting to be sent or re-sent), for the metrics.
    async fn outbox_depth(&self) -> Result<u64, StoreError>;

    /// Records a partner's callback in one transaction: remembers its `webhook-id` and applies
    /// its status change (as [`record_referral_status`](Store::record_referral_status) does).
    /// A `webhook-id` this partner sent before is a [`PartnerEvent::Replay`] and changes
    /// nothing. When recording fails, the id is not remembered either, so the partner's retry
    /// of the same callback is processed rather than refused as a replay.
    async fn record_partner_event(
        &self,
        partner_id: &str,
        webhook_id: &str,
        referral_id: &ReferralId,
        change: &StatusChange,
    ) -> Result<PartnerEvent, StoreError>;

    /// Referrals that entered `state` at or after `since` and are still in it, oldest change
    /// first, at most `limit`: what has happened since a watcher last looked (e.g. referrals
    /// rejected since then, to propose a re-route). Page on by the last `since` returned.
    async fn referrals_entered(
        &self,
        state: TaskState,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<StuckReferral>, StoreError>;

    /// Referrals in `state` since before `before`, longest waiting first, at most `limit`:
    /// e.g. `requested` for three days, for the pathfinder to chase.
    async fn referrals_stuck(
        &self,
        state: TaskState,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<StuckReferral>, StoreError>;

    /// Per partner and need, the fate of referrals delivered in `[from, to)` (definitions in
    /// [`PathwayStatsRow`]'s module), of the cases of `organisation` (all cases when `None`).
    /// Ordered by partner, then need.
    async fn pathway_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        organisation: Option<&str>,
    ) -> Result<Vec<PathwayStatsRow>, StoreError>;

    /// Unmet needs of the newest plans made in `[from, to)`, by need and area, most first;
    /// only `organisation`'s cases, or every organisation's when `None` (the operator's admins).
    ///
    /// A case counts once for each need its newest plan marks `unmet`, when that plan was
    /// stored in the period: a newer plan replaces what the older one counted, so a need met
    /// since no longer counts. Erased cases still count, with their area. Ties are ordered by
    /// need (in the canonical order of [`NeedCode::ALL`](pathways_core::NeedCode::ALL)), then
    /// area. Read from plain columns (see [`UnmetNeedRow`]), never opening a sealed value, by
    /// an index on the plans' time.
    async fn unmet_needs(
        &self,
        organisation: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<UnmetNeedRow>, StoreError>;

    /// Erases the personal data of a case from every table, in one transaction (see
    /// [`crate::erasure`]): [`StoreError::UnknownCase`] when there is no such case or it is
    /// erased already, [`StoreError::LegalHold`] when a hold stands (then nothing changes).
    async fn erase_case(
        &self,
        case_id: &CaseId,
        reason: ErasureReason,
        now: DateTime<Utc>,
    ) -> Result<Erasure, StoreError>;

    /// Sets (`Some`) or lifts (`None`) a legal hold on a case; [`StoreError::UnknownCase`]
    /// for an unknown or erased case.
    async fn set_legal_hold(
        &self,
        case_id: &CaseId,
        hold: Option<LegalHold>,
    ) -> Result<(), StoreError>;

    /// Cases due for erasure: not erased, not held, with no live referral, and nothing
    /// happened to them (created, planned, a referral's last change) since before `before`.
    /// Oldest first, at most `limit`.
    async fn cases_due_for_erasure(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<CaseId>, StoreError>;

    /// Re-seals up to `batch` stored values that are not sealed under the current data key
    /// (sealed under an older one, or written before sealing), each in its own small
    /// transaction, and says how many remain. Safe while the daemon serves.
    async fn reseal(&self, batch: u32) -> Result<ResealProgress, StoreError>;

    /// Checks that `keys` can open what is stored: every key id in use is among them and
    /// opens a value sealed under it. The store runs this when it opens; a reload runs it
    /// before [`replace_data_keys`](Store::replace_data_keys). Fails with
    /// [`StoreError::Sealed`] naming the row and the key.
    async fn verify_data_keys(&self, keys: &crate::seal::DataKeys) -> Result<(), StoreError>;

    /// Replaces the data keys (a configuration reload): values are sealed with the new
    /// current key from now on, and opened with any of the new keys.
    fn replace_data_keys(&self, keys: crate::seal::DataKeys);

    // The web console: users, setup links, sign-in failures, sessions, and the case list.

    /// Creates a console user, [`AccountStatus::Invited`] with no password, and returns the
    /// id the store gave it. The address and the name are sealed; an address another user has
    /// already (compared trimmed and lower-cased) is refused with
    /// [`StoreError::DuplicateUser`] and nothing is written.
    async fn insert_user(&self, user: &NewUser, now: DateTime<Utc>) -> Result<UserId, StoreError>;

    /// The user with this id, if there is one.
    async fn get_user(&self, id: &UserId) -> Result<Option<StoredUser>, StoreError>;

    /// The user who signs in with this address (compared trimmed and lower-cased), if any.
    async fn user_by_email(&self, email: &str) -> Result<Option<StoredUser>, StoreError>;

    /// The user linked to this identity provider issuer and subject (as the console composed
    /// it for [`set_oidc_subject`](Store::set_oidc_subject)), if any.
    async fn user_by_oidc_subject(
        &self,
        issuer_subject: &str,
    ) -> Result<Option<StoredUser>, StoreError>;

    /// Every user of `organisation`, whatever their status, oldest account first.
    async fn users_of_organisation(
        &self,
        organisation: &str,
    ) -> Result<Vec<StoredUser>, StoreError>;

    /// Sets a user's status; `false` when there is no such user. Disabling also ends the
    /// user's sessions and voids their setup links in the same transaction, so a disabled
    /// user is signed out everywhere at once and no pending link can bring the account back.
    async fn set_user_status(&self, id: &UserId, status: AccountStatus)
        -> Result<bool, StoreError>;

    /// Sets a user's password hash (the console's own format), makes the account
    /// [`AccountStatus::Active`], clears failed sign-ins and any lock, and, in the same
    /// transaction, voids the user's setup links and ends all their sessions: a reset signs
    /// the person out everywhere. `false` when there is no such user.
    async fn set_password(
        &self,
        id: &UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Links a user to an identity provider issuer and subject (`Some`) or unlinks them
    /// (`None`); `false` when there is no such user. A subject linked to another user is
    /// refused with [`StoreError::DuplicateUser`].
    async fn set_oidc_subject(
        &self,
        id: &UserId,
        issuer_subject: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Stores a one-time setup link for a user, by the hash of its secret, valid until
    /// `expires_at`; the user's older links stop working (one link per user at a time).
    /// [`StoreError::UnknownUser`] when there is no such user.
    async fn create_setup_token(
        &self,
        user_id: &UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Uses up a setup link: when it exists and has not expired at `now`, removes it and
    /// returns its user, atomically (of concurrent callers, in this daemon or another, one
    /// at most gets the user). An expired link gives `None`; it, and every other link expired
    /// by `now`, is removed.
    async fn take_setup_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError>;

    /// The user of a setup link that exists and has not expired at `now`, without using it
    /// up (for showing the form that will).
    async fn peek_setup_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError>;

    /// Counts a failed sign-in and returns the user's failures since the last success. Once
    /// they reach `lock_after` (0: never), every failure locks the account until
    /// `now + lock_for`. [`StoreError::UnknownUser`] when there is no such user. Atomic, so
    /// concurrent failures, in this daemon or another, are all counted.
    async fn record_sign_in_failure(
        &self,
        id: &UserId,
        now: DateTime<Utc>,
        lock_after: u32,
        lock_for: Duration,
    ) -> Result<u32, StoreError>;

    /// Forgets a user's failed sign-ins and any lock (after a successful sign-in); `false`
    /// when there is no such user.
    async fn clear_sign_in_failures(&self, id: &UserId) -> Result<bool, StoreError>;

    /// Stores a new session, last seen at its `created_at`. `false`, and nothing stored, when
    /// its user does not exist or is disabled: a sign-in racing the user's disabling either
    /// finishes first (and the disabling ends the session) or makes no session.
    async fn insert_session(&self, session: &NewSession) -> Result<bool, StoreError>;

    /// The session with this hash, as stored, expired or not: the caller judges
    /// [`StoredSession::expires_at`] and its own idle timeout against
    /// [`StoredSession::last_seen_at`]. Every daemon sharing the database sees it.
    async fn get_session(&self, id_hash: &str) -> Result<Option<StoredSession>, StoreError>;

    /// Marks a session used at `now` (never moving it back, should daemons' clocks differ);
    /// `false` when there is no such session.
    async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Ends a session (signing out); `false` when there was no such session.
    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError>;

    /// Ends every session whose absolute expiry has come by `now`, or that was last seen more
    /// than `idle` before `now`; returns how many.
    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: Duration,
    ) -> Result<u64, StoreError>;

    /// The case list of `organisation`: its cases not erased, newest first, at most `limit`;
    /// with `reference`, only those whose reference is that one (trimmed, compared without
    /// regard to case: the database's `lower()`, which on SQLite folds ASCII letters only).
    /// Read from plain columns and counts, never opening a sealed value, by an index in that
    /// order, so its cost does not grow with the number of cases.
    async fn case_summaries(
        &self,
        organisation: &str,
        reference: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CaseSummary>, StoreError>;

    /// The referrals of `organisation`'s cases (not erased) that a pathfinder should look at:
    /// rejected or failed, or requested since before `older_than` and still unanswered. The
    /// most recent change first, at most `limit`.
    async fn referrals_needing_attention(
        &self,
        organisation: &str,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AttentionReferral>, StoreError>;

    // Partners without an API (kind `inbox`), whose staff answer in the console.

    /// Makes `capacity` its partner's capacity, replacing what its staff set before.
    async fn set_partner_capacity(&self, capacity: &PartnerCapacity) -> Result<(), StoreError>;

    /// The capacity `partner_id`'s staff last set, if they ever did.
    async fn partner_capacity(
        &self,
        partner_id: &str,
    ) -> Result<Option<PartnerCapacity>, StoreError>;

    // The dispatcher's per-partner lanes (see [`crate::lanes`]).

    /// [`claim_outbox`](Self::claim_outbox) within each partner's `room`: at most that many of
    /// a partner's rows (none of a partner with no room, whose rows stay unclaimed, unleased
    /// and unspent for a later claim), any number of a partner `room` does not name. Oldest
    /// due first among the rows that fit.
    async fn claim_outbox_within(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
        room: &PartnerRoom,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// [`claim_cancels`](Self::claim_cancels) within each partner's `room`, as
    /// [`claim_outbox_within`](Self::claim_outbox_within) (cancels that settle without the
    /// partner are settled whatever its room).
    async fn claim_cancels_within(
        &self,
        worker_id: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
        room: &PartnerRoom,
    ) -> Result<Vec<CancelItem>, StoreError>;

    /// Moves the due, unclaimed outbox rows of `partner_id`, all but its `keep` oldest, to
    /// `until` (their `not_before`), without claiming them or spending an attempt: a
    /// dispatcher whose lane to the partner is stalled (a hung partner) takes that partner's
    /// backlog out of the way of every other partner's claims, while its oldest rows stay due
    /// for when the lane frees. Returns how many rows moved.
    async fn defer_outbox(
        &self,
        partner_id: &str,
        keep: u32,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Gives back `worker_id`'s claim on an outbox row whose partner was not called (its
    /// circuit open, its lane full): the attempt the claim counted is not spent, the row is
    /// due again at `not_before`, and `last_error` says why. `false` (nothing changed) when the
    /// worker no longer holds the row.
    async fn release_outbox(
        &self,
        item: OutboxItemId,
        worker_id: &str,
        not_before: DateTime<Utc>,
        last_error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The same for a claimed cancel.
    async fn release_cancel(
        &self,
        referral_id: &ReferralId,
        worker_id: &str,
        not_before: DateTime<Utc>,
        last_error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Up to `limit` delivered referrals whose partner may still change them (requested,
    /// accepted, in progress, on hold), ordered by id, after the id `after` (from the first
    /// when `None`): a keyset cursor, so paging with the last id of each page lists every
    /// open referral once, however many there are. Reads plain columns only.
    async fn open_referrals_after(
        &self,
        after: Option<&ReferralId>,
        limit: u32,
    ) -> Result<Vec<OpenReferral>, StoreError>;
}
