//! The route table: every route the API serves, with what the OpenAPI document says about it.
//!
//! The router is built from this table and the document is generated from it, so the two
//! cannot disagree. Routes for referrals, partner events and reports (CONTRACT.md) join here
//! as entries of the same shape.

pub(crate) mod audit;
mod body;
pub(crate) mod cases;
pub(crate) mod consent;
pub(crate) mod erasure;
pub(crate) mod ops;

pub(crate) use body::{JsonBody, RawBody};

use axum::http::Method;
use axum::routing::{delete, get, post, put, MethodRouter};

use crate::api::{
    AuditPage, CaseCreated, Erased, ErrorBody, LegalHoldState, PartnerList, PathwayReport,
    ReferralsAccepted, Status,
};
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

/// A body's JSON Schema, derived from the Rust type that carries it (`schema::<T>`).
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// The schema of `T`, registered with the generator as a component.
pub fn schema<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// A request header a route reads.
#[derive(Debug, Clone, Copy)]
pub struct HeaderSpec {
    /// Its name.
    pub name: &'static str,
    /// Whether a request without it is refused.
    pub required: bool,
    /// What it is for.
    pub description: &'static str,
    /// The rule its value follows (a regular expression), which the handler enforces.
    pub pattern: &'static str,
    /// Its length limit.
    pub max_length: u64,
}

/// An OpenAPI link from a response to another operation: which operation, and which of its
/// parameters come from the response body.
#[derive(Debug, Clone, Copy)]
pub struct LinkSpec {
    /// The link's name.
    pub name: &'static str,
    /// The operation it leads to.
    pub operation_id: &'static str,
    /// `(parameter, runtime expression)`, e.g. `("id", "$response.body#/id")`.
    pub parameter: (&'static str, &'static str),
}

/// One route of the API as the document describes it. The statuses every route can meet
/// because of the middleware (401/403 by access, 400/413/415 for a body, 429, 503) are added by
/// the document itself, from `access` and `request`; `responses` lists what the handler
/// answers on its own.
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
    /// The JSON request body's type, if it takes one.
    pub request: Option<SchemaFn>,
    /// The query parameters' type (each property one parameter), if it reads any.
    pub query: Option<SchemaFn>,
    /// Headers it reads.
    pub headers: &'static [HeaderSpec],
    /// Statuses the handler answers, with the type of each body (`None`: not JSON).
    pub responses: Vec<(u16, Option<SchemaFn>)>,
    /// Links from its success response to other operations.
    pub links: &'static [LinkSpec],
    /// A request body that succeeds, as JSON text (the document's example; clients and the
    /// API fuzzer start from it).
    pub example: Option<&'static str>,
    /// Whether its success may also be CSV (`text/csv`), as the query chooses.
    pub csv: bool,
}

const PATHFINDER: &[Role] = &[Role::Pathfinder];
const OWNER_OR_ADMIN: &[Role] = &[Role::Pathfinder, Role::Admin];
const ADMIN: &[Role] = &[Role::Admin];
/// A referral is read by its case's organisation and by the partner it was sent to (a
/// partner's staff in the console, or its system), each through its own view.
const REFERRAL_READERS: &[Role] = &[Role::Pathfinder, Role::Coordinator, Role::Partner];
const REPORTERS: &[Role] = &[Role::Coordinator, Role::Admin];
/// The follow-up schedule and the cases due: the organisation's pathfinders do the follow-ups.
const SCHEDULE_READERS: &[Role] = &[Role::Pathfinder, Role::Coordinator, Role::Admin];

/// An error answer's body.
fn err(status: u16) -> (u16, Option<SchemaFn>) {
    (status, Some(schema::<ErrorBody>))
}

/// A JSON answer of type `T`.
fn ok<T: schemars::JsonSchema>(status: u16) -> (u16, Option<SchemaFn>) {
    (status, Some(schema::<T>))
}

