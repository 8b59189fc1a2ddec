//! `POST /v1/cases/{id}/referrals`: refer the chosen steps of a case's plan.
//!
//! Idempotency (`Idempotency-Key`, scoped to the caller's organisation): missing → 400; reused
//! with another case or body → 422; reused while the first request is in flight → 409; reused
//! after it finished → the first response again. Each referral's own idempotency key (the one
//! the partner receives) is derived from the request key, the case and the step, so a retry
//! after a crash can never create a second referral, here or at the partner.
//!
//! A request left in flight by a crashed daemon is taken over once it is older than twice the
//! request timeout (by one retry only, however many arrive at once): the retry first looks for
//! the referrals the dead request may have written (by their derived keys) and answers with
//! them; only if there are none does it check and write afresh.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use pathways_core::{missing_prerequisites, what_to_ask};
use pathways_core::{ActionPlan, Case, NeedCode, PlanStep, Referral, StepAction};
use pathways_store::{
    AuditAction, AuditOutcome, CaseId, IdempotencyOutcome, NewReferral, ReferralId, StoreError,
    StoredResponse,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::audit;
use super::selection::{present, Choice, Ordinal};
use crate::api::{AcceptedReferral, ReferralsAccepted};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::routes::JsonBody;
use crate::state::AppState;

const PATHFINDER: &[Role] = &[Role::Pathfinder];
const ACTION: AuditAction = AuditAction::ReferralCreate;

/// Which steps of the plan to refer; an empty body object refers every `refer` step.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralRequest {
    /// Step orders to refer (at least one, when given).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Choice<Ordinal>")]
    pub steps: Option<Choice<Ordinal>>,
    /// Needs whose `refer` steps to refer (at least one, when given).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Choice<NeedCode>")]
    pub needs: Option<Choice<NeedCode>>,
}

/// `POST /v1/cases/{id}/referrals`
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let case_id = CaseId::parse(&id);
    if let Err(e) = caller.require(PATHFINDER) {
        audit(&state, &caller, ACTION, (case_id.as_ref(), None), AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let key = idempotency_key(&headers)?;
    let Some(case_id) = case_id else {
        audit(&state, &caller, ACTION, (None, None), AuditOutcome::NotFound).await;
        return Err(ApiError::not_found("case"));
    };
    let stored = state.store().get_case(&case_id).await.map_err(ApiError::from_store)?;
    let Some(stored) = stored.filter(|c| c.organisation == caller.organisation) else {
        // Only the organisation that owns a case refers it; any other sees a missing case.
        audit(&state, &caller, ACTION, (Some(&case_id), None), AuditOutcome::NotFound).await;
        return Err(ApiError::not_found("case"));
    };
    let bytes = body?;
    let request: ReferralRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("the body: {e}")))?;
    let scope = format!("referrals:{}", caller.organisation);
    let fingerprint = fingerprint(&case_id, &request);
    let stale_after = state.limits().request_timeout * 2;
    let outcome = state
        .store()
        .begin_idempotent(&scope, &key, &fingerprint, stale_after)
        .await
        .map_err(ApiError::from_store)?;
    let took_over = matches!(outcome, IdempotencyOutcome::TakenOver { .. });
    match outcome {
        IdempotencyOutcome::Started | IdempotencyOutcome::TakenOver { .. } => {}
        IdempotencyOutcome::Completed(first) => {
            audit(&state, &caller, ACTION, (Some(&case_id), None), AuditOutcome::Replayed).await;
            return Ok(replay(first));
        }
        IdempotencyOutcome::InFlight { .. } => {
            audit(&state, &caller, ACTION, (Some(&case_id), None), AuditOutcome::InFlight).await;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_flight",
                "a request with this Idempotency-Key is still being handled; retry shortly",
            ));
        }
        IdempotencyOutcome::Mismatch => {
            audit(&state, &caller, ACTION, (Some(&case_id), None), AuditOutcome::KeyReused).await;
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key",
            ));
        }
    }
    let request_key = RequestKey { scope: &scope, key: &key, took_over };
    let result = refer(&state, &case_id, &stored.case, &request, &request_key).await;
    match result {
        Ok(response) => {
            let stored_response = StoredResponse { status: 202, body: response.clone() };
            if let Err(e) = state.store().complete_idempotent(&scope, &key, &stored_response).await
            {
                // The referrals are durable; a retry takes the key over and finds them.
                tracing::error!(error = %e, "cannot record the idempotent response");
            }
            audit(&state, &caller, ACTION, (Some(&case_id), None), AuditOutcome::Ok).await;
            tracing::info!(case_id = %case_id, "referrals accepted for dispatch");
            Ok(replay(stored_response))
        }
        Err(error) if error.code == REFERRAL_CONFLICT => {
            // Some of this request's referrals exist: the key stays claimed, so no retry with
            // it can write the rest under a different reading of the plan.
            audit(&state, &caller, ACTION, (Some(&case_id), None), error.audit_outcome()).await;
            Err(error)
        }
        Err(error) => {
            // Nothing of this request was written (a takeover found none of its referrals):
            // free the key so the client can correct and retry.
            if let Err(e) = state.store().abandon_idempotent(&scope, &key).await {
                tracing::error!(error = %e, "cannot release an idempotency key");
            }
            audit(&state, &caller, ACTION, (Some(&case_id), None), error.audit_outcome()).await;
            Err(error)
        }
    }
}

