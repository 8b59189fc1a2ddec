//! Partner callbacks: `POST /v1/partners/{partner_id}/events`, signed per Standard Webhooks.
//!
//! The signature is the authentication (partners' senders carry no API key): each partner's
//! secret comes from the environment variable its configuration names. In order, a callback
//! is refused when the partner is unknown or has no secret (404), a header is missing, the
//! timestamp is more than 5 minutes off or the signature does not match (401), the body is not
//! a known event (400/422), the referral is not this partner's (404, like a missing one), or
//! its `webhook-id` was seen before (409, `replayed`). Every refusal is audited, with codes only:
//! [`WebhookRefusal`] gives the audit outcome and the API's error code from one value.
//! An accepted event becomes a status change with source `partner_webhook`.

pub use pathways_webhooks::{verify, VerifyError, WebhookSecret};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use pathways_core::{StatusReason, TaskState};
use pathways_store::{
    AuditAction, AuditEntry, AuditOutcome, PartnerEvent, ReferralId, StatusChange, StatusSource,
};
use serde::Deserialize;

use crate::auth::is_code;
use crate::error::ApiError;
use crate::routes::RawBody;
use crate::state::AppState;

/// The body of a partner event (its schema is the document's).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Event {
    /// The event's type: only `referral.status_changed` is accepted (another is 422).
    #[serde(rename = "type")]
    #[schemars(with = "EventKind")]
    kind: String,
    /// What changed.
    data: EventData,
}

/// The event types the document lists.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)] // Only the schema of `Event::kind`: an unknown type is a 422, not a 400.
enum EventKind {
    #[serde(rename = "referral.status_changed")]
    StatusChanged,
}

/// `data` of `referral.status_changed`: a referral's new state at the partner.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct EventData {
    /// The partner's reference from its receipt.
    partner_reference: String,
    /// The new state.
    state: TaskState,
    /// Why, for rejected, failed, cancelled and on-hold.
    #[serde(default)]
    reason: Option<StatusReason>,
    /// The partner's words (sealed at rest; never logged).
    #[serde(default)]
    note: Option<String>,
    /// When it happened, by the partner's clock.
    occurred_at: DateTime<Utc>,
}

impl std::fmt::Debug for EventData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventData").field("state", &self.state).finish_non_exhaustive()
    }
}

/// `POST /v1/partners/{partner_id}/events`
pub async fn receive(
    State(state): State<AppState>,
    Path(partner_id): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<crate::api::Status>, ApiError> {
    // A body too large or too slow never reaches the signature check.
    let body = body?;
    let result = accept(&state, &partner_id, &headers, &body).await;
    let (outcome, referral_id) = match &result {
        Ok((outcome, id)) => (*outcome, Some(id.clone())),
        Err(rejected) => (rejected.outcome(), None),
    };
    audit(&state, &partner_id, referral_id.as_ref(), outcome).await;
    let label = if is_code(&partner_id) { partner_id.clone() } else { "unknown".into() };
    state.metrics().webhook(&label, outcome);
    match result {
        Ok((outcome, id)) => Ok(Json(crate::api::Status {
            status: outcome.to_string(),
            storage: None,
            partners: None,
            referral_id: Some(id.to_string()),
        })),
        Err(rejected) => Err(rejected.into_error()),
    }
}

/// Why a partner callback was refused. One value gives both the audit outcome and the API's
/// answer, so the two cannot drift apart (they once said `replay` and `replayed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookRefusal {
    /// The partner is unknown or has no signing secret (404).
    UnknownPartner,
    /// A Standard Webhooks header is missing (401).
    MissingHeader,
    /// `webhook-timestamp` is not a number (401).
    BadTimestamp,
    /// `webhook-timestamp` is more than 5 minutes off (401).
    StaleTimestamp,
    /// The signature does not match (401).
    BadSignature,
    /// The body is not an event (400).
    InvalidEvent,
    /// Not a `referral.status_changed` event (422).
    UnsupportedEvent,
    /// A state a partner may not report (422).
    InvalidState,
    /// No referral of this partner has the reference (404).
    NotPartnersReferral,
    /// The `webhook-id` was received before (409).
    Replayed,
}

