//! A referral to one partner, minimised to what that partner declared it needs, and its state.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::availability::ServiceRef;
use crate::case::{Case, Consent, Household, Referrer};
use crate::ids::{IdempotencyKey, PartnerId};
use crate::need::{NeedCode, Urgency};
use crate::personal::Personal;

/// A client field a connector may send. A connector declares its list in its manifest; a
/// [`Referral`] built for it carries those fields and no others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClientField {
    /// Full name.
    Name,
    /// Full date of birth.
    DateOfBirth,
    /// Year of birth only (enough for most eligibility checks).
    YearOfBirth,
    /// Full postcode.
    Postcode,
    /// Address lines.
    Address,
    /// Telephone number.
    Phone,
    /// Email address.
    Email,
    /// Preferred language.
    PreferredLanguage,
    /// Household counts and children's ages.
    Household,
    /// The pathfinder's notes on the needs referred to this partner (never other needs').
    NeedNotes,
}

impl ClientField {
    /// Every field.
    pub const ALL: [ClientField; 10] = [
        ClientField::Name,
        ClientField::DateOfBirth,
        ClientField::YearOfBirth,
        ClientField::Postcode,
        ClientField::Address,
        ClientField::Phone,
        ClientField::Email,
        ClientField::PreferredLanguage,
        ClientField::Household,
        ClientField::NeedNotes,
    ];

    /// The wire spelling, as in a plan step's `shares`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientField::Name => "name",
            ClientField::DateOfBirth => "date_of_birth",
            ClientField::YearOfBirth => "year_of_birth",
            ClientField::Postcode => "postcode",
            ClientField::Address => "address",
            ClientField::Phone => "phone",
            ClientField::Email => "email",
            ClientField::PreferredLanguage => "preferred_language",
            ClientField::Household => "household",
            ClientField::NeedNotes => "need_notes",
        }
    }

    /// The field in words, for what to ask the client ("phone number").
    pub fn describe(self) -> &'static str {
        match self {
            ClientField::Name => "name",
            ClientField::DateOfBirth => "date of birth",
            ClientField::YearOfBirth => "year of birth",
            ClientField::Postcode => "postcode",
            ClientField::Address => "address",
            ClientField::Phone => "phone number",
            ClientField::Email => "email address",
            ClientField::PreferredLanguage => "preferred language",
            ClientField::Household => "household",
            ClientField::NeedNotes => "notes on the need",
        }
    }

    /// Fields that locate or reach the client directly: withheld from everyone but a
    /// domestic-abuse service when contact is unsafe.
    pub fn is_contact(self) -> bool {
        matches!(
            self,
            ClientField::Postcode | ClientField::Address | ClientField::Phone | ClientField::Email
        )
    }
}

/// One referral to one partner's service, for one or more needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Referral {
    /// Unique per referral and stable across retries: a partner treats a repeat as the same
    /// referral.
    pub idempotency_key: IdempotencyKey,
    /// The referrer's case reference.
    pub case_reference: String,
    /// The partner id from configuration.
    pub partner_id: PartnerId,
    /// The service referred to.
    pub service: ServiceRef,
    /// The needs this partner is asked to meet.
    pub needs: Vec<ReferredNeed>,
    /// The client, minimised to the partner's declared fields.
    pub client: SharedClient,
    /// Who refers.
    pub referrer: Referrer,
    /// The consent record the referral rests on.
    pub consent: Consent,
    /// The language of an interpreter the client needs (ISO 639-1), when the case records
    /// limited English; the partner should arrange one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
}

/// A need as the partner receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferredNeed {
    /// Which need.
    pub code: NeedCode,
    /// How soon.
    pub urgency: Urgency,
    /// The notes, only if the partner declared `need_notes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Personal<String>>,
}