/// The request's idempotency key, and whether this request took it over from a dead one.
struct RequestKey<'a> {
    scope: &'a str,
    key: &'a str,
    took_over: bool,
}

// A refused referral request is audited under its error's code (`ApiError::audit_outcome`), so
// the codes `refer` answers with are spelt once, in the audit vocabulary.
/// Some of the request's referrals exist and some do not.
const REFERRAL_CONFLICT: &str = AuditOutcome::ReferralConflict.as_str();
/// A chosen step already has a live referral: nothing of the request was written.
const STEP_REFERRED: &str = AuditOutcome::StepAlreadyReferred.as_str();

/// The `Idempotency-Key` header: 1 to 128 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers.get("idempotency-key").ok_or_else(|| {
        ApiError::bad_request(
            "missing_idempotency_key",
            "send an `Idempotency-Key` header (e.g. a UUID) so a retry cannot refer twice",
        )
    })?;
    let key = value.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "the `Idempotency-Key` header must be 1 to 128 visible ASCII characters",
        ));
    }
    Ok(key.to_string())
}

/// What makes two requests "the same": the case and the selection, however the JSON was
/// spelt.
pub fn fingerprint(case_id: &CaseId, request: &ReferralRequest) -> String {
    let canonical = serde_json::json!({
        "case": case_id.as_str(), "steps": request.steps, "needs": request.needs,
    });
    hex(&Sha256::digest(canonical.to_string().as_bytes()))
}

/// The key the partner receives for one step: stable for one request key, case and step.
pub fn referral_key(scope: &str, request_key: &str, case_id: &CaseId, order: u32) -> String {
    let mut hash = Sha256::new();
    for part in [scope, request_key, case_id.as_str(), &order.to_string()] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    format!("pw-{}", &hex(&hash.finalize())[..40])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn replay(response: StoredResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::ACCEPTED);
    let mut answer = (status, response.body).into_response();
    answer.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    answer
}

/// Checks and writes the referrals; returns the response body. Writes nothing on error.
///
/// A request that took over a dead one's key first looks for the referrals that one wrote:
/// all there → the answer it never gave; none → checked and written afresh; some →
/// `referral_conflict`.
async fn refer(
    state: &AppState,
    case_id: &CaseId,
    case: &Case,
    request: &ReferralRequest,
    request_key: &RequestKey<'_>,
) -> Result<Vec<u8>, ApiError> {
    let plan = state.store().latest_plan(case_id).await.map_err(ApiError::from_store)?.ok_or_else(
        || {
            ApiError::new(
                StatusCode::CONFLICT,
                AuditOutcome::NoPlan.as_str(),
                "this case has no plan yet: POST /v1/cases/{id}/plan makes one",
            )
        },
    )?;
    let steps = chosen_steps(&plan.plan, request)?;
    let RequestKey { scope, key, took_over } = *request_key;
    let keys: Vec<String> =
        steps.iter().map(|step| referral_key(scope, key, case_id, step.order)).collect();
    let earlier = if took_over { existing(state, &keys).await? } else { None };
    let ids = match earlier {
        Some(ids) => ids,
        None => write_referrals(state, case_id, case, &steps, keys).await?,
    };
    let referrals = steps
        .iter()
        .zip(&ids)
        .map(|(step, id)| AcceptedReferral {
            id: id.to_string(),
            step: step.order,
            need: step.need,
            partner_id: step.partner_id().map(str::to_string),
            state: "draft".into(),
            href: format!("/v1/referrals/{id}"),
        })
        .collect();
    let body = ReferralsAccepted { case_id: case_id.to_string(), referrals };
    serde_json::to_vec(&body).map_err(|_| ApiError::internal())
}