impl WebhookRefusal {
    /// Every refusal, in the order the checks run.
    pub const ALL: [WebhookRefusal; 10] = [
        Self::UnknownPartner,
        Self::MissingHeader,
        Self::BadTimestamp,
        Self::StaleTimestamp,
        Self::BadSignature,
        Self::InvalidEvent,
        Self::UnsupportedEvent,
        Self::InvalidState,
        Self::NotPartnersReferral,
        Self::Replayed,
    ];

    /// What the audit log records.
    pub const fn outcome(self) -> AuditOutcome {
        match self {
            Self::UnknownPartner => AuditOutcome::UnknownPartner,
            Self::MissingHeader => AuditOutcome::MissingHeader,
            Self::BadTimestamp => AuditOutcome::BadTimestamp,
            Self::StaleTimestamp => AuditOutcome::StaleTimestamp,
            Self::BadSignature => AuditOutcome::BadSignature,
            Self::InvalidEvent => AuditOutcome::InvalidEvent,
            Self::UnsupportedEvent => AuditOutcome::UnsupportedEvent,
            Self::InvalidState => AuditOutcome::InvalidState,
            Self::NotPartnersReferral => AuditOutcome::NotPartnersReferral,
            Self::Replayed => AuditOutcome::Replayed,
        }
    }

    /// The API's error code: the audit outcome's spelling, except that a partner or a
    /// referral the caller may not use answers `not_found`, exactly like a missing one, so
    /// that references cannot be probed (the audit log keeps the reason).
    pub const fn code(self) -> &'static str {
        match self {
            Self::UnknownPartner | Self::NotPartnersReferral => AuditOutcome::NotFound.as_str(),
            _ => self.outcome().as_str(),
        }
    }

    /// The API's status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::UnknownPartner | Self::NotPartnersReferral => StatusCode::NOT_FOUND,
            Self::MissingHeader
            | Self::BadTimestamp
            | Self::StaleTimestamp
            | Self::BadSignature => StatusCode::UNAUTHORIZED,
            Self::InvalidEvent => StatusCode::BAD_REQUEST,
            Self::UnsupportedEvent | Self::InvalidState => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Replayed => StatusCode::CONFLICT,
        }
    }

    /// The API's answer, with `message` for the partner's developers.
    fn error(self, message: impl Into<String>) -> ApiError {
        ApiError::new(self.status(), self.code(), message)
    }
}

impl From<&VerifyError> for WebhookRefusal {
    fn from(error: &VerifyError) -> Self {
        match error {
            VerifyError::MissingHeader(_) => Self::MissingHeader,
            VerifyError::BadTimestamp => Self::BadTimestamp,
            VerifyError::Stale => Self::StaleTimestamp,
            VerifyError::BadSignature => Self::BadSignature,
        }
    }
}

/// Why a callback was not accepted: the partner's mistake, or our store's failure (which the
/// partner's retry may get past).
#[derive(Debug)]
enum Rejected {
    Refused(WebhookRefusal, ApiError),
    StoreFailed(ApiError),
}

impl Rejected {
    fn refused(refusal: WebhookRefusal, message: impl Into<String>) -> Self {
        Self::Refused(refusal, refusal.error(message))
    }

    fn store(error: pathways_store::StoreError) -> Self {
        Self::StoreFailed(ApiError::from_store(error))
    }

    fn outcome(&self) -> AuditOutcome {
        match self {
            Self::Refused(refusal, _) => refusal.outcome(),
            Self::StoreFailed(_) => AuditOutcome::StoreFailed,
        }
    }

    fn into_error(self) -> ApiError {
        match self {
            Self::Refused(_, error) | Self::StoreFailed(error) => error,
        }
    }
}