/// The `Idempotency-Key` header of the referral intake.
pub const IDEMPOTENCY_KEY: HeaderSpec = HeaderSpec {
    name: "Idempotency-Key",
    required: true,
    description: "Makes a retry harmless: the same key with the same body answers the first \
                  response again; with another body, 422; while the first is in flight, 409.",
    pattern: "^[!-~]+$",
    max_length: 128,
};

/// The Standard Webhooks headers of a partner's callback.
const WEBHOOK_HEADERS: &[HeaderSpec] = &[
    HeaderSpec {
        name: "webhook-id",
        required: true,
        description: "The event's id; a repeat is refused as a replay (409).",
        pattern: "^[!-~]+$",
        max_length: 256,
    },
    HeaderSpec {
        name: "webhook-timestamp",
        required: true,
        description: "Unix seconds; more than 5 minutes off is refused (401).",
        pattern: "^[0-9]+$",
        max_length: 20,
    },
    HeaderSpec {
        name: "webhook-signature",
        required: true,
        description: "Space-separated `v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}`.",
        pattern: "^[!-~ ]+$",
        max_length: 4096,
    },
];

const CASE_LINKS: &[LinkSpec] = &[
    LinkSpec { name: "case", operation_id: "getCase", parameter: ("id", "$response.body#/id") },
    LinkSpec { name: "plan", operation_id: "planCase", parameter: ("id", "$response.body#/id") },
    LinkSpec {
        name: "referrals",
        operation_id: "createReferrals",
        parameter: ("id", "$response.body#/id"),
    },
    LinkSpec {
        name: "export",
        operation_id: "exportCase",
        parameter: ("id", "$response.body#/id"),
    },
];

/// A planned case's plan can be read back and its steps referred.
const PLAN_LINKS: &[LinkSpec] = &[
    LinkSpec { name: "readPlan", operation_id: "getPlan", parameter: ("id", "$request.path.id") },
    LinkSpec {
        name: "referrals",
        operation_id: "createReferrals",
        parameter: ("id", "$request.path.id"),
    },
];

const REFERRAL_LINKS: &[LinkSpec] = &[LinkSpec {
    name: "referral",
    operation_id: "getReferral",
    parameter: ("id", "$response.body#/referrals/0/id"),
}];

