//! The contract of `pathways`: what a case, a need, an offer, a referral and a plan are, and the
//! [`Partner`] trait every partner connector implements.
//!
//! This crate does no I/O and starts no runtime. It is shared by the daemon and by every plugin,
//! so it changes slowly: add fields with defaults, never rename what is on the wire.
//!
//! What crosses the plugin boundary (queries, offers, manifests, health, receipts, statuses,
//! referrals) is read tolerantly: unknown fields are ignored, so a plugin built on a newer
//! minor SDK that adds a defaulted field still works with this host, and the reverse. What
//! people write (a case, configuration, a plugin's settings) stays strict: a misspelt field
//! there is an error naming it. The case's parts a referral carries (referrer, household,
//! consent) are tolerant types like the rest of the wire; a case or consent a person writes is
//! read through [`from_json_strict`], which refuses an unknown field at any depth, naming it.
//!
//! Personal data (a client's name, date of birth, contact details, address, free-text notes) is
//! held in [`Personal`], whose `Debug` prints `[redacted]`, so a stray `?case` in a log line
//! cannot leak it.

mod availability;
mod case;
mod error;
mod ids;
mod need;
mod outcome;
mod partner;
mod personal;
mod plan;
mod prerequisite;
mod referral;
mod safe_contact;
mod whole;

pub use availability::{
    parse_wait_days, AgeBand, Availability, AvailabilityQuery, Capacity, Eligibility, NeedRequest,
    Offer, OfferLocation, OpeningHours, Route, ServiceChannel, ServiceContact, ServiceRef, Weekday,
};
pub use case::{
    from_json_strict, is_ons_local_authority, parse_case, Case, CaseError, Channel, Circumstance,
    Client, Consent, ConsentCover, DutyToRefer, Household, LawfulBasis, Need, Referrer, ShareWith,
};
pub use error::{PartnerError, PartnerErrorKind, PLUGIN_HOST_DIED};
pub use ids::{IdempotencyKey, InvalidId, PartnerId};
pub use need::{NeedCode, Urgency};
pub use outcome::{FollowUp, NeedMet, NeedOutcome, Ons4};
pub use partner::{
    BuildInfo, Capability, Health, HealthStatus, Manifest, Partner, PartnerKind, PluginHostState,
};
pub use personal::Personal;
pub use plan::{
    ActionPlan, Amendment, AmendmentRecord, ChosenService, ClientAction, Contactable,
    DroppedAmendment, Fallback, Lead, LeadReason, Named, PartnerOutcome, PartnerReport, PlanStep,
    Referable, Signpost, StepAction, UnmetReason, Wait,
};
pub use prerequisite::{missing_prerequisites, what_to_ask, Missing, Prerequisite, Requirement};
pub use referral::{
    CancelReason, CancelRequest, ClientField, Referral, ReferralReceipt, ReferralRef,
    ReferralStatus, ReferredNeed, SharedClient, StatusReason, TaskState,
};
pub use safe_contact::receives_safe_contact_details;
