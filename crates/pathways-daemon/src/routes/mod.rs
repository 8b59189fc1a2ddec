//! The route table: every route the API serves, with what the OpenAPI document says about it.
//!
//! The router is built from this table and the document is generated from it, so the two
//! cannot disagree. Routes for referrals, partner events and reports (CONTRACT.md) join here
//! as entries of the same shape.

mod audit;
mod body;
pub(crate) mod cases;
mod erasure;
mod ops;

pub(crate) use body::JsonBody;

use axum::http::Method;
use axum::routing::{delete, get, post, put, MethodRouter};

use crate::auth::Role;
use crate::state::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key needed.
    Open,
    /// Any valid key.
    AnyKey,
    /// A key with one of these roles.
    Roles(&'static [Role]),
}

/// One route of the API as the document describes it.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// The method.
    pub method: Method,
    /// The path, with `{name}` parameters as axum and OpenAPI both write them.
    pub path: &'static str,
    /// The operation id in the document.
    pub operation_id: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The component schema of the JSON request body, if it takes one.
    pub request: Option<&'static str>,
    /// Statuses it answers, with the component schema of each body (`None`: not JSON).
    pub responses: &'static [(u16, Option<&'static str>)],
}

const PATHFINDER: &[Role] = &[Role::Pathfinder];
const FOLLOWERS: &[Role] = &[Role::Pathfinder, Role::Coordinator];
const ERR: Option<&str> = Some("Error");

