//! The daemon's operations for a front end that runs in the same process: the web console
//! (`pathways-console`). Each function here is the JSON API's own handler, called directly
//! with a [`Caller`] the front end authenticated (a signed-in person), so intake, planning,
//! amendments, referrals, views by role and the audit log have exactly one implementation:
//! no second copy, and no request from the console to its own HTTP API.
//!
//! Errors are the API's [`ApiError`]s (status, code, message naming the field), which the
//! console turns into its error summaries.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use pathways_core::ActionPlan;
use pathways_store::{AuditAction, AuditOutcome, CaseId, ReferralId, Store};
use serde::de::DeserializeOwned;

use crate::access::{CaseView, OwnerCaseView, ReferralView, ReferralViews};
use crate::api::{CaseCreated, PartnerList, PathwayReport, ReferralsAccepted};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::routes::JsonBody;
use crate::state::{AppState, Live};

/// The daemon's shared state, for a front end in the same process: cheap to clone.
#[derive(Debug, Clone)]
pub struct Handle {
    pub(crate) state: AppState,
}

impl Handle {
    /// The store (for what only a front end keeps: accounts, sessions).
    pub fn store(&self) -> &Arc<dyn Store> {
        self.state.store()
    }

    /// A snapshot of the live configuration: the orchestrator (partners, their names, the
    /// message catalogue) and the keys. Keep it for one piece of work.
    pub fn live(&self) -> Arc<Live> {
        self.state.live()
    }

    /// The limits the daemon serves within.
    pub fn limits(&self) -> crate::Limits {
        self.state.limits()
    }

    /// The caller a signed-in person acts as: the audit log names `person` (a user id, never a
    /// self-declared worker id) in place of a key.
    pub fn person(&self, person: &str, organisation: &str, role: Role) -> Caller {
        let keys = self.state.live().keys.clone();
        Caller {
            key_id: person.to_string(),
            organisation: organisation.to_string(),
            role,
            operator: keys.operator.as_deref() == Some(organisation),
        }
    }

    /// Appends an audit entry for a front-end action the API has no route for (a sign-in,
    /// the client's copy printed).
    pub async fn audit(
        &self,
        caller: &Caller,
        action: AuditAction,
        case_id: Option<&CaseId>,
        outcome: AuditOutcome,
    ) {
        crate::routes::cases::audit(&self.state, caller, action, case_id, outcome).await;
    }

    /// The request metrics, for the front end's routes.
    pub fn count_request(&self, route: &str, method: &axum::http::Method, status: StatusCode) {
        self.state.metrics().http_request(route, method, status);
    }

    /// Stores a new case from its JSON (the API's `POST /v1/cases`).
    pub async fn create_case(&self, caller: &Caller, json: Vec<u8>) -> Result<CaseId, ApiError> {
        let (_, _, created) = crate::routes::cases::create(
            State(self.state.clone()),
            caller.clone(),
            JsonBody(Ok(Bytes::from(json))),
        )
        .await?;
        let CaseCreated { id, .. } = created.0;
        CaseId::parse(&id).ok_or_else(ApiError::internal)
    }

    /// What `caller` may see of a case (`GET /v1/cases/{id}`).
    pub async fn case(&self, caller: &Caller, id: &str) -> Result<CaseView, ApiError> {
        let view =
            crate::routes::cases::read(State(self.state.clone()), caller.clone(), path(id)).await?;
        Ok(view.0)
    }

    /// Asks the partners and stores the next plan (`POST /v1/cases/{id}/plan`).
    pub async fn plan(&self, caller: &Caller, id: &str) -> Result<ActionPlan, ApiError> {
        let (_, plan) =
            crate::routes::cases::plan(State(self.state.clone()), caller.clone(), path(id)).await?;
        Ok(plan.0)
    }

    /// [`plan`](Self::plan), telling `observer` of each partner's answer as it arrives.
    pub async fn plan_observed(
        &self,
        caller: &Caller,
        id: &str,
        observer: pathways_orchestrator::AnswerObserver<'_>,
    ) -> Result<ActionPlan, ApiError> {
        crate::routes::cases::plan_observed(&self.state, caller, id, Some(observer)).await
    }