/// Checks consent and the partner of every step, then writes the referrals with their
/// outbox rows in one transaction.
async fn write_referrals(
    state: &AppState,
    case_id: &CaseId,
    case: &Case,
    steps: &[PlanStep],
    keys: Vec<String>,
) -> Result<Vec<ReferralId>, ApiError> {
    let live = state.live();
    let mut referrals = Vec::with_capacity(steps.len());
    for (step, key) in steps.iter().zip(&keys) {
        referrals.push(build_referral(&live, case, step, key.clone())?);
    }
    let new: Vec<NewReferral> = referrals.into_iter().map(NewReferral::from).collect();
    match state.store().create_referrals(case_id, new, Utc::now()).await {
        Ok(ids) => Ok(ids),
        // Written meanwhile under the same derived keys (a dead request's, found only now):
        // answer with them.
        Err(StoreError::DuplicateReferral { .. }) => existing(state, &keys)
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, REFERRAL_CONFLICT, PARTLY)),
        // The step was referred already (another key, a double click, another pathfinder).
        Err(StoreError::StepHasLiveReferral { existing, need, partner_id }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            STEP_REFERRED,
            format!(
                "the step for `{need}` with `{partner_id}` already has referral `{existing}` \
                     (/v1/referrals/{existing}), which is still live; refer it again only once \
                     that one is rejected, failed, cancelled or completed"
            ),
        )),
        Err(e) => Err(ApiError::from_store(e)),
    }
}

/// The referral one plan step would send, exactly as the partner would receive it: consent
/// checked, the partner enabled, its prerequisites met, and the fields its manifest declares
/// (the console's check-your-answers page shows this before sending).
pub(crate) fn build_referral(
    live: &crate::state::Live,
    case: &Case,
    step: &PlanStep,
    key: String,
) -> Result<Referral, ApiError> {
    let partner_id = check_consent(case, step)?;
    let configured = live.orchestrator.partners().iter().find(|p| p.id == partner_id);
    let Some(configured) = configured else {
        return Err(refused(step, "its partner is not enabled now; plan the case again"));
    };
    // The same rule the planner used for the step's `shares`.
    let gets_contact = pathways_core::receives_safe_contact_details(
        configured.domestic_abuse_service,
        configured.partner.manifest(),
        step.need,
    );
    // The same function the planner marked `blocked` steps with: a step planned before the
    // partner's requirements changed is refused here for exactly what is missing.
    let missing = missing_prerequisites(
        case,
        configured.partner.manifest(),
        step.need,
        configured.domestic_abuse_service,
    );
    if !missing.is_empty() {
        return Err(refused(step, &format!("first {}", what_to_ask(&missing))));
    }
    let service = step.service().cloned().ok_or_else(|| refused(step, "it names no service"))?;
    // Both were checked where they were made (the configuration, `referral_key`); these are
    // the types a partner receives them in.
    let partner_id = pathways_core::PartnerId::new(partner_id)
        .map_err(|e| refused(step, &format!("its partner has {e}")))?;
    let key = pathways_core::IdempotencyKey::new(key)
        .map_err(|e| ApiError::bad_request("invalid_idempotency_key", e.to_string()))?;
    Ok(Referral::for_need(
        case,
        &partner_id,
        service,
        &step.need_id,
        step.shares(),
        gets_contact,
        key,
    ))
}

const PARTLY: &str = "some referrals of this request exist and some do not; use a new key";

