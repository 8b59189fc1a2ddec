//! Partner callbacks: `POST /v1/partners/{partner_id}/events`, signed per Standard Webhooks.
//!
//! The signature is the authentication (partners' senders carry no API key): each partner's
//! secret comes from the environment variable its configuration names. In order, a callback
//! is refused when the partner is unknown or has no secret (404), a header is missing, the
//! timestamp is more than 5 minutes off or the signature does not match (401), the body is not
//! a known event (400/422), the referral is not this partner's (404, like a missing one), or
//! its `webhook-id` was seen before (409, a replay). Every refusal is audited, with codes only.
//! An accepted event becomes a status change with source `partner_webhook`.

pub use pathways_webhooks::{verify, VerifyError, WebhookSecret};

use axum::body::Bytes;
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
use crate::state::AppState;

/// The body of a partner event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

/// `data` of `referral.status_changed`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventData {
    partner_reference: String,
    state: TaskState,
    #[serde(default)]
    reason: Option<StatusReason>,
    #[serde(default)]
    note: Option<String>,
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
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let result = accept(&state, &partner_id, &headers, &body).await;
    let (outcome, referral_id) = match &result {
        Ok((outcome, id)) => (*outcome, Some(id.clone())),
        Err((outcome, _)) => (*outcome, None),
    };
    audit(&state, &partner_id, referral_id.as_ref(), outcome).await;
    let label = if is_code(&partner_id) { partner_id.clone() } else { "unknown".into() };
    state
        .metrics()
        .inc("pathways_webhooks_total", vec![("partner", label), ("outcome", outcome.to_string())]);
    match result {
        Ok((outcome, id)) => Ok(Json(serde_json::json!({"status": outcome, "referral_id": id}))),
        Err((_, error)) => Err(error),
    }
}

type Refusal = (AuditOutcome, ApiError);

async fn accept(
    state: &AppState,
    partner_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(AuditOutcome, ReferralId), Refusal> {
    let live = state.live();
    let Some(secret) = live.webhook_secrets.get(partner_id) else {
        return Err((
            AuditOutcome::UnknownPartner,
            ApiError::not_found("partner accepting callbacks"),
        ));
    };
    let header = |name: &'static str| {
        headers.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| {
            (
                AuditOutcome::MissingHeader,
                unauthorized(AuditOutcome::MissingHeader, VerifyError::MissingHeader(name)),
            )
        })
    };
    let (id, timestamp, signature) =
        (header("webhook-id")?, header("webhook-timestamp")?, header("webhook-signature")?);
    verify(secret, id, timestamp, signature, body, Utc::now().timestamp()).map_err(
        |e| match e {
            VerifyError::Stale => {
                (AuditOutcome::StaleTimestamp, unauthorized(AuditOutcome::StaleTimestamp, e))
            }
            VerifyError::BadTimestamp => {
                (AuditOutcome::BadTimestamp, unauthorized(AuditOutcome::BadTimestamp, e))
            }
            VerifyError::MissingHeader(_) => {
                (AuditOutcome::MissingHeader, unauthorized(AuditOutcome::MissingHeader, e))
            }
            VerifyError::BadSignature => {
                (AuditOutcome::BadSignature, unauthorized(AuditOutcome::BadSignature, e))
            }
        },
    )?;
    let event: Event = serde_json::from_slice(body).map_err(|e| {
        (
            AuditOutcome::InvalidEvent,
            ApiError::bad_request(AuditOutcome::InvalidEvent.as_str(), format!("the event: {e}")),
        )
    })?;
    if event.kind != "referral.status_changed" {
        return Err((
            AuditOutcome::UnsupportedEvent,
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_event",
                "only `referral.status_changed` events are accepted",
            ),
        ));
    }
    let data = event.data;
    // `requested` is a partner acknowledging receipt: news only if the callback overtook the
    // dispatcher's own record of the delivery, otherwise an unchanged repeat.
    if matches!(data.state, TaskState::Draft | TaskState::EnteredInError) {
        return Err((
            AuditOutcome::InvalidState,
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_state",
                "a partner may report requested (received), accepted, rejected, in-progress, on-hold, completed, failed or cancelled",
            ),
        ));
    }
    let store = state.store();
    let found = store
        .find_referral_by_partner_reference(partner_id, &data.partner_reference)
        .await
        .map_err(|e| (AuditOutcome::StoreFailed, crate::error::ApiError::from_store(e)))?;
    let Some(referral_id) = found else {
        // A missing referral and another partner's answer alike.
        return Err((
            AuditOutcome::NotPartnersReferral,
            ApiError::not_found("referral of this partner"),
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
        .map_err(|e| (AuditOutcome::StoreFailed, crate::error::ApiError::from_store(e)))?;
    tracing::info!(referral_id = %referral_id, partner = partner_id, state = ?change.state,
        outcome = ?event, "partner callback");
    match event {
        PartnerEvent::Recorded => Ok((AuditOutcome::Recorded, referral_id)),
        PartnerEvent::Unchanged => Ok((AuditOutcome::Unchanged, referral_id)),
        PartnerEvent::Replay => Err((
            AuditOutcome::Replayed,
            ApiError::new(
                StatusCode::CONFLICT,
                "replayed",
                "this `webhook-id` was received before",
            ),
        )),
    }
}

fn unauthorized(outcome: AuditOutcome, error: VerifyError) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, outcome.as_str(), error.to_string())
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
        state.metrics().inc("pathways_audit_failures_total", vec![]);
    }
}