    /// The newest plan, or version `version` (`GET /v1/cases/{id}/plan`).
    pub async fn read_plan(
        &self,
        caller: &Caller,
        id: &str,
        version: Option<u32>,
    ) -> Result<ActionPlan, ApiError> {
        let query = crate::routes::cases::PlanQuery::new(version);
        let plan = crate::routes::cases::read_plan(
            State(self.state.clone()),
            caller.clone(),
            path(id),
            Ok(Query(query)),
        )
        .await?;
        Ok(plan.0)
    }

    /// Amends the newest plan with the client (`PATCH /v1/cases/{id}/plan`, the same JSON).
    pub async fn amend_plan(
        &self,
        caller: &Caller,
        id: &str,
        json: Vec<u8>,
    ) -> Result<ActionPlan, ApiError> {
        let plan = crate::routes::cases::amend_plan(
            State(self.state.clone()),
            caller.clone(),
            path(id),
            JsonBody(Ok(Bytes::from(json))),
        )
        .await?;
        Ok(plan.0)
    }

    /// Sends the chosen steps' referrals (`POST /v1/cases/{id}/referrals`), idempotent on
    /// `key` exactly as the API's `Idempotency-Key`: a form posted twice refers once.
    pub async fn refer(
        &self,
        caller: &Caller,
        id: &str,
        key: &str,
        json: Vec<u8>,
    ) -> Result<ReferralsAccepted, ApiError> {
        let mut headers = HeaderMap::new();
        let key = HeaderValue::from_str(key).map_err(|_| {
            ApiError::bad_request("invalid_idempotency_key", "the form's key is not valid")
        })?;
        headers.insert("idempotency-key", key);
        let response = crate::referrals::create(
            State(self.state.clone()),
            caller.clone(),
            path(id),
            headers,
            JsonBody(Ok(Bytes::from(json))),
        )
        .await?;
        json_of(response).await
    }

    /// What each `refer` step of the newest plan would send, built by the same function the
    /// intake builds referrals with (consent, the partner's prerequisites, its declared
    /// fields): the step, and its referral or why it cannot be sent. Nothing is written
    /// except the audit entry. Only the case's owner may ask.
    pub async fn preview_referrals(&self, caller: &Caller, id: &str) -> Result<Previews, ApiError> {
        let plan = self.read_plan(caller, id, None).await?;
        let CaseView::Owner(view) = self.case(caller, id).await? else {
            return Err(ApiError::not_found("case"));
        };
        let live = self.state.live();
        let steps = plan
            .steps
            .iter()
            .filter(|step| step.is_refer())
            .map(|step| {
                let referral = crate::referrals::build_referral(
                    &live,
                    view.case(),
                    step,
                    // The real key is derived when it is sent; the page does not show it.
                    "pw-preview".into(),
                );
                (step.clone(), referral)
            })
            .collect();
        Ok(Previews { reference: view.case().reference.clone(), plan, steps })
    }

