//! The built-in partner kind `inbox`: a partner without an API (a befriending scheme, a lunch
//! club, a domestic-abuse charity) whose staff answer referrals in the web console.
//!
//! Configured like any partner, with `kind = "inbox"` instead of `plugin = "…"` and no plugin
//! library. It is an ordinary [`Partner`] to the orchestrator and the dispatcher:
//! - availability comes from its configured services and the capacity its staff last set in
//!   the console (places free, a waiting list, closed), kept in the store;
//! - a referral sent to it is already in the store, so sending stores nothing more: the
//!   receipt's reference is the referral's own id, and an email notice (no personal data,
//!   a link) goes to `notify_email` when one is configured;
//! - its status is whatever its staff last set, read from the store;
//! - a cancel is recorded here and shows to its staff as cancelled.
//!
//! What its staff may do to a referral, and from which state, is [`transitions`].

mod email;
mod settings;
pub mod transitions;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use pathways_core::{
    parse_wait_days, Availability, AvailabilityQuery, CancelRequest, Capability, Capacity,
    Eligibility, Health, HealthStatus, Manifest, Offer, Partner, PartnerError, PartnerErrorKind,
    PartnerKind, Referral, ReferralReceipt, ReferralRef, ReferralStatus, Route, TaskState,
};
use pathways_store::{CapacityState, PartnerCapacity, ReferralId, Store, StoredReferral};

pub use email::{notice_text, EmailError, EmailSettings, Mailer, TlsMode};
pub use settings::{InboxSettings, ServiceSettings, SettingsError};

/// The manifest's `plugin` of every inbox partner: how the rest of pathways tells one apart.
pub const PLUGIN: &str = "inbox";

/// Whether `manifest` is an inbox partner's.
pub fn is_inbox(manifest: &Manifest) -> bool {
    manifest.plugin == PLUGIN && manifest.build.is_none()
}

/// An inbox partner.
pub struct InboxPartner {
    id: String,
    manifest: Manifest,
    settings: InboxSettings,
    store: Option<Arc<dyn Store>>,
    mailer: Option<Mailer>,
}

impl std::fmt::Debug for InboxPartner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxPartner")
            .field("id", &self.id)
            .field("store", &self.store.as_ref().map(|s| s.backend()))
            .field("notifies", &(self.mailer.is_some() && self.settings.notify_email.is_some()))
            .finish_non_exhaustive()
    }
}

impl InboxPartner {
    /// Partner `id` with `settings` (its `[partners.settings]`, checked strictly).
    ///
    /// Without a `store` (a command that plans but does not serve) it answers availability
    /// from its services alone, its capacity unknown, and cannot take referrals. Without a
    /// `mailer` it sends no notices.
    pub fn new(
        id: &str,
        settings: &serde_json::Value,
        store: Option<Arc<dyn Store>>,
        mailer: Option<Mailer>,
    ) -> Result<Self, SettingsError> {
        let settings = InboxSettings::from_json(settings)?;
        let manifest = Manifest {
            plugin: PLUGIN.into(),
            kind: PartnerKind::Voluntary,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A partner without an API: its staff answer referrals in the console"
                .into(),
            needs: settings.needs.clone(),
            areas: Vec::new(),
            shares: settings.shares.clone(),
            capabilities: vec![
                Capability::Availability,
                Capability::Referral,
                Capability::Status,
                Capability::Cancel,
            ],
            requires: Vec::new(),
            settings_schema: serde_json::Value::Null,
            build: None,
        };
        Ok(Self { id: id.to_string(), manifest, settings, store, mailer })
    }

    /// Its settings.
    pub fn settings(&self) -> &InboxSettings {
        &self.settings
    }

    fn store(&self) -> Result<&Arc<dyn Store>, PartnerError> {
        self.store.as_ref().ok_or_else(|| {
            PartnerError::new(
                PartnerErrorKind::Unavailable,
                "an inbox partner takes referrals only in `pathways serve`, beside its store",
            )
        })
    }

    /// The stored referral `reference` names: by our idempotency key, which is this
    /// partner's own.
    async fn stored(&self, reference: &ReferralRef) -> Result<StoredReferral, PartnerError> {
        let store = self.store()?;
        let id = match ReferralId::parse(&reference.partner_reference) {
            Some(id) => Some(id),
            None => {
                store.find_referral_by_key(&reference.idempotency_key).await.map_err(store_error)?
            }
        };
        let found = match id {
            Some(id) => store.get_referral(&id).await.map_err(store_error)?,
            None => None,
        };
        match found {
            Some(referral) if referral.partner_id == self.id => Ok(referral),
            _ => {
                Err(PartnerError::invalid_request("no referral of this partner has this reference"))
            }
        }
    }

    /// The capacity its staff set, or `None` when never set or the store cannot say.
    async fn capacity(&self) -> Option<PartnerCapacity> {
        let store = self.store.as_ref()?;
        match store.partner_capacity(&self.id).await {
            Ok(capacity) => capacity,
            Err(e) => {
                tracing::warn!(partner = %self.id, error = %e, "cannot read an inbox partner's capacity");
                None
            }
        }
    }
}

/// A store failure, as a partner error worth retrying.
fn store_error(error: pathways_store::StoreError) -> PartnerError {
    PartnerError::transient(format!("the store did not answer: {error}"), None)
}

