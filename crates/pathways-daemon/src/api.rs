//! The API's own bodies: what the handlers answer besides the domain types (cases, plans) and
//! the views by role (`crate::access`). Each is a Rust type with a JSON Schema derived from
//! it, so `/openapi.json` says exactly what the handlers serialise; the router tests validate
//! every answer they receive against the document, so the two cannot drift apart unnoticed.

use chrono::{DateTime, Utc};
use pathways_core::NeedCode;
use schemars::JsonSchema;
use serde::Serialize;

/// The one error shape: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_case`.
    pub code: String,
    /// What was wrong and what to do, for a person.
    pub message: String,
}

/// `201` of `POST /v1/cases`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseCreated {
    /// The id the store gave the case.
    pub id: String,
    /// The organisation that owns it (the caller's).
    pub organisation: String,
}

/// `202` of `POST /v1/cases/{id}/referrals`.
#[derive(Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct ReferralsAccepted {
    /// The case.
    pub case_id: String,
    /// One per referred step, in step order.
    pub referrals: Vec<AcceptedReferral>,
}

/// One referral accepted for dispatch.
#[derive(Debug, Serialize, serde::Deserialize, JsonSchema)]
pub struct AcceptedReferral {
    /// The referral's id.
    pub id: String,
    /// The plan step it refers.
    pub step: u32,
    /// The step's need.
    pub need: NeedCode,
    /// The partner it goes to.
    pub partner_id: Option<String>,
    /// Always `draft` on acceptance: the dispatcher sends it.
    pub state: String,
    /// Where to follow it.
    pub href: String,
}

/// `200` of `DELETE /v1/cases/{id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Erased {
    /// The case.
    pub id: String,
    /// Always true.
    pub erased: bool,
    /// Why.
    pub reason: pathways_store::ErasureReason,
    /// Referrals whose payloads were erased.
    pub referrals_erased: u64,
    /// Of those, queued and never sent, now cancelled.
    pub queued_referrals_cancelled: u64,
    /// Plans removed.
    pub plans_removed: u64,
}

/// `200` of `PUT` and `DELETE /v1/cases/{id}/legal-hold`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LegalHoldState {
    /// The case.
    pub id: String,
    /// Whether a hold now stands.
    pub legal_hold: bool,
    /// When it was set (when one stands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_at: Option<DateTime<Utc>>,
    /// Who set it (when one stands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_by: Option<String>,
}

/// `200` of `GET /v1/audit`: one page of the audit log.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditPage {
    /// Oldest first.
    pub entries: Vec<AuditEntryView>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next_after: Option<i64>,
}

/// One audit entry: codes and ids only, never personal data.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditEntryView {
    /// Its position in the log.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// The key (or system actor) that acted.
    pub key_id: String,
    /// Its organisation.
    pub organisation: String,
    /// What was attempted.
    pub action: pathways_store::AuditAction,
    /// The case, if any.
    pub case_id: Option<String>,
    /// The referral, if any.
    pub referral_id: Option<String>,
    /// How it ended.
    pub outcome: pathways_store::AuditOutcome,
}

impl AuditEntryView {
    /// The view of one stored record.
    pub fn of(record: &pathways_store::AuditRecord) -> Self {
        let e = &record.entry;
        Self {
            seq: record.seq,
            at: e.at,
            key_id: e.key_id.clone(),
            organisation: e.organisation.clone(),
            action: e.action,
            case_id: e.case_id.as_ref().map(ToString::to_string),
            referral_id: e.referral_id.as_ref().map(ToString::to_string),
            outcome: e.outcome,
        }
    }
}

/// `200` of `GET /v1/reports/pathways`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PathwayReport {
    /// Start of the range (inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Whose cases: an organisation id, or `all` for the operator's admins.
    pub organisation: String,
    /// Per partner and need.
    pub pathways: Vec<PathwayRow>,
}

/// `200` of `GET /v1/reports/unmet`: needs no service could meet, and needs a service would
/// meet once the case records what it requires, by need, area and reason.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UnmetReport {
    /// Start of the range (inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Whose cases: an organisation id, or `all` for the operator's admins.
    pub organisation: String,
    /// Needs no service could meet, per need and area, most cases first: the newest plan of
    /// each case made in the range. Reasons: `no_service_in_area`, `no_offer`,
    /// `not_eligible`, `no_capacity`, `no_answer` (`not_recorded` for plans made before
    /// reasons were kept).
    pub unmet: Vec<UnmetRow>,
    /// Needs whose best service needs something the case did not record, per need and area.
    /// Reasons: what was missing (`consent_to_refer`, `consent_to_share_contact`,
    /// `chosen_authority`, `authority_not_served`, `client_field`, `direct_contact`).
    pub blocked: Vec<UnmetRow>,
}

/// One need × area line of the unmet report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UnmetRow {
    /// The need.
    pub need: NeedCode,
    /// The ONS code of the client's council area (empty when not known).
    pub area: String,
    /// Cases whose newest plan left this need so.
    pub cases: u64,
    /// How many of those cases for each reason, most first. A case may have several reasons,
    /// so these can add up to more than `cases`.
    pub reasons: Vec<UnmetReasonCount>,
}

/// Cases with one reason.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UnmetReasonCount {
    /// The reason's code.
    pub reason: String,
    /// How many cases.
    pub cases: u64,
}

/// One partner × need line of the report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PathwayRow {
    /// The partner.
    pub partner_id: String,
    /// The need.
    pub need: NeedCode,
    /// Referrals delivered in the range.
    pub sent: u64,
    /// Of those, accepted at some point.
    pub accepted: u64,
    /// `accepted` as a percentage of `sent` (`null` when none was sent).
    pub accepted_percent: Option<f64>,
    /// Rejections by reason, most frequent first.
    pub rejected_by_reason: Vec<ReasonCountView>,
    /// Of those, completed.
    pub completed: u64,
    /// `completed` as a percentage of `sent`.
    pub completed_percent: Option<f64>,
    /// Median seconds from delivery to acceptance.
    pub median_secs_to_acceptance: Option<u64>,
    /// Median seconds from delivery to completion.
    pub median_secs_to_completion: Option<u64>,
}

/// How many referrals were rejected for one reason.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReasonCountView {
    /// The reason.
    pub reason: pathways_core::StatusReason,
    /// How many.
    pub count: u64,
}

/// `200` of `GET /healthz` and of a partner event.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Status {
    /// `ok`, `ready`, or what became of a partner event (`recorded`, `unchanged`).
    pub status: String,
    /// Readiness: the store's backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// Readiness: how many partners are enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partners: Option<u64>,
    /// A partner event: the referral it was about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<String>,
}

/// `200` of `GET /v1/partners`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PartnerList {
    /// The enabled partners, in configuration order.
    pub partners: Vec<PartnerInfo>,
}

/// One enabled partner.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PartnerInfo {
    /// Its id.
    pub id: String,
    /// Its plugin.
    pub plugin: String,
    /// What kind of partner.
    pub kind: pathways_core::PartnerKind,
    /// The plugin's version.
    pub version: String,
    /// The needs it serves.
    pub needs: Vec<NeedCode>,
    /// Where it is offered.
    pub areas: Vec<String>,
    /// Its circuit breaker: `closed`, `half_open` or `open`.
    pub breaker: String,
}