/// The client as one partner may see them: every field optional, filled only when declared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SharedClient {
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Personal<String>>,
    /// Full date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<Personal<NaiveDate>>,
    /// Year of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year_of_birth: Option<Personal<i32>>,
    /// Full postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Personal<String>>,
    /// Address lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Personal<String>>,
    /// Telephone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Personal<String>>,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Personal<String>>,
    /// Preferred language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    /// Household shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household: Option<Household>,
    /// Contact the client only through the referrer (safe-contact flag, or no contact field
    /// was shared).
    #[serde(default)]
    pub contact_via_referrer: bool,
}

impl Referral {
    /// Builds the referral for one partner from a case, carrying only `declared` fields.
    ///
    /// Minimisation happens here, once, for every connector: a connector cannot send what it
    /// was never given. Notes travel only for the needs referred to this partner. When the
    /// client's contact is unsafe, address and direct contact go only to a partner that serves
    /// `domestic_abuse` (`is_domestic_abuse_service`); everyone else contacts the client through
    /// the referrer.
    pub fn for_partner(
        case: &Case,
        partner_id: &PartnerId,
        service: ServiceRef,
        needs: &[NeedCode],
        declared: &[ClientField],
        is_domestic_abuse_service: bool,
        idempotency_key: IdempotencyKey,
    ) -> Self {
        let selected = |n: &crate::case::Need| needs.contains(&n.code);
        let to = (partner_id, service);
        Self::build(case, to, selected, declared, is_domestic_abuse_service, idempotency_key)
    }

    /// The same for one plan step: only the need `need_id` (a case may hold the same need
    /// code twice, and the other's notes are not this partner's to read).
    pub fn for_need(
        case: &Case,
        partner_id: &PartnerId,
        service: ServiceRef,
        need_id: &str,
        declared: &[ClientField],
        is_domestic_abuse_service: bool,
        idempotency_key: IdempotencyKey,
    ) -> Self {
        let selected = |n: &crate::case::Need| n.id == need_id;
        let to = (partner_id, service);
        Self::build(case, to, selected, declared, is_domestic_abuse_service, idempotency_key)
    }

    fn build(
        case: &Case,
        (partner_id, service): (&PartnerId, ServiceRef),
        selected: impl Fn(&crate::case::Need) -> bool,
        declared: &[ClientField],
        is_domestic_abuse_service: bool,
        idempotency_key: IdempotencyKey,
    ) -> Self {
        let fields = Self::fields_shared(case, declared, is_domestic_abuse_service);
        let has = |f: ClientField| fields.contains(&f);
        let client = &case.client;
        let reachable = (has(ClientField::Phone) && client.phone.is_some())
            || (has(ClientField::Email) && client.email.is_some());
        let shared = SharedClient {
            name: has(ClientField::Name).then(|| client.name.clone()),
            date_of_birth: has(ClientField::DateOfBirth).then(|| client.date_of_birth.clone()),
            year_of_birth: has(ClientField::YearOfBirth)
                .then(|| Personal::new(client.date_of_birth.expose().year())),
            postcode: has(ClientField::Postcode).then(|| client.postcode.clone()),
            address: if has(ClientField::Address) { client.address.clone() } else { None },
            phone: if has(ClientField::Phone) { client.phone.clone() } else { None },
            email: if has(ClientField::Email) { client.email.clone() } else { None },
            preferred_language: has(ClientField::PreferredLanguage)
                .then(|| client.preferred_language.clone()),
            household: has(ClientField::Household).then(|| client.household.clone()),
            contact_via_referrer: !reachable,
        };
        let referred = case
            .needs
            .iter()
            .filter(|n| selected(n))
            .map(|n| ReferredNeed {
                code: n.code,
                urgency: n.urgency,
                notes: if has(ClientField::NeedNotes) { n.notes.clone() } else { None },
            })
            .collect();
        Referral {
            idempotency_key,
            case_reference: case.reference.clone(),
            partner_id: partner_id.clone(),
            service,
            needs: referred,
            client: shared,
            referrer: case.referrer.clone(),
            consent: case.consent.clone(),
            interpreter: case.interpreter().map(str::to_string),
        }
    }

