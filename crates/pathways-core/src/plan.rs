//! The coordinated action plan (docs/api.md, "A plan").
//!
//! One ordered sequence of entries, one per need of the case, safety first. Each entry's
//! `action` says what kind it is and carries exactly that kind's fields, so a `refer` step
//! always names its partner and service, a `blocked` step always says what is missing, and an
//! `unmet` entry keeps its urgency and due date. The plan's JSON is not an ABI type: plugins
//! never see it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::availability::{ServiceContact, ServiceRef};
use crate::need::{NeedCode, Urgency};
use crate::personal::Personal;
use crate::prerequisite::Missing;
use crate::referral::ClientField;

/// One version of the plan for one case: every need of the case exactly once in `steps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ActionPlan {
    /// The case the plan is for (the case reference until the daemon assigns ids).
    pub case_id: String,
    /// 1 for the first plan of a case; each amendment or re-plan adds one.
    pub version: u32,
    /// The day the plan was made; due dates count from it, and amendments keep it.
    pub planned_on: NaiveDate,
    /// Every partner asked answered. When false, `incomplete` says who did not and why, and
    /// the plan may change once they answer.
    pub complete: bool,
    /// Why the plan is incomplete, one line per partner that did not answer, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
    /// The first thing to say when an emergency safety need has no service: "if you are in
    /// immediate danger, call 999".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_now: Option<String>,
    /// Who coordinates the plan with the client.
    pub lead: Lead,
    /// What to do, in order, one entry per need: safety first, then urgency.
    pub steps: Vec<PlanStep>,
    /// What the client will do themselves, in their words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_actions: Vec<ClientAction>,
    /// What the client wants to achieve, in their words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<Personal<String>>,
    /// The language of the client-facing words (`why`, `act_now`, the lead's `why`).
    pub language: String,
    /// The client needs an interpreter in this language; every referral says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    /// How each partner asked answered.
    pub partners: Vec<PartnerReport>,
    /// Every change made with the client, oldest first; a re-plan keeps those that still
    /// apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<AmendmentRecord>,
    /// Amendments a re-plan could not keep, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedAmendment>,
    /// When this version was made.
    pub generated_at: DateTime<Utc>,
}

/// An id with the name people know it by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Named {
    /// The id in configuration.
    pub id: String,
    /// The display name.
    pub name: String,
}

/// The organisation that coordinates the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lead {
    /// The referring organisation coordinates.
    Referrer {
        /// The organisation.
        organisation: Named,
        /// Why it leads.
        reason: LeadReason,
        /// Why, in words to read aloud.
        why: String,
    },
    /// A partner coordinates.
    Partner {
        /// The partner.
        partner: Named,
        /// Its service in the plan, when the plan refers to it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<ServiceRef>,
        /// Why it leads.
        reason: LeadReason,
        /// Why, in words to read aloud.
        why: String,
    },
}

impl Lead {
    /// The lead's id: a partner id or the referring organisation's id.
    pub fn id(&self) -> &str {
        match self {
            Lead::Referrer { organisation, .. } => &organisation.id,
            Lead::Partner { partner, .. } => &partner.id,
        }
    }

    /// Why, in words.
    pub fn why(&self) -> &str {
        match self {
            Lead::Referrer { why, .. } | Lead::Partner { why, .. } => why,
        }
    }
}

/// Which rule chose the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeadReason {
    /// No rule applied: the referring organisation leads.
    Default,
    /// A rule for a need: the partner serving it leads (e.g. a domestic-abuse service).
    ServingNeed,
    /// A rule: the referring organisation leads.
    ReferrerRule,
    /// A rule: the partner with the most steps leads.
    MostSteps,
    /// A rule: a statutory lead for a need (e.g. adult social care for safeguarding).
    Statutory,
    /// The client asked for this organisation.
    ClientPreference,
}

/// One entry of the plan, for one need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlanStep {
    /// 1-based position in the plan.
    pub order: u32,
    /// The need's id in the case.
    pub need_id: String,
    /// The need it is for.
    pub need: NeedCode,
    /// How soon the need must be met.
    pub urgency: Urgency,
    /// The date the need should be met by.
    pub due_by: NaiveDate,
    /// Someone may be in danger: this entry comes before every other.
    pub safety: bool,
    /// What to say to the client, in their language.
    pub why: String,
    /// For the pathfinder only: technical terms, what to check, what to ask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What kind of entry, with its own fields.
    #[serde(flatten)]
    pub action: StepAction,
}