    /// The owner's view of case `id` with each of its referrals as the owner sees it (state,
    /// history, chasing): one read of the case and one of its referrals, audited as the case
    /// read, where asking for each referral would read and audit it again.
    pub async fn case_with_referrals(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(OwnerCaseView, Vec<ReferralView>), ApiError> {
        let CaseView::Owner(view) = self.case(caller, id).await? else {
            return Err(ApiError::not_found("case"));
        };
        let case_id = CaseId::parse(id).ok_or_else(|| ApiError::not_found("case"))?;
        let stored =
            self.state.store().referrals_of_case(&case_id).await.map_err(ApiError::from_store)?;
        let chase_before = crate::referrals::chase_before(&self.state);
        let referrals = stored.into_iter().map(|r| ReferralView::new(r, chase_before)).collect();
        Ok((view, referrals))
    }

    /// What `caller` may see of a referral (`GET /v1/referrals/{id}`).
    pub async fn referral(
        &self,
        caller: &Caller,
        id: &ReferralId,
    ) -> Result<ReferralViews, ApiError> {
        let view =
            crate::referrals::read(State(self.state.clone()), caller.clone(), path(id.as_str()))
                .await?;
        Ok(view.0)
    }

    /// Records the client's consent as it now stands (`PUT /v1/cases/{id}/consent`), `body`
    /// being that route's JSON.
    pub async fn replace_consent(
        &self,
        caller: &Caller,
        id: &str,
        body: Vec<u8>,
    ) -> Result<crate::ConsentChanged, ApiError> {
        let changed = crate::routes::consent::replace(
            State(self.state.clone()),
            caller.clone(),
            path(id),
            JsonBody(Ok(Bytes::from(body))),
        )
        .await?;
        Ok(changed.0)
    }

    /// What to try next for each refused referral of a case (`GET /v1/cases/{id}/reroutes`).
    pub async fn reroutes(&self, caller: &Caller, id: &str) -> Result<crate::Reroutes, ApiError> {
        let found =
            crate::referrals::reroute::list(State(self.state.clone()), caller.clone(), path(id))
                .await?;
        Ok(found.0)
    }

    /// Accepts the re-route of a refused referral (`POST /v1/referrals/{id}/reroute`).
    pub async fn reroute(&self, caller: &Caller, id: &ReferralId) -> Result<(), ApiError> {
        let response = crate::referrals::reroute::accept(
            State(self.state.clone()),
            caller.clone(),
            path(id.as_str()),
        )
        .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ApiError::for_status(response.status()))
        }
    }

    /// Withdraws a referral (`POST /v1/referrals/{id}/cancel`).
    pub async fn cancel_referral(
        &self,
        caller: &Caller,
        id: &ReferralId,
        body: &crate::referrals::CancelBody,
    ) -> Result<crate::referrals::Cancelled, ApiError> {
        let bytes = serde_json::to_vec(&serde_json::json!({
            "reason": body.reason,
            "note": body.note,
        }))
        .map_err(|_| ApiError::internal())?;
        crate::referrals::cancel(
            State(self.state.clone()),
            caller.clone(),
            path(id.as_str()),
            JsonBody(Ok(Bytes::from(bytes))),
        )
        .await
    }

    /// The pathway report over `[from, to)` (`GET /v1/reports/pathways`).
    pub async fn pathway_report(
        &self,
        caller: &Caller,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<PathwayReport, ApiError> {
        let range = crate::reports::Range::new(from, to);
        let report =
            crate::reports::pathways(State(self.state.clone()), caller.clone(), Ok(Query(range)))
                .await?;
        Ok(report.0)
    }

    /// How the last configuration reload ended, if there was one since the daemon started.
    pub fn last_reload(&self) -> Option<crate::ReloadRecord> {
        self.state.last_reload()
    }

    /// The unmet needs report over `[from, to)` (`GET /v1/reports/unmet`).
    pub async fn unmet_report(
        &self,
        caller: &Caller,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<crate::api::UnmetReport, ApiError> {
        let range = crate::reports::Range::new(from, to);
        crate::reports::unmet_report(&self.state, caller, Ok(Query(range))).await
    }

    /// The caller's organisation's follow-up schedule (`GET /v1/follow-ups/schedule`).
    pub async fn follow_up_schedule(
        &self,
        caller: &Caller,
    ) -> Result<crate::reports::schedule::ScheduleView, ApiError> {
        crate::reports::schedule::schedule_of(&self.state, &caller.organisation).await
    }

    /// Sets the caller's organisation's follow-up schedule (`PUT /v1/follow-ups/schedule`):
    /// coordinators and admins only; `after_days` 0 to 366.
    pub async fn set_follow_up_schedule(
        &self,
        caller: &Caller,
        after_days: u32,
    ) -> Result<crate::reports::schedule::ScheduleView, ApiError> {
        caller.require(&[crate::Role::Coordinator, crate::Role::Admin])?;
        crate::reports::schedule::set(&self.state, caller, after_days).await
    }

    /// The caller's organisation's cases due a follow-up now (`GET /v1/follow-ups/due`).
    pub async fn follow_ups_due(
        &self,
        caller: &Caller,
        limit: u32,
    ) -> Result<crate::reports::schedule::DueList, ApiError> {
        crate::reports::schedule::due_list(&self.state, caller, limit).await
    }

    /// The outcomes report over `[from, to)` (`GET /v1/reports/outcomes`).
    pub async fn outcome_report(
        &self,
        caller: &Caller,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<crate::OutcomeReport, ApiError> {
        let range = crate::reports::Range::new(from, to);
        let report = crate::reports::outcomes::report(
            State(self.state.clone()),
            caller.clone(),
            Ok(Query(range)),
        )
        .await?;
        Ok(report.0)
    }

    /// Records a follow-up with the client (`POST /v1/cases/{id}/follow-ups`), `body` being
    /// that route's JSON.
    pub async fn record_follow_up(
        &self,
        caller: &Caller,
        id: &str,
        body: Vec<u8>,
    ) -> Result<pathways_core::FollowUp, ApiError> {
        let (_, recorded) = crate::reports::outcomes::record(
            State(self.state.clone()),
            caller.clone(),
            path(id),
            JsonBody(Ok(Bytes::from(body))),
        )
        .await?;
        Ok(recorded.0)
    }

    /// Whether `organisation` is a partner without an API (`kind = "inbox"`), whose staff
    /// answer referrals and set capacity in the console.
    pub fn is_inbox_partner(&self, organisation: &str) -> bool {
        crate::inbox::is_inbox_partner(&self.state, organisation)
    }

    /// An inbox partner's staff change the state of a referral sent to them: recorded as the
    /// partner's report (`partner_inbox`) when the move is allowed from its state, audited.
    /// `Ok(false)` when it told nothing new. A referral of another partner is `not_found`; a
    /// move its state does not allow is 422 `transition_refused`.
    pub async fn partner_update(
        &self,
        caller: &Caller,
        id: &ReferralId,
        update: &crate::PartnerUpdate,
    ) -> Result<bool, ApiError> {
        crate::inbox::update(&self.state, caller, id, update).await
    }

    /// The capacity an inbox partner's staff last set, for their own organisation.
    pub async fn partner_capacity(
        &self,
        caller: &Caller,
    ) -> Result<Option<pathways_store::PartnerCapacity>, ApiError> {
        crate::inbox::capacity(&self.state, caller).await
    }

    /// Sets the capacity of the caller's organisation, an inbox partner; audited.
    pub async fn set_partner_capacity(
        &self,
        caller: &Caller,
        state: pathways_store::CapacityState,
        count: Option<u32>,
        note: Option<String>,
    ) -> Result<pathways_store::PartnerCapacity, ApiError> {
        crate::inbox::set_capacity(&self.state, caller, state, count, note).await
    }

    /// The enabled partners with their breakers (`GET /v1/partners`).
    pub async fn partners(&self, caller: &Caller) -> PartnerList {
        crate::routes::ops::partners(State(self.state.clone()), caller.clone()).await.0
    }
}

fn path(id: &str) -> Path<String> {
    Path(id.to_string())
}

/// What the newest plan's `refer` steps would send ([`Handle::preview_referrals`]).
#[derive(Debug)]
pub struct Previews {
    /// The case's own reference, for headings.
    pub reference: String,
    /// The newest plan.
    pub plan: ActionPlan,
    /// Each `refer` step with the referral it would send, or why it cannot be sent.
    pub steps: Vec<(pathways_core::PlanStep, Result<pathways_core::Referral, ApiError>)>,
}

/// The JSON body of a handler's response, or its error.
async fn json_of<T: DeserializeOwned>(response: Response<Body>) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|_| ApiError::internal())?;
    serde_json::from_slice(&bytes).map_err(|e| {
        tracing::error!(error = %e, "a handler's answer did not read back");
        ApiError::internal()
    })
}