/// What the staff's capacity means for an offer: the capacity, the wait in words, and the
/// first day a client could start when the words say (`today` plus the wait).
pub fn offer_capacity(
    capacity: Option<&PartnerCapacity>,
) -> (Capacity, Option<String>, Option<u32>) {
    let Some(capacity) = capacity else { return (Capacity::Unknown, None, None) };
    let note = capacity.note.clone().filter(|n| !n.trim().is_empty());
    let counted = |what: String| match &note {
        Some(note) => Some(format!("{what}; {note}")),
        None => Some(what),
    };
    let wait = note.as_deref().and_then(parse_wait_days);
    match capacity.state {
        CapacityState::Places => {
            let words = match capacity.count {
                Some(1) => counted("1 place free".into()),
                Some(n) => counted(format!("{n} places free")),
                None => note.clone(),
            };
            (Capacity::Capacity, words, wait)
        }
        CapacityState::Waitlist => {
            let words = match capacity.count {
                Some(n) => counted(format!("{n} on the waiting list")),
                None => counted("Waiting list".into()),
            };
            (Capacity::Waitlist, words, wait)
        }
        CapacityState::Closed => (
            Capacity::NoCapacity,
            Some(note.map_or_else(
                || "Not taking new referrals".to_string(),
                |n| format!("Not taking new referrals; {n}"),
            )),
            None,
        ),
    }
}

#[async_trait]
impl Partner for InboxPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        let capacity = self.capacity().await;
        let (capacity, wait_estimate, wait_days) = offer_capacity(capacity.as_ref());
        let earliest_start =
            wait_days.and_then(|d| query.today.checked_add_days(chrono::Days::new(d.into())));
        let mut offers = Vec::new();
        for need in &query.needs {
            for service in self.settings.services.iter() {
                if !service.serves(need.code, &self.settings.needs) {
                    continue;
                }
                offers.push(Offer {
                    need: need.code,
                    service: service.service_ref(),
                    // The council enabled it for this need and area; its staff decline with
                    // `not_eligible` when a client is not for them.
                    eligibility: Eligibility::Eligible,
                    capacity,
                    earliest_start,
                    wait_estimate: wait_estimate.clone(),
                    channel: service.channel,
                    location: None,
                    route: Some(Route::Refer),
                    contact: service.contact(),
                });
            }
        }
        Ok(Availability { offers })
    }

    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError> {
        let store = self.store()?;
        let id = store
            .find_referral_by_key(&referral.idempotency_key)
            .await
            .map_err(store_error)?
            .ok_or_else(|| PartnerError::invalid_request("the referral is not in the store"))?;
        let stored = store.get_referral(&id).await.map_err(store_error)?;
        // A repeat of a send already delivered is not news: notify only the first time.
        let first = stored.as_ref().is_some_and(|r| r.state == TaskState::Draft);
        if let (true, Some(mailer), Some(to)) =
            (first, self.mailer.clone(), self.settings.notify_email.clone())
        {
            let (partner, referral_id) = (self.id.clone(), id.to_string());
            // Best effort and never waited for: the referral is delivered either way.
            tokio::spawn(async move {
                match mailer.notify_new_referral(&to, &referral_id).await {
                    Ok(()) => tracing::info!(partner = %partner, referral_id = %referral_id,
                        "an inbox partner was emailed a notice of a new referral"),
                    Err(reason) => tracing::warn!(partner = %partner, referral_id = %referral_id,
                        reason = %reason, "the notice of a new referral could not be emailed; \
                        its staff see the referral when they next sign in"),
                }
            });
        }
        Ok(ReferralReceipt {
            partner_reference: id.to_string(),
            state: TaskState::Requested,
            received_at: Some(Utc::now()),
        })
    }

    async fn referral_status(
        &self,
        reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError> {
        let stored = self.stored(reference).await?;
        Ok(ReferralStatus {
            state: stored.state,
            reason: stored.reason,
            note: None,
            updated_at: Some(stored.state_changed_at),
        })
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        let detail = match &self.store {
            Some(store) => match store.ping().await {
                Ok(()) => "answered in the console; the store answers".to_string(),
                Err(e) => {
                    return Ok(Health {
                        status: HealthStatus::Degraded,
                        detail: Some(format!("the store does not answer: {e}")),
                    })
                }
            },
            None => "answered in the console".to_string(),
        };
        Ok(Health { status: HealthStatus::Ok, detail: Some(detail) })
    }

    async fn cancel_referral(
        &self,
        request: &CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        let stored = self.stored(&request.reference).await?;
        if stored.state.is_final() {
            return Ok(ReferralStatus {
                state: stored.state,
                reason: stored.reason,
                note: None,
                updated_at: Some(stored.state_changed_at),
            });
        }
        // The staff read the referral from the store: once the dispatcher records this answer
        // it shows to them as cancelled, with the reason.
        Ok(ReferralStatus {
            state: TaskState::Cancelled,
            reason: Some(request.reason.status_reason()),
            note: Some(format!(
                "Withdrawn by the referrer: {}.",
                request.reason.describe().to_lowercase()
            )),
            updated_at: Some(Utc::now()),
        })
    }
}

#[cfg(test)]
mod tests;