    /// The fields a partner that declared `declared` would receive for this case: its
    /// declaration, less contact fields when contact is unsafe and it is not a domestic-abuse
    /// service. A plan step's `shares` is this list.
    pub fn fields_shared(
        case: &Case,
        declared: &[ClientField],
        is_domestic_abuse_service: bool,
    ) -> Vec<ClientField> {
        let mut fields: Vec<ClientField> = declared
            .iter()
            .copied()
            .filter(|f| !(case.client.safe_contact && !is_domestic_abuse_service && f.is_contact()))
            .collect();
        fields.sort();
        fields.dedup();
        fields
    }
}

/// A partner's acknowledgement that it has the referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferralReceipt {
    /// The partner's own reference for the referral.
    pub partner_reference: String,
    /// The state the partner put it in (usually `requested`).
    pub state: TaskState,
    /// When the partner recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
}

/// How to find a referral at a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferralRef {
    /// The partner's reference from the receipt.
    pub partner_reference: String,
    /// Our idempotency key for it.
    pub idempotency_key: IdempotencyKey,
}

/// Asks a partner to withdraw a referral it was sent ([`crate::Partner::cancel_referral`]).
/// Carries no personal data: the pathfinder's own words stay with the referrer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CancelRequest {
    /// The referral at the partner.
    pub reference: ReferralRef,
    /// Why it is withdrawn.
    pub reason: CancelReason,
}

/// Why the referring side withdraws a referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The client withdrew or narrowed their consent to share with this partner.
    ConsentWithdrawn,
    /// The client no longer needs this help.
    NoLongerNeeded,
    /// The need is being met elsewhere.
    HelpedElsewhere,
    /// The referral was sent by mistake (wrong partner, wrong client).
    SentInError,
    /// Another partner is taking the need instead.
    Rerouted,
    /// Anything else (the referrer keeps a note).
    Other,
}

impl CancelReason {
    /// The wire spelling, e.g. `consent_withdrawn`.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::ConsentWithdrawn => "consent_withdrawn",
            CancelReason::NoLongerNeeded => "no_longer_needed",
            CancelReason::HelpedElsewhere => "helped_elsewhere",
            CancelReason::SentInError => "sent_in_error",
            CancelReason::Rerouted => "rerouted",
            CancelReason::Other => "other",
        }
    }

    /// Every reason, in the order a form offers them.
    pub const ALL: [CancelReason; 6] = [
        CancelReason::NoLongerNeeded,
        CancelReason::HelpedElsewhere,
        CancelReason::ConsentWithdrawn,
        CancelReason::Rerouted,
        CancelReason::SentInError,
        CancelReason::Other,
    ];

    /// The reason in plain words, for pages and notes.
    pub fn describe(self) -> &'static str {
        match self {
            CancelReason::ConsentWithdrawn => "The client withdrew their consent",
            CancelReason::NoLongerNeeded => "The client no longer needs this help",
            CancelReason::HelpedElsewhere => "The need is being met elsewhere",
            CancelReason::SentInError => "Sent by mistake",
            CancelReason::Rerouted => "Another organisation is taking it instead",
            CancelReason::Other => "Another reason",
        }
    }

    /// The state reason a cancelled referral keeps.
    pub fn status_reason(self) -> StatusReason {
        match self {
            CancelReason::ConsentWithdrawn | CancelReason::NoLongerNeeded => {
                StatusReason::NoLongerInterested
            }
            _ => StatusReason::Other,
        }
    }
}