/// Every route: its description and its handler.
pub fn table() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    let spec = |method, path, operation_id, summary, access, request, responses| RouteSpec {
        method,
        path,
        operation_id,
        summary,
        access,
        request,
        responses,
    };
    vec![
        (
            spec(
                Method::POST,
                "/v1/cases",
                "createCase",
                "Store a new case (strictly validated).",
                Access::Roles(PATHFINDER),
                Some("Case"),
                &[
                    (201, Some("CaseCreated")),
                    (400, ERR),
                    (401, ERR),
                    (403, ERR),
                    (413, ERR),
                    (415, ERR),
                    (429, ERR),
                ],
            ),
            post(cases::create),
        ),
        (
            spec(
                Method::GET,
                "/v1/cases/{id}",
                "getCase",
                "The owner's view of its case, or a partner organisation's view: the referrals delivered to it, as sent.",
                Access::Roles(PATHFINDER),
                None,
                &[(200, Some("CaseView")), (401, ERR), (403, ERR), (404, ERR)],
            ),
            get(cases::read),
        ),
        (
            spec(
                Method::DELETE,
                "/v1/cases/{id}",
                "eraseCase",
                "Erase the client's personal data from every table at once (UK GDPR Art. 17); refused while a legal hold stands.",
                Access::Roles(&[Role::Pathfinder, Role::Admin]),
                Some("ErasureRequest"),
                &[
                    (200, Some("Erased")),
                    (400, ERR),
                    (401, ERR),
                    (403, ERR),
                    (404, ERR),
                    (409, ERR),
                    (415, ERR),
                ],
            ),
            delete(erasure::erase),
        ),
        (
            spec(
                Method::GET,
                "/v1/cases/{id}/export",
                "exportCase",
                "Everything held about the client of a case (subject access, UK GDPR Art. 15).",
                Access::Roles(&[Role::Pathfinder, Role::Admin]),
                None,
                &[(200, Some("SubjectAccessExport")), (401, ERR), (403, ERR), (404, ERR)],
            ),
            get(erasure::export),
        ),
        (
            spec(
                Method::PUT,
                "/v1/cases/{id}/legal-hold",
                "setLegalHold",
                "Set a safeguarding or legal hold: erasure is refused until it is lifted.",
                Access::Roles(&[Role::Admin]),
                Some("HoldRequest"),
                &[(200, Some("LegalHoldSet")), (400, ERR), (401, ERR), (403, ERR), (404, ERR), (415, ERR)],
            ),
            put(erasure::set_hold),
        ),
        (
            spec(
                Method::DELETE,
                "/v1/cases/{id}/legal-hold",
                "liftLegalHold",
                "Lift a case's legal hold.",
                Access::Roles(&[Role::Admin]),
                None,
                &[(200, Some("LegalHoldSet")), (401, ERR), (403, ERR), (404, ERR)],
            ),
            delete(erasure::lift_hold),
        ),
        (
            spec(
                Method::POST,
                "/v1/cases/{id}/plan",
                "planCase",
                "Ask the partners and store a coordinated action plan.",
                Access::Roles(PATHFINDER),
                None,
                &[
                    (201, Some("ActionPlan")),
                    (401, ERR),
                    (403, ERR),
                    (404, ERR),
                    (429, ERR),
                    (503, ERR),
                ],
            ),
            post(cases::plan),
        ),
        (
            spec(
                Method::GET,
                "/v1/cases/{id}/plan",
                "getPlan",
                "The newest plan of a case.",
                Access::Roles(PATHFINDER),
                None,
                &[(200, Some("ActionPlan")), (401, ERR), (403, ERR), (404, ERR)],
            ),
            get(cases::read_plan),
        ),
        (
            spec(
                Method::POST,
                "/v1/cases/{id}/referrals",
                "createReferrals",
                "Refer chosen plan steps (header `Idempotency-Key`); consent checked per step.",
                Access::Roles(PATHFINDER),
                Some("ReferralRequest"),
                &[
                    (202, Some("ReferralsAccepted")),
                    (400, ERR),
                    (401, ERR),
                    (403, ERR),
                    (404, ERR),
                    (409, ERR),
                    (422, ERR),
                    (503, ERR),
                ],
            ),
            post(crate::referrals::create),
        ),
        (
            spec(
                Method::GET,
                "/v1/referrals/{id}",
                "getReferral",
                "The owner's view (state, history, dispatch; `needs_chasing` when overdue), or the receiving partner's (state and what was sent).",
                Access::Roles(FOLLOWERS),
                None,
                &[(200, Some("ReferralView")), (401, ERR), (403, ERR), (404, ERR)],
            ),
            get(crate::referrals::read),
        ),
        (
            spec(
                Method::POST,
                "/v1/partners/{partner_id}/events",
                "partnerEvent",
                "A partner's signed status callback (Standard Webhooks; the signature authenticates).",
                Access::Open,
                Some("PartnerEvent"),
                &[
                    (200, Some("Status")),
                    (400, ERR),
                    (401, ERR),
                    (404, ERR),
                    (409, ERR),
                    (422, ERR),
                ],
            ),
            post(crate::webhooks::receive),
        ),
        (
            spec(
                Method::GET,
                "/v1/reports/pathways",
                "pathwayReport",
                "Per partner and need over `[from, to)`, for the caller's organisation's cases (the operator's admins: all): sent, accepted %, rejections, completed %, medians.",
                Access::Roles(&[Role::Coordinator, Role::Admin]),
                None,
                &[(200, Some("PathwayReport")), (400, ERR), (401, ERR), (403, ERR)],
            ),
            get(crate::reports::pathways),
        ),
        (
            spec(
                Method::GET,
                "/v1/audit",
                "auditLog",
                "Audit entries (who read or changed what, when, how it ended; no personal data), by case and time.",
                Access::Roles(&[Role::Admin]),
                None,
                &[(200, Some("AuditPage")), (400, ERR), (401, ERR), (403, ERR)],
            ),
            get(audit::entries),
        ),
        (
            spec(
                Method::GET,
                "/v1/partners",
                "listPartners",
                "The enabled partners and their circuit state.",
                Access::AnyKey,
                None,
                &[(200, Some("PartnerList")), (401, ERR)],
            ),
            get(ops::partners),
        ),
        (
            spec(
                Method::GET,
                "/healthz",
                "health",
                "The process is alive.",
                Access::Open,
                None,
                &[(200, Some("Status"))],
            ),
            get(ops::healthz),
        ),
        (
            spec(
                Method::GET,
                "/readyz",
                "ready",
                "Storage answers and partners are loaded.",
                Access::Open,
                None,
                &[(200, Some("Status")), (503, ERR)],
            ),
            get(ops::readyz),
        ),
        (
            spec(
                Method::GET,
                "/metrics",
                "metrics",
                "Prometheus metrics, text format.",
                Access::Open,
                None,
                &[(200, None)],
            ),
            get(ops::metrics),
        ),
        (
            spec(
                Method::GET,
                "/openapi.json",
                "openapi",
                "This document.",
                Access::Open,
                None,
                &[(200, None)],
            ),
            get(ops::openapi),
        ),
    ]
}