/// What kind of entry, each with exactly its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepAction {
    /// Send a referral to the partner.
    Refer(Referable),
    /// The client contacts the service themselves.
    Signpost(Contactable),
    /// Something the client uses on their own (a website, a tool).
    SelfHelp(Contactable),
    /// The referring organisation helps with this itself.
    InHouse {
        /// The referring organisation.
        organisation: Named,
        /// What it will do, in the pathfinder's words.
        service: String,
    },
    /// The client chose not to take this up.
    Declined {
        /// The service that was offered, if one was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offered: Option<ChosenService>,
        /// The client's reason, as recorded.
        reason: Personal<String>,
    },
    /// The best service needs something the case does not record yet.
    Blocked {
        /// The service, once unblocked.
        #[serde(flatten)]
        chosen: ChosenService,
        /// What is missing.
        missing: Vec<Missing>,
        /// Other services, in order of preference.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fallbacks: Vec<Fallback>,
    },
    /// No service can meet the need now.
    Unmet {
        /// Services the client can contact themselves meanwhile.
        signposts: Vec<Signpost>,
        /// Why, as codes for reports (the step's `why` says it in words): every reason that
        /// applied, each once, in this enum's order. Empty in plans from before reasons were
        /// kept.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<UnmetReason>,
    },
}

/// Why no service could meet a need, for the evidence coordinators give commissioners
/// (`GET /v1/reports/unmet`). Several can apply to one need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UnmetReason {
    /// No partner enabled for the client's area offers help with this need.
    NoServiceInArea,
    /// Partners that help with it answered, but had no service for this client.
    NoOffer,
    /// A service exists, but the client is not eligible for it.
    NotEligible,
    /// A service exists, but has no space (closed, full or no capacity).
    NoCapacity,
    /// A partner that helps with it did not answer in time, failed, or was held back.
    NoAnswer,
    /// A code a newer version wrote.
    #[serde(other)]
    Other,
}

impl UnmetReason {
    /// The wire name (`no_service_in_area`...).
    pub fn as_str(self) -> &'static str {
        match self {
            UnmetReason::NoServiceInArea => "no_service_in_area",
            UnmetReason::NoOffer => "no_offer",
            UnmetReason::NotEligible => "not_eligible",
            UnmetReason::NoCapacity => "no_capacity",
            UnmetReason::NoAnswer => "no_answer",
            UnmetReason::Other => "other",
        }
    }
}

impl StepAction {
    /// The wire name of the kind (`refer`, `signpost`...).
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::Refer(_) => "refer",
            StepAction::Signpost(_) => "signpost",
            StepAction::SelfHelp(_) => "self_help",
            StepAction::InHouse { .. } => "in_house",
            StepAction::Declined { .. } => "declined",
            StepAction::Blocked { .. } => "blocked",
            StepAction::Unmet { .. } => "unmet",
        }
    }
}

/// A partner's service chosen for a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChosenService {
    /// The partner.
    pub partner: Named,
    /// Its service.
    pub service: ServiceRef,
    /// How to reach the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ServiceContact>,
}

/// A step the pathfinder refers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Referable {
    /// The partner and service.
    #[serde(flatten)]
    pub chosen: ChosenService,
    /// The client fields the referral would share.
    pub shares: Vec<ClientField>,
    /// The case's consent does not cover this partner: ask the client before referring.
    pub needs_consent: bool,
    /// When the service expects to start, and whether that is later than the need can wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Wait>,
    /// Other services to try if this one says no, at most two.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Fallback>,
}

/// A service the client contacts or uses themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Contactable {
    /// The partner and service.
    #[serde(flatten)]
    pub chosen: ChosenService,
    /// When the service expects to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Wait>,
    /// Other services, in order of preference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Fallback>,
}

/// A wait set against the need's urgency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Wait {
    /// The first day the client could be seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_start: Option<NaiveDate>,
    /// The partner's own words on the wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<String>,
    /// The wait is longer than the need can wait (earliest start after `due_by`).
    pub longer_than_need: bool,
    /// Where the client can turn meanwhile, when the wait is too long.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interim: Vec<Signpost>,
}

/// Another service to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Fallback {
    /// The partner and service.
    #[serde(flatten)]
    pub chosen: ChosenService,
    /// Why it is the next choice, in words.
    pub why: String,
}

/// A service the client can contact themselves (a national helpline, a local scheme).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Signpost {
    /// The service's name, e.g. `Shelter`.
    pub name: String,
    /// Telephone number, as a client would dial it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A few words on what it offers or when it is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The network the service belongs to (e.g. `citizens-advice`): never offered to a
    /// client of an organisation in the same network, who is already being helped by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

impl std::fmt::Display for Signpost {
    /// One line to read aloud: "Shelter helpline: 0808 800 4444 (housing advice)".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        match (&self.phone, &self.url) {
            (Some(phone), _) => write!(f, ": {phone}")?,
            (None, Some(url)) => write!(f, ": {url}")?,
            (None, None) => {}
        }
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

/// Something the client will do themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClientAction {
    /// In the client's words.
    pub text: Personal<String>,
    /// The need it is for, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub need_id: Option<String>,
}