async fn accept(
    state: &AppState,
    partner_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(AuditOutcome, ReferralId), Rejected> {
    let live = state.live();
    let Some(secret) = live.webhook_secrets.get(partner_id) else {
        let refusal = WebhookRefusal::UnknownPartner;
        return Err(Rejected::refused(refusal, "no partner accepting callbacks with this id"));
    };
    let header = |name: &'static str| {
        headers.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| {
            let error = VerifyError::MissingHeader(name);
            Rejected::refused(WebhookRefusal::from(&error), error.to_string())
        })
    };
    let (id, timestamp, signature) =
        (header("webhook-id")?, header("webhook-timestamp")?, header("webhook-signature")?);
    verify(secret, id, timestamp, signature, body, Utc::now().timestamp())
        .map_err(|e| Rejected::refused(WebhookRefusal::from(&e), e.to_string()))?;
    let event: Event = serde_json::from_slice(body)
        .map_err(|e| Rejected::refused(WebhookRefusal::InvalidEvent, format!("the event: {e}")))?;
    if event.kind != "referral.status_changed" {
        return Err(Rejected::refused(
            WebhookRefusal::UnsupportedEvent,
            "only `referral.status_changed` events are accepted",
        ));
    }
    let data = event.data;
    // `requested` is a partner acknowledging receipt: news only if the callback overtook the
    // dispatcher's own record of the delivery, otherwise an unchanged repeat.
    if matches!(data.state, TaskState::Draft | TaskState::EnteredInError) {
        return Err(Rejected::refused(
            WebhookRefusal::InvalidState,
            "a partner may report requested (received), accepted, rejected, in-progress, on-hold, completed, failed or cancelled",
        ));
    }
    let store = state.store();
    let found = store
        .find_referral_by_partner_reference(partner_id, &data.partner_reference)
        .await
        .map_err(Rejected::store)?;
    let Some(referral_id) = found else {
        // A missing referral and another partner's answer alike.
        return Err(Rejected::refused(
            WebhookRefusal::NotPartnersReferral,
            "no referral of this partner with this id",
        ));
    };
    let change = StatusChange {
        state: data.state,
        reason: data.reason,
        note: data.note,
        source: StatusSource::PartnerWebhook,
        at: data.occurred_at,
    };
    // One transaction: if recording fails the `webhook-id` is not remembered either, so the
    // partner's retry of this very callback is processed, not refused as a replay.
    let event = store
        .record_partner_event(partner_id, id, &referral_id, &change)
        .await
        .map_err(Rejected::store)?;
    tracing::info!(referral_id = %referral_id, partner = partner_id, state = ?change.state,
        outcome = ?event, "partner callback");
    match event {
        PartnerEvent::Recorded => Ok((AuditOutcome::Recorded, referral_id)),
        PartnerEvent::Unchanged => Ok((AuditOutcome::Unchanged, referral_id)),
        PartnerEvent::Replay => Err(Rejected::refused(
            WebhookRefusal::Replayed,
            "this `webhook-id` was received before",
        )),
    }
}

/// Audits a callback under the partner's name (or `unknown` when the path is not a code).
async fn audit(
    state: &AppState,
    partner_id: &str,
    referral_id: Option<&ReferralId>,
    outcome: AuditOutcome,
) {
    let organisation = if is_code(partner_id) { partner_id } else { "unknown" };
    let entry = AuditEntry {
        at: Utc::now(),
        key_id: "webhook".into(),
        organisation: organisation.to_string(),
        action: AuditAction::PartnerEvent,
        case_id: None,
        referral_id: referral_id.cloned(),
        outcome,
    };
    if let Err(e) = state.store().append_audit(&entry).await {
        tracing::error!(error = %e, "cannot write the audit log");
        state.metrics().audit_failure();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_answers_with_its_audit_outcome_unless_it_must_look_like_a_missing_one() {
        let mut seen = std::collections::HashSet::new();
        for refusal in WebhookRefusal::ALL {
            let error = refusal.error("why");
            assert!(seen.insert(refusal.outcome()), "{refusal:?} shares an outcome");
            assert_eq!((error.status, error.code), (refusal.status(), refusal.code()));
            match refusal {
                WebhookRefusal::UnknownPartner | WebhookRefusal::NotPartnersReferral => {
                    assert_eq!((error.status, error.code), (StatusCode::NOT_FOUND, "not_found"));
                }
                _ => assert_eq!(error.code, refusal.outcome().as_str(), "{refusal:?}"),
            }
        }
        assert_eq!(WebhookRefusal::Replayed.code(), "replayed", "the spelling the API documents");
    }

    #[test]
    fn every_signature_failure_is_a_401_refusal_of_its_own() {
        let errors = [
            VerifyError::MissingHeader("webhook-id"),
            VerifyError::BadTimestamp,
            VerifyError::Stale,
            VerifyError::BadSignature,
        ];
        let refusals: std::collections::HashSet<_> =
            errors.iter().map(WebhookRefusal::from).collect();
        assert_eq!(refusals.len(), errors.len());
        assert!(refusals.iter().all(|r| r.status() == StatusCode::UNAUTHORIZED));
    }
}