/// Where a referral is, as the partner reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferralStatus {
    /// FHIR Task state.
    pub state: TaskState,
    /// Why, for `rejected`, `failed`, `cancelled` and `on-hold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<StatusReason>,
    /// The partner's words, free of personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the partner last changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// FHIR Task status: the canonical referral state (DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    /// Not yet sent.
    Draft,
    /// Sent, not yet answered.
    Requested,
    /// The partner will help.
    Accepted,
    /// The partner will not help.
    Rejected,
    /// Help is under way.
    InProgress,
    /// Paused.
    OnHold,
    /// Help was given.
    Completed,
    /// Help was attempted and did not work out.
    Failed,
    /// Withdrawn by either side.
    Cancelled,
    /// Recorded by mistake.
    EnteredInError,
}

impl TaskState {
    /// The wire spelling, e.g. `in-progress`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Draft => "draft",
            TaskState::Requested => "requested",
            TaskState::Accepted => "accepted",
            TaskState::Rejected => "rejected",
            TaskState::InProgress => "in-progress",
            TaskState::OnHold => "on-hold",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
            TaskState::EnteredInError => "entered-in-error",
        }
    }

    /// Whether no further change is expected.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Rejected
                | TaskState::Completed
                | TaskState::Failed
                | TaskState::Cancelled
                | TaskState::EnteredInError
        )
    }

    /// Whether FHIR requires a `statusReason` in this state.
    pub fn requires_reason(self) -> bool {
        matches!(
            self,
            TaskState::Rejected | TaskState::Cancelled | TaskState::OnHold | TaskState::Failed
        )
    }
}