/// Every route: its description and its handler.
pub fn table() -> Vec<(RouteSpec, MethodRouter<AppState>)> {
    let spec = |method, path, operation_id, summary, access| RouteSpec {
        method,
        path,
        operation_id,
        summary,
        access,
        request: None,
        query: None,
        headers: &[],
        responses: Vec::new(),
        links: &[],
        example: None,
        csv: false,
    };
    vec![
        (
            RouteSpec {
                request: Some(schema::<pathways_core::Case>),
                responses: vec![ok::<CaseCreated>(201), err(422)],
                links: CASE_LINKS,
                example: Some(include_str!("../../../../examples/cases/debt-food-eviction.json")),
                ..spec(
                    Method::POST,
                    "/v1/cases",
                    "createCase",
                    "Store a new case (strictly validated).",
                    Access::Roles(PATHFINDER),
                )
            },
            post(cases::create),
        ),
        (
            RouteSpec {
                responses: vec![ok::<crate::access::CaseView>(200), err(404)],
                ..spec(
                    Method::GET,
                    "/v1/cases/{id}",
                    "getCase",
                    "The owner's view of its case, or a partner organisation's view: the referrals delivered to it, as sent.",
                    Access::Roles(PATHFINDER),
                )
            },
            get(cases::read),
        ),
        (
            RouteSpec {
                request: Some(schema::<erasure::ErasureRequest>),
                responses: vec![ok::<Erased>(200), err(404), err(409)],
                ..spec(
                    Method::DELETE,
                    "/v1/cases/{id}",
                    "eraseCase",
                    "Erase the client's personal data from every table at once (UK GDPR Art. 17); refused while a legal hold stands.",
                    Access::Roles(OWNER_OR_ADMIN),
                )
            },
            delete(erasure::erase),
        ),
        (
            RouteSpec {
                responses: vec![ok::<crate::access::SubjectAccessExport>(200), err(404)],
                ..spec(
                    Method::GET,
                    "/v1/cases/{id}/export",
                    "exportCase",
                    "Everything held about the client of a case (subject access, UK GDPR Art. 15).",
                    Access::Roles(OWNER_OR_ADMIN),
                )
            },
            get(erasure::export),
        ),
        (
            RouteSpec {
                request: Some(schema::<erasure::HoldRequest>),
                responses: vec![ok::<LegalHoldState>(200), err(404)],
                ..spec(
                    Method::PUT,
                    "/v1/cases/{id}/legal-hold",
                    "setLegalHold",
                    "Set a safeguarding or legal hold: erasure is refused until it is lifted.",
                    Access::Roles(ADMIN),
                )
            },
            put(erasure::set_hold),
        ),
        (
            RouteSpec {
                responses: vec![ok::<LegalHoldState>(200), err(404)],
                ..spec(
                    Method::DELETE,
                    "/v1/cases/{id}/legal-hold",
                    "liftLegalHold",
                    "Lift a case's legal hold.",
                    Access::Roles(ADMIN),
                )
            },
            delete(erasure::lift_hold),
        ),
        (
            RouteSpec {
                request: Some(schema::<consent::ConsentChange>),
                responses: vec![ok::<consent::ConsentChanged>(200), err(400), err(404)],
                example: Some(r#"{"lawful_basis": "consent", "share_with": "none"}"#),
                ..spec(
                    Method::PUT,
                    "/v1/cases/{id}/consent",
                    "replaceConsent",
                    "Record the client's consent as it now stands (history kept); live referrals it no longer covers are cancelled.",
                    Access::Roles(PATHFINDER),
                )
            },
            put(consent::replace),
        ),
        (
            RouteSpec {
                request: Some(schema::<crate::reports::outcomes::FollowUpRequest>),
                responses: vec![ok::<pathways_core::FollowUp>(201), err(400), err(404), err(422)],
                example: Some(r#"{"needs": [{"need_id": "n1", "met": "met"}]}"#),
                ..spec(
                    Method::POST,
                    "/v1/cases/{id}/follow-ups",
                    "recordFollowUp",
                    "Record a follow-up with the client: ONS4 wellbeing (if they agree) and whether each need was met.",
                    Access::Roles(PATHFINDER),
                )
            },
            post(crate::reports::outcomes::record),
        ),
        (
            RouteSpec {
                responses: vec![ok::<pathways_core::ActionPlan>(201), err(404)],
                links: PLAN_LINKS,
                ..spec(
                    Method::POST,
                    "/v1/cases/{id}/plan",
                    "planCase",
                    "Ask the partners and store a coordinated action plan.",
                    Access::Roles(PATHFINDER),
                )
            },
            post(cases::plan),
        ),
        (
            RouteSpec {
                query: Some(schema::<cases::PlanQuery>),
                responses: vec![ok::<pathways_core::ActionPlan>(200), err(404)],
                ..spec(
                    Method::GET,
                    "/v1/cases/{id}/plan",
                    "getPlan",
                    "The newest plan of a case, or an earlier version (`?version=n`).",
                    Access::Roles(PATHFINDER),
                )
            },
            get(cases::read_plan),
        ),
        (
            RouteSpec {
                request: Some(schema::<cases::PlanAmendments>),
                responses: vec![ok::<pathways_core::ActionPlan>(200), err(404), err(409), err(422)],
                example: Some(r#"{"version": 1, "reason": "agreed with the client", "amendments": [{"op": "goal", "text": "keep my flat"}]}"#),
                ..spec(
                    Method::PATCH,
                    "/v1/cases/{id}/plan",
                    "amendPlan",
                    "Amend the newest plan with the client: a new version, history kept.",
                    Access::Roles(PATHFINDER),
                )
            },
            axum::routing::patch(cases::amend_plan),
        ),
        (
            RouteSpec {
                request: Some(schema::<crate::referrals::ReferralRequest>),
                headers: &[IDEMPOTENCY_KEY],
                responses: vec![ok::<ReferralsAccepted>(202), err(404), err(409), err(422)],
                links: REFERRAL_LINKS,
                example: Some("{}"),
                ..spec(
                    Method::POST,
                    "/v1/cases/{id}/referrals",
                    "createReferrals",
                    "Refer chosen plan steps; consent checked per step; one live referral per step.",
                    Access::Roles(PATHFINDER),
                )
            },
            post(crate::referrals::create),
        ),
        (
            RouteSpec {
                responses: vec![ok::<crate::access::ReferralViews>(200), err(404)],
                ..spec(
                    Method::GET,
                    "/v1/referrals/{id}",
                    "getReferral",
                    "The owner's view (state, history, dispatch; `needs_chasing` when overdue), or the receiving partner's (state and what was sent).",
                    Access::Roles(REFERRAL_READERS),
                )
            },
            get(crate::referrals::read),
        ),
        (
            RouteSpec {
                request: Some(schema::<crate::referrals::CancelBody>),
                responses: vec![
                    ok::<crate::access::ReferralView>(200),
                    ok::<crate::access::ReferralView>(202),
                    err(400),
                    err(404),
                    err(409),
                ],
                example: Some(r#"{"reason": "no_longer_needed"}"#),
                ..spec(
                    Method::POST,
                    "/v1/referrals/{id}/cancel",
                    "cancelReferral",
                    "Withdraw a referral: at once if not yet sent (200), else through the partner's connector (202); `409 already_final` when it is finished.",
                    Access::Roles(PATHFINDER),
                )
            },
            post(crate::referrals::cancel),
        ),
        (
            RouteSpec {
                responses: vec![ok::<ReferralsAccepted>(202), err(404), err(409), err(422)],
                ..spec(
                    Method::POST,
                    "/v1/referrals/{id}/reroute",
                    "rerouteReferral",
                    "Accept the re-route of a rejected or failed referral: the plan chooses the step's next fallback and the step is referred to it (idempotent).",
                    Access::Roles(PATHFINDER),
                )
            },
            post(crate::referrals::reroute::accept),
        ),
        (
            RouteSpec {
                responses: vec![ok::<crate::Reroutes>(200), err(404)],
                ..spec(
                    Method::GET,
                    "/v1/cases/{id}/reroutes",
                    "listReroutes",
                    "For each step whose referral was rejected or failed, the next service to try.",
                    Access::Roles(PATHFINDER),
                )
            },
            get(crate::referrals::reroute::list),
        ),
        (
            RouteSpec {
                request: Some(schema::<crate::webhooks::Event>),
                headers: WEBHOOK_HEADERS,
                responses: vec![ok::<Status>(200), err(401), err(404), err(409), err(422)],
                ..spec(
                    Method::POST,
                    "/v1/partners/{partner_id}/events",
                    "partnerEvent",
                    "A partner's signed status callback (Standard Webhooks; the signature authenticates).",
                    Access::Open,
                )
            },
            post(crate::webhooks::receive),
        ),
        (
            RouteSpec {
                query: Some(schema::<crate::reports::Range>),
                responses: vec![ok::<PathwayReport>(200), err(400), err(422)],
                ..spec(
                    Method::GET,
                    "/v1/reports/pathways",
                    "pathwayReport",
                    "Per partner and need over `[from, to)`, for the caller's organisation's cases (the operator's admins: all): sent, accepted %, rejections, completed %, medians.",
                    Access::Roles(REPORTERS),
                )
            },
            get(crate::reports::pathways),
        ),
        (
            RouteSpec {
                query: Some(schema::<crate::reports::UnmetQuery>),
                responses: vec![ok::<crate::api::UnmetReport>(200), err(400), err(422)],
                csv: true,
                ..spec(
                    Method::GET,
                    "/v1/reports/unmet",
                    "unmetReport",
                    "Needs no service could meet, and needs blocked for want of something the case did not record, over `[from, to)`, by need, council area and reason, from each case's newest plan in the range (the caller's organisation's cases; the operator's admins: all). JSON, or CSV with `format=csv`.",
                    Access::Roles(REPORTERS),
                )
            },
            get(crate::reports::unmet),
        ),
        (
            RouteSpec {
                query: Some(schema::<crate::reports::Range>),
                responses: vec![ok::<crate::reports::outcomes::OutcomeReport>(200), err(400), err(422)],
                ..spec(
                    Method::GET,
                    "/v1/reports/outcomes",
                    "outcomesReport",
                    "Per partner × need, from follow-ups recorded over `[from, to)`: the change in ONS4 wellbeing since intake and whether clients said their needs were met; groups under 5 cases suppressed.",
                    Access::Roles(REPORTERS),
                )
            },
            get(crate::reports::outcomes::report),
        ),
        (
            RouteSpec {
                responses: vec![ok::<crate::reports::schedule::ScheduleView>(200)],
                ..spec(
                    Method::GET,
                    "/v1/follow-ups/schedule",
                    "getFollowUpSchedule",
                    "The caller's organisation's follow-up schedule: clients are due a follow-up this many days after the last of their referrals ended (8 weeks until a coordinator sets it).",
                    Access::Roles(SCHEDULE_READERS),
                )
            },
            get(crate::reports::schedule::get),
        ),
        (
            RouteSpec {
                request: Some(schema::<crate::reports::schedule::ScheduleChange>),
                responses: vec![ok::<crate::reports::schedule::ScheduleView>(200), err(400)],
                example: Some(r#"{"after_days": 56}"#),
                ..spec(
                    Method::PUT,
                    "/v1/follow-ups/schedule",
                    "setFollowUpSchedule",
                    "Set the organisation's follow-up schedule, in days after the last referral of a case ended (0 to 366; 0 schedules none).",
                    Access::Roles(REPORTERS),
                )
            },
            put(crate::reports::schedule::put),
        ),
        (
            RouteSpec {
                query: Some(schema::<crate::reports::schedule::DueQuery>),
                responses: vec![ok::<crate::reports::schedule::DueList>(200), err(400)],
                ..spec(
                    Method::GET,
                    "/v1/follow-ups/due",
                    "followUpsDue",
                    "The organisation's cases due a follow-up now under its schedule (every referral ended, one completed, none recorded since), the longest waiting first.",
                    Access::Roles(SCHEDULE_READERS),
                )
            },
            get(crate::reports::schedule::due),
        ),
        (
            RouteSpec {
                query: Some(schema::<audit::AuditQuery>),
                responses: vec![ok::<AuditPage>(200), err(400), err(422)],
                ..spec(
                    Method::GET,
                    "/v1/audit",
                    "auditLog",
                    "Audit entries (who read or changed what, when, how it ended; no personal data), by case and time.",
                    Access::Roles(ADMIN),
                )
            },
            get(audit::entries),
        ),
        (
            RouteSpec {
                responses: vec![ok::<PartnerList>(200)],
                ..spec(
                    Method::GET,
                    "/v1/partners",
                    "listPartners",
                    "The enabled partners and their circuit state.",
                    Access::AnyKey,
                )
            },
            get(ops::partners),
        ),
        (
            RouteSpec {
                responses: vec![ok::<Status>(200)],
                ..spec(Method::GET, "/healthz", "health", "The process is alive.", Access::Open)
            },
            get(ops::healthz),
        ),
        (
            RouteSpec {
                responses: vec![ok::<Status>(200)],
                ..spec(
                    Method::GET,
                    "/readyz",
                    "ready",
                    "Storage answers and partners are loaded.",
                    Access::Open,
                )
            },
            get(ops::readyz),
        ),
        (
            RouteSpec {
                responses: vec![(200, None)],
                ..spec(
                    Method::GET,
                    "/metrics",
                    "metrics",
                    "Prometheus metrics, text format.",
                    Access::Open,
                )
            },
            get(ops::metrics),
        ),
        (
            RouteSpec {
                responses: vec![(200, None)],
                ..spec(Method::GET, "/openapi.json", "openapi", "This document.", Access::Open)
            },
            get(ops::openapi),
        ),
    ]
}