/// The referrals an earlier attempt wrote, by their derived keys: all of them, none (`None`),
/// or some (`referral_conflict`).
async fn existing(state: &AppState, keys: &[String]) -> Result<Option<Vec<ReferralId>>, ApiError> {
    let mut ids = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(id) =
            state.store().find_referral_by_key(key).await.map_err(ApiError::from_store)?
        {
            ids.push(id);
        }
    }
    match ids.len() {
        0 => Ok(None),
        n if n == keys.len() => Ok(Some(ids)),
        _ => Err(ApiError::new(StatusCode::CONFLICT, REFERRAL_CONFLICT, PARTLY)),
    }
}

/// The steps the request chose: every `refer` step by default.
fn chosen_steps(plan: &ActionPlan, request: &ReferralRequest) -> Result<Vec<PlanStep>, ApiError> {
    let mut chosen: Vec<PlanStep> = Vec::new();
    if let Some(Choice(orders)) = &request.steps {
        for Ordinal(order) in orders {
            let step = plan.steps.iter().find(|s| s.order == *order).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    AuditOutcome::UnknownStep.as_str(),
                    format!("the plan has no step {order}"),
                )
            })?;
            match &step.action {
                StepAction::Refer(_) => {}
                StepAction::Blocked { missing, .. } => {
                    return Err(refused(step, &format!("first {}", what_to_ask(missing))));
                }
                other => {
                    return Err(refused(
                        step,
                        &format!("it is a `{}` entry, not a `refer` step", other.kind()),
                    ))
                }
            }
            chosen.push(step.clone());
        }
    }
    if let Some(Choice(needs)) = &request.needs {
        for need in needs {
            let step =
                plan.steps.iter().find(|s| s.need == *need && s.is_refer()).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        AuditOutcome::UnknownStep.as_str(),
                        format!("the plan has no `refer` step for `{}`", need_code(*need)),
                    )
                })?;
            chosen.push(step.clone());
        }
    }
    if request.steps.is_none() && request.needs.is_none() {
        chosen = plan.steps.iter().filter(|s| s.is_refer()).cloned().collect();
    }
    chosen.sort_by_key(|s| s.order);
    chosen.dedup_by_key(|s| s.order);
    if chosen.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            AuditOutcome::NothingToRefer.as_str(),
            "the request chose no `refer` step of the plan",
        ));
    }
    Ok(chosen)
}

/// The step's partner, when the case's consent or lawful basis covers sending to it.
fn check_consent<'a>(case: &Case, step: &'a PlanStep) -> Result<&'a str, ApiError> {
    let partner_id = step.partner_id().ok_or_else(|| refused(step, "it names no partner"))?;
    if step.needs_consent() {
        return Err(refused(step, "the plan marks it as needing the client's consent first"));
    }
    let need = case.need(&step.need_id);
    if !need.is_some_and(|need| case.consent.cover(partner_id, need).allows_referral()) {
        return Err(refused(
            step,
            "the case's consent does not cover this partner; record consent and plan again",
        ));
    }
    Ok(partner_id)
}

fn refused(step: &PlanStep, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        AuditOutcome::StepRefused.as_str(),
        format!("step {} ({}) cannot be referred: {why}", step.order, need_code(step.need)),
    )
}

fn need_code(need: NeedCode) -> String {
    serde_json::to_value(need).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referral_keys_are_stable_per_request_and_step_and_differ_otherwise() {
        let case = CaseId::parse(&"a".repeat(32)).unwrap();
        let k = referral_key("referrals:org", "key-1", &case, 1);
        assert_eq!(k, referral_key("referrals:org", "key-1", &case, 1));
        assert_ne!(k, referral_key("referrals:org", "key-1", &case, 2));
        assert_ne!(k, referral_key("referrals:org", "key-2", &case, 1));
        assert_ne!(k, referral_key("referrals:other", "key-1", &case, 1));
    }

    #[test]
    fn the_fingerprint_ignores_spelling_but_not_the_selection() {
        let case = CaseId::parse(&"b".repeat(32)).unwrap();
        let a: ReferralRequest = serde_json::from_str(r#"{"steps": [1, 2]}"#).unwrap();
        let b: ReferralRequest = serde_json::from_str("{ \"steps\":[1,2] }").unwrap();
        let c: ReferralRequest = serde_json::from_str(r#"{"steps": [1]}"#).unwrap();
        assert_eq!(fingerprint(&case, &a), fingerprint(&case, &b));
        assert_ne!(fingerprint(&case, &a), fingerprint(&case, &c));
    }
}