/// Why a referral was rejected, failed, cancelled or put on hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// The service is full.
    NoCapacity,
    /// The client does not qualify.
    NotEligible,
    /// The client lives outside the service's area.
    OutOfArea,
    /// The service could not reach the client.
    CouldNotContact,
    /// The referral lacked something the service needs.
    MissingInformation,
    /// The client withdrew.
    NoLongerInterested,
    /// Anything else (see the note).
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::parse_case;

    fn case(safe_contact: bool) -> Case {
        let json = format!(
            r#"{{"reference": "R-1", "channel": "phone",
            "referrer": {{"organisation": "ca", "worker": "w1"}},
            "client": {{"name": "Test Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
              "address": "1 Test Road", "local_authority": "E09000020", "phone": "07700 900123",
              "email": "t@example.org", "preferred_language": "en", "safe_contact": {safe_contact},
              "household": {{"adults": 1, "children_ages": [7]}}}},
            "needs": [{{"code": "food", "urgency": "urgent", "notes": "no food"}},
                      {{"code": "mental_health", "urgency": "soon", "notes": "low mood"}}],
            "consent": {{"lawful_basis": "consent", "share_with": "planned_partners",
              "recorded_by": "w1", "recorded_at": "2026-11-20T10:00:00Z"}}}}"#
        );
        parse_case(json.as_bytes()).unwrap()
    }

    fn service() -> ServiceRef {
        ServiceRef { id: "s".into(), name: "S".into() }
    }

    #[test]
    fn referral_carries_only_declared_fields() {
        let declared = [ClientField::Name, ClientField::YearOfBirth, ClientField::Phone];
        let r = Referral::for_partner(
            &case(false),
            &"fb".parse().unwrap(),
            service(),
            &[NeedCode::Food],
            &declared,
            false,
            "k".parse().unwrap(),
        );
        let json = serde_json::to_value(&r).unwrap();
        let client = json["client"].as_object().unwrap();
        let keys: Vec<&str> = client.keys().map(String::as_str).collect();
        assert_eq!(keys, ["contact_via_referrer", "name", "phone", "year_of_birth"]);
        assert_eq!(json["client"]["year_of_birth"], 1989);
        assert!(!json.to_string().contains("low mood"));
        assert!(!json.to_string().contains("no food"), "notes were not declared");
        assert_eq!(r.needs.len(), 1);
    }

    #[test]
    fn a_step_carries_only_its_own_need_when_a_code_repeats() {
        let json = serde_json::to_string(&case(false))
            .unwrap()
            .replace(r#""code":"mental_health""#, r#""code":"food""#);
        let twice = crate::parse_case(json.as_bytes()).unwrap();
        assert_eq!(twice.needs[0].code, twice.needs[1].code);
        let r = Referral::for_need(
            &twice,
            &"fb".parse().unwrap(),
            service(),
            &twice.needs[1].id,
            &[ClientField::NeedNotes],
            false,
            "k".parse().unwrap(),
        );
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("low mood") && !text.contains("no food"), "{text}");
        assert_eq!(r.needs.len(), 1);
    }

    #[test]
    fn notes_travel_only_for_the_needs_referred() {
        let declared = [ClientField::NeedNotes];
        let r = Referral::for_partner(
            &case(false),
            &"nhs".parse().unwrap(),
            service(),
            &[NeedCode::MentalHealth],
            &declared,
            false,
            "k".parse().unwrap(),
        );
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("low mood"));
        assert!(!text.contains("no food"));
    }

    #[test]
    fn unsafe_contact_reaches_only_a_domestic_abuse_service() {
        let declared =
            [ClientField::Name, ClientField::Address, ClientField::Phone, ClientField::Postcode];
        let to_foodbank = Referral::for_partner(
            &case(true),
            &"fb".parse().unwrap(),
            service(),
            &[NeedCode::Food],
            &declared,
            false,
            "k".parse().unwrap(),
        );
        assert!(to_foodbank.client.address.is_none());
        assert!(to_foodbank.client.phone.is_none());
        assert!(to_foodbank.client.postcode.is_none());
        assert!(to_foodbank.client.contact_via_referrer);
        assert!(to_foodbank.client.name.is_some());
        let to_da = Referral::for_partner(
            &case(true),
            &"da".parse().unwrap(),
            service(),
            &[NeedCode::Food],
            &declared,
            true,
            "k".parse().unwrap(),
        );
        assert!(to_da.client.address.is_some());
        assert!(!to_da.client.contact_via_referrer);
    }

    #[test]
    fn task_state_uses_fhir_spelling() {
        assert_eq!(serde_json::to_string(&TaskState::InProgress).unwrap(), "\"in-progress\"");
        assert!(TaskState::Rejected.requires_reason());
        assert!(TaskState::Completed.is_final());
    }

    #[test]
    fn plugin_payloads_from_a_newer_sdk_read_with_their_new_fields_ignored() {
        // A plugin built on a newer minor SDK may answer with fields this host does not know:
        // the handshake accepts it, so the payloads must too.
        let receipt: ReferralReceipt = serde_json::from_str(
            r#"{"partner_reference": "R1", "state": "requested", "queue_position": 4}"#,
        )
        .unwrap();
        assert_eq!(receipt.partner_reference, "R1");
        let status: ReferralStatus =
            serde_json::from_str(r#"{"state": "accepted", "assigned_team": "north"}"#).unwrap();
        assert_eq!(status.state, TaskState::Accepted);
        let availability: crate::Availability = serde_json::from_str(
            r#"{"offers": [{"need": "food", "service": {"id": "s", "name": "S", "rating": 5},
                 "eligibility": {"status": "eligible", "checked_by": "x"}, "capacity": "capacity",
                 "accessibility": "step-free"}], "cache_ttl": 60}"#,
        )
        .unwrap();
        assert_eq!(availability.offers.len(), 1);
        let reference: ReferralRef = serde_json::from_str(
            r#"{"partner_reference": "R1", "idempotency_key": "k", "trace": "t"}"#,
        )
        .unwrap();
        assert_eq!(reference.partner_reference, "R1");
    }

    #[test]
    fn a_case_is_still_read_strictly() {
        let sample = include_str!("../../../examples/cases/debt-food-eviction.json");
        let case = sample.replacen('{', r#"{"nickname": "x", "#, 1);
        let err = crate::parse_case(case.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("nickname"), "{err}");
    }
}