/// One change made to the plan with the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Amendment {
    /// Use this partner's service for the need: a listed fallback, or any service a partner
    /// offered for it.
    Choose {
        /// The need.
        need_id: String,
        /// The partner.
        partner_id: String,
        /// Its service.
        service_id: String,
    },
    /// The client does not want this need's step.
    Decline {
        /// The need.
        need_id: String,
        /// The client's reason.
        reason: Personal<String>,
    },
    /// The referring organisation will help with the need itself.
    InHouse {
        /// The need.
        need_id: String,
        /// What it will do, e.g. "debt advice appointment with our money adviser".
        #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 500)))]
        service: String,
    },
    /// Something the client will do themselves.
    ClientAction {
        /// In the client's words.
        text: Personal<String>,
        /// The need it is for, if one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        need_id: Option<String>,
    },
    /// Something the client wants to achieve.
    Goal {
        /// In the client's words.
        text: Personal<String>,
    },
    /// Put the entries that are not safety entries in this order (need ids; every non-safety
    /// entry once). Safety entries stay first.
    Reorder {
        /// Need ids, in the new order.
        need_ids: Vec<String>,
    },
}

impl Amendment {
    /// The need it changes, if one.
    pub fn need_id(&self) -> Option<&str> {
        match self {
            Amendment::Choose { need_id, .. }
            | Amendment::Decline { need_id, .. }
            | Amendment::InHouse { need_id, .. } => Some(need_id),
            Amendment::ClientAction { need_id, .. } => need_id.as_deref(),
            Amendment::Goal { .. } | Amendment::Reorder { .. } => None,
        }
    }
}

/// An amendment as recorded in the plan's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AmendmentRecord {
    /// The version it made.
    pub version: u32,
    /// Who made it (the signed-in person, or the API key's worker).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, in the pathfinder's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What changed.
    pub change: Amendment,
}

/// An amendment a re-plan could not keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DroppedAmendment {
    /// The amendment.
    pub amendment: AmendmentRecord,
    /// Why it no longer applies.
    pub why: String,
}

/// How one partner answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PartnerReport {
    /// The partner id.
    pub partner_id: String,
    /// The partner's display name.
    #[serde(default)]
    pub name: String,
    /// What happened.
    pub outcome: PartnerOutcome,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// What went wrong, for the operator, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What happened when a partner was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerOutcome {
    /// It answered in time.
    Answered,
    /// No answer by the deadline.
    TimedOut,
    /// Its system could not be reached (connection refused, name not found).
    Unreachable,
    /// It answered with an error.
    Failed,
    /// Not asked: its circuit breaker is open after repeated failures.
    CircuitOpen,
    /// Not asked: overloaded, or nothing to ask it.
    Skipped,
}

impl PlanStep {
    /// The partner's service the entry is about: for `refer`, `signpost`, `self_help` and
    /// `blocked`.
    pub fn chosen(&self) -> Option<&ChosenService> {
        match &self.action {
            StepAction::Refer(r) => Some(&r.chosen),
            StepAction::Signpost(c) | StepAction::SelfHelp(c) => Some(&c.chosen),
            StepAction::Blocked { chosen, .. } => Some(chosen),
            _ => None,
        }
    }

    /// The chosen partner's id.
    pub fn partner_id(&self) -> Option<&str> {
        self.chosen().map(|c| c.partner.id.as_str())
    }

    /// The chosen service.
    pub fn service(&self) -> Option<&ServiceRef> {
        self.chosen().map(|c| &c.service)
    }

    /// The fallbacks, where the kind has them.
    pub fn fallbacks(&self) -> &[Fallback] {
        match &self.action {
            StepAction::Refer(r) => &r.fallbacks,
            StepAction::Signpost(c) | StepAction::SelfHelp(c) => &c.fallbacks,
            StepAction::Blocked { fallbacks, .. } => fallbacks,
            _ => &[],
        }
    }

    /// The client fields a `refer` step would share (nothing for any other kind).
    pub fn shares(&self) -> &[ClientField] {
        match &self.action {
            StepAction::Refer(r) => &r.shares,
            _ => &[],
        }
    }

    /// Whether a `refer` step must wait for the client's agreement (false for other kinds).
    pub fn needs_consent(&self) -> bool {
        matches!(&self.action, StepAction::Refer(r) if r.needs_consent)
    }

    /// Whether it is a `refer` step.
    pub fn is_refer(&self) -> bool {
        matches!(self.action, StepAction::Refer(_))
    }

    /// The signposts of an `unmet` entry (nothing for any other kind).
    pub fn signposts(&self) -> &[Signpost] {
        match &self.action {
            StepAction::Unmet { signposts, .. } => signposts,
            _ => &[],
        }
    }

    /// Whether it is an `unmet` entry.
    pub fn is_unmet(&self) -> bool {
        matches!(self.action, StepAction::Unmet { .. })
    }
}

impl ActionPlan {
    /// The `unmet` entries, in order.
    pub fn unmet(&self) -> impl Iterator<Item = &PlanStep> {
        self.steps.iter().filter(|s| s.is_unmet())
    }

    /// Every need id in the plan, in order, for checking that each appears once.
    pub fn need_ids(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.need_id.as_str()).collect()
    }

    /// The entry for a need id.
    pub fn step_for(&self, need_id: &str) -> Option<&PlanStep> {
        self.steps.iter().find(|s| s.need_id == need_id)
    }
}
