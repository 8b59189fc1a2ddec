//! A case: one client, their needs, and what they agreed may be shared. Parsed strictly.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::need::{NeedCode, Urgency};
use crate::personal::Personal;

/// One client's case as a pathfinder records it (CONTRACT.md, "A case").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The referring organisation's own reference, e.g. `CAKC-000123`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"\S")))]
    pub reference: String,
    /// How the client reached the referrer.
    pub channel: Channel,
    /// Who is making the referrals.
    pub referrer: Referrer,
    /// The person being helped.
    pub client: Client,
    /// What they need help with. A code may appear more than once (a falls service and a Blue
    /// Badge are both `physical_health_disability`); each need has its own `id`.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub needs: Vec<Need>,
    /// Facts about the client's situation that change eligibility or priority.
    #[serde(default)]
    pub circumstances: Vec<Circumstance>,
    /// What the client agreed may be shared, and on what lawful basis.
    pub consent: Consent,
    /// The organisation or partner id the client would like to coordinate their plan, if they
    /// said (a lead rule `client_preference` honours it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"\S")))]
    pub lead_preference: Option<String>,
    /// The client's answers to the ONS personal wellbeing questions at intake, when they agreed
    /// to answer (a follow-up asks again, to see what changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wellbeing: Option<crate::outcome::Ons4>,
}

/// How the client reached the referrer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// By telephone.
    Phone,
    /// Met by an outreach worker.
    Outreach,
    /// By email.
    Email,
    /// Through a web form.
    Web,
    /// In person at an office or hub.
    WalkIn,
    /// Referred by another organisation.
    Referral,
}

/// The organisation and worker making the referrals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// Read tolerantly (a referral carries it to plugins); strict where people write it: see
// `from_json_strict`.
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Referrer {
    /// Organisation id, e.g. `citizens-advice-kc`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"\S")))]
    pub organisation: String,
    /// The worker's id within that organisation (not their name).
    pub worker: String,
}

/// The client. Everything identifying is [`Personal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Full name.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"\S")))]
    pub name: Personal<String>,
    /// Date of birth.
    pub date_of_birth: Personal<NaiveDate>,
    /// Full postcode, e.g. `W10 5AB`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$"))
    )]
    pub postcode: Personal<String>,
    /// Address lines, where the client gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Personal<String>>,
    /// ONS code of the local authority whose services the client can use, e.g. `E09000020`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[EWSN][0-9]{8}$")))]
    pub local_authority: String,
    /// Telephone number.
    #[serde(default)]
    pub phone: Option<Personal<String>>,
    /// Email address.
    #[serde(default)]
    pub email: Option<Personal<String>>,
    /// ISO 639-1 language code, e.g. `en`, `cy`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[a-z]{2}$")))]
    pub preferred_language: String,
    /// Contact is unsafe (e.g. domestic abuse): address and direct contact go only to a
    /// domestic-abuse service; everyone else contacts the client through the referrer.
    #[serde(default)]
    pub safe_contact: bool,
    /// Who lives with the client.
    pub household: Household,
}

/// The shape of a household: counts and ages, nothing identifying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// Read tolerantly (a referral carries it to plugins); strict where people write it: see
// `from_json_strict`.
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Household {
    /// Adults, including the client.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    #[serde(deserialize_with = "crate::whole::u8_value")]
    pub adults: u8,
    /// Ages of the children, in years.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(inner(range(max = 17))))]
    #[serde(deserialize_with = "crate::whole::u8_list")]
    pub children_ages: Vec<u8>,
}

/// One need of the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Need {
    /// The need's id within the case, e.g. `n1`: given by the pathfinder, or assigned in order
    /// (`n1`, `n2`...) when left out. Plan entries and amendments name needs by it.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "given_id")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,40}$")))]
    pub id: String,
    /// Which need.
    pub code: NeedCode,
    /// How soon.
    pub urgency: Urgency,
    /// What the pathfinder wrote; personal, and shared only with a partner that declares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Personal<String>>,
}

/// A need's id as given: left out it is numbered later, but given empty it is refused, as the
/// schema says (at least one character).
fn given_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let id = String::deserialize(deserializer)?;
    if id.is_empty() {
        return Err(de::Error::custom(
            "a need's `id` must not be empty (leave it out to have it numbered)",
        ));
    }
    Ok(id)
}

/// Facts about a client's situation (extend the list as partners need them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Circumstance {
    /// Children under 18 live with the client.
    ChildrenInHousehold,
    /// The client or a partner is pregnant.
    Pregnant,
    /// The client lives alone.
    LivesAlone,
    /// The client is 75 or older.
    #[serde(rename = "over_75")]
    Over75,
    /// The client prefers to be served in Welsh.
    WelshSpeaker,
    /// Needs an interpreter or has limited English.
    LimitedEnglish,
    /// Rents privately.
    PrivateRentedTenant,
    /// Rents from a council or housing association.
    SocialHousingTenant,
    /// Owns their home.
    OwnerOccupier,
    /// Staying with friends or family, no settled home.
    SofaSurfing,
    /// Sleeping rough.
    RoughSleeping,
    /// Fleeing violence or abuse.
    FleeingViolence,
    /// Left local authority care as a young person.
    CareLeaver,
    /// Served in the armed forces.
    Veteran,
    /// Released from prison in the last year.
    RecentPrisonRelease,
    /// No recourse to public funds.
    NoRecourseToPublicFunds,
    /// Refugee or asylum seeker.
    RefugeeOrAsylumSeeker,
    /// Cares for someone else.
    UnpaidCarer,
    /// Has a disability or long-term condition.
    Disability,
    /// Single parent.
    SingleParent,
}

/// What the client agreed may be shared, recorded per DOMAIN.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// Read tolerantly (a referral carries it to plugins); strict where people write it: see
// `from_json_strict`.
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Consent {
    /// The lawful basis for sharing.
    pub lawful_basis: LawfulBasis,
    /// With whom.
    pub share_with: ShareWith,
    /// The worker who recorded it.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"\S")))]
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// What a Duty to Refer (Homelessness Reduction Act 2017, s.213B) needs recorded before a
    /// housing referral; absent when nobody asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duty_to_refer: Option<DutyToRefer>,
}

/// The three things a referrer must have before a Duty to Refer referral (DOMAIN.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// Read tolerantly (a referral carries it to plugins); strict where people write it: see
// `from_json_strict`.
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct DutyToRefer {
    /// The client agreed to be referred to a housing authority.
    pub consent_to_refer: bool,
    /// The client agreed that their contact details may be shared with it.
    pub consent_to_share_contact: bool,
    /// ONS code of the housing authority the client chose (it need not be where they live).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[EWSN][0-9]{8}$")))]
    pub chosen_authority: String,
}

impl Consent {
    /// Checks what serde cannot: a list of partners that is not empty, a Duty to Refer
    /// authority that is an ONS code, a worker named. `prefix` is where the consent sits in the
    /// document (`consent.` in a case, empty on its own), for the error's path.
    pub fn check(&self, prefix: &str) -> Result<(), CaseError> {
        if let ShareWith::Partners(ids) = &self.share_with {
            if ids.is_empty() {
                return Err(CaseError::at(
                    format!("{prefix}share_with"),
                    "an empty list shares with no one; write `none` if that is meant",
                ));
            }
        }
        if let Some(dtr) = &self.duty_to_refer {
            if !is_ons_local_authority(&dtr.chosen_authority) {
                return Err(CaseError::at(
                    format!("{prefix}duty_to_refer.chosen_authority"),
                    format!(
                        "`{}` is not an ONS local authority code (e.g. `E09000020`)",
                        dtr.chosen_authority
                    ),
                ));
            }
        }
        if self.recorded_by.trim().is_empty() {
            return Err(CaseError::at(
                format!("{prefix}recorded_by"),
                "must name the worker who recorded consent",
            ));
        }
        Ok(())
    }
}

/// How a case's consent covers referring one need to one partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentCover {
    /// The client agreed to share with this partner.
    Agreed,
    /// Shared without consent, on this basis, because the step protects someone.
    Protective(LawfulBasis),
    /// Ask the client before referring.
    Needed,
}

impl ConsentCover {
    /// Whether the referral may be sent without asking the client again.
    pub fn allows_referral(self) -> bool {
        self != ConsentCover::Needed
    }
}

impl Case {
    /// Gives every need without an id the first free id of `n1`, `n2`... in order, so a case
    /// stored before needs had ids reads the same as a new one.
    pub fn fill_need_ids(&mut self) {
        let mut next = 1usize;
        for i in 0..self.needs.len() {
            if !self.needs[i].id.is_empty() {
                continue;
            }
            loop {
                let candidate = format!("n{next}");
                next += 1;
                if !self.needs.iter().any(|n| n.id == candidate) {
                    self.needs[i].id = candidate;
                    break;
                }
            }
        }
    }

    /// The need with this id.
    pub fn need(&self, id: &str) -> Option<&Need> {
        self.needs.iter().find(|n| n.id == id)
    }

    /// Whether the case records `field` for the client (a name always; a phone, an email, an
    /// address only when given; notes when any need has them).
    pub fn records(&self, field: crate::referral::ClientField) -> bool {
        use crate::referral::ClientField as F;
        match field {
            F::Name | F::DateOfBirth | F::YearOfBirth | F::Postcode | F::Household => true,
            F::PreferredLanguage => !self.client.preferred_language.trim().is_empty(),
            F::Address => self.client.address.is_some(),
            F::Phone => self.client.phone.is_some(),
            F::Email => self.client.email.is_some(),
            F::NeedNotes => self.needs.iter().any(|n| n.notes.is_some()),
        }
    }

    /// The language an interpreter is needed in, when the case says the client has limited
    /// English and prefers another language.
    pub fn interpreter(&self) -> Option<&str> {
        let language = self.client.preferred_language.as_str();
        (self.circumstances.contains(&Circumstance::LimitedEnglish) && language != "en")
            .then_some(language)
    }
}

impl Need {
    /// Someone may be in danger: domestic abuse, safeguarding, or nowhere to sleep tonight.
    pub fn is_safety(&self) -> bool {
        self.code.is_safety()
            || (self.code == NeedCode::HousingHomelessness && self.urgency == Urgency::Emergency)
    }
}

impl Consent {
    /// How this consent covers referring `need` to `partner_id` (DOMAIN.md, DPA 2018 Sch.1
    /// para 18), read strictly: what the client agreed (`planned_partners`, or a list naming the
    /// partner) covers any step; without that, `vital_interests` and `safeguarding` cover only
    /// *protective* steps (a safety need, or a same-day one) — protecting someone does not
    /// justify sending their details to a debt adviser without asking. The planner marks
    /// `needs_consent` from this and the referral intake refuses from it: one rule, one place.
    pub fn cover(&self, partner_id: &str, need: &Need) -> ConsentCover {
        let agreed = match &self.share_with {
            ShareWith::PlannedPartners => true,
            ShareWith::None => false,
            ShareWith::Partners(ids) => ids.iter().any(|id| id == partner_id),
        };
        let protective = need.is_safety() || need.urgency == Urgency::Emergency;
        match self.lawful_basis {
            _ if agreed => ConsentCover::Agreed,
            basis @ (LawfulBasis::VitalInterests | LawfulBasis::Safeguarding) if protective => {
                ConsentCover::Protective(basis)
            }
            _ => ConsentCover::Needed,
        }
    }
}

/// The lawful basis for sharing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LawfulBasis {
    /// The client agreed.
    Consent,
    /// Without consent, to protect someone's life.
    VitalInterests,
    /// Without consent, to safeguard a child or an adult at risk.
    Safeguarding,
}

/// With whom the client agreed their details may be shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareWith {
    /// Any partner the plan refers to, once the plan is read to them.
    PlannedPartners,
    /// No one: the plan can only signpost.
    None,
    /// Only these partner ids.
    Partners(Vec<String>),
}

impl Serialize for ShareWith {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ShareWith::PlannedPartners => serializer.serialize_str("planned_partners"),
            ShareWith::None => serializer.serialize_str("none"),
            ShareWith::Partners(ids) => ids.serialize(serializer),
        }
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ShareWith {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ShareWith".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`planned_partners`, `none`, or a list of partner ids",
            "anyOf": [
                {"type": "string", "enum": ["planned_partners", "none"]},
                {"type": "array", "items": {"type": "string"}, "minItems": 1}
            ]
        })
    }
}

impl<'de> Deserialize<'de> for ShareWith {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShareWithVisitor;
        impl<'de> Visitor<'de> for ShareWithVisitor {
            type Value = ShareWith;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`planned_partners`, `none`, or a list of partner ids")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ShareWith, E> {
                match v {
                    "planned_partners" => Ok(ShareWith::PlannedPartners),
                    "none" => Ok(ShareWith::None),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ShareWith, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(ShareWith::Partners(ids))
            }
        }
        deserializer.deserialize_any(ShareWithVisitor)
    }
}

/// A case that could not be read, with the path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() || path == "." { String::new() } else { format!("at `{path}`: ") })]
pub struct CaseError {
    /// Where in the document, e.g. `needs[1].code`; empty for the whole document.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// The case has the documented shape, but breaks a rule across fields that a JSON Schema
    /// cannot say (a need recorded twice, a birth after the consent was recorded): the API
    /// answers 422 rather than 400.
    pub cross_field: bool,
}

impl CaseError {
    fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into(), cross_field: false }
    }

    fn across(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { cross_field: true, ..Self::at(path, message) }
    }
}

/// Reads what a person wrote (a case, a consent) strictly: every unknown field, at any depth,
/// is an error naming its path, though the types themselves read unknown fields tolerantly
/// where they cross the plugin boundary inside a referral (the referrer, household and
/// consent). `what` names the document in an error about trailing text.
pub fn from_json_strict<T: serde::de::DeserializeOwned>(
    json: &[u8],
    what: &str,
) -> Result<T, CaseError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let mut unknown: Vec<String> = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| unknown.push(error_path(&path));
    let tracked = serde_ignored::Deserializer::new(&mut de, &mut note);
    let value: T = serde_path_to_error::deserialize(tracked).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        // serde_json appends "at line L column C"; keep it, it helps with a hand-edited file.
        CaseError::at(path, inner.to_string())
    })?;
    de.end().map_err(|e| CaseError::at("", format!("trailing characters after {what}: {e}")))?;
    if let Some(path) = unknown.into_iter().next() {
        let (parent, field) = path.rsplit_once('.').unwrap_or(("", path.as_str()));
        return Err(CaseError::at(parent, format!("unknown field `{field}`")));
    }
    Ok(value)
}

/// A path as the other errors write theirs (`needs[1].code`): fields joined by dots, list
/// positions in brackets, `Some` and newtypes not shown.
fn error_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", error_path(parent)),
        Path::Map { parent, key } => {
            let parent = error_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => error_path(parent),
    }
}

/// Parses and validates a case from JSON. Unknown fields, unknown codes and impossible values
/// are errors that name the field and what is allowed.
pub fn parse_case(json: &[u8]) -> Result<Case, CaseError> {
    let case: Case = from_json_strict(json, "the case")?;
    case.validate()?;
    let mut case = case;
    case.fill_need_ids();
    Ok(case)
}

impl Case {
    /// Checks what serde cannot: presence, uniqueness, formats.
    pub fn validate(&self) -> Result<(), CaseError> {
        if self.reference.trim().is_empty() {
            return Err(CaseError::at("reference", "must not be empty"));
        }
        if self.referrer.organisation.trim().is_empty() {
            return Err(CaseError::at("referrer.organisation", "must not be empty"));
        }
        if self.needs.is_empty() {
            return Err(CaseError::at("needs", "a case needs at least one need"));
        }
        if self.lead_preference.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(CaseError::at(
                "lead_preference",
                "must name an organisation or partner id (or be left out)",
            ));
        }
        for (i, need) in self.needs.iter().enumerate() {
            if need.id.is_empty() {
                continue;
            }
            if !(1..=40).contains(&need.id.len())
                || !need.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(CaseError::at(
                    format!("needs[{i}].id"),
                    "must be 1 to 40 letters, digits, `-` or `_` (or left out, to be numbered)",
                ));
            }
            if let Some(first) = self.needs[..i].iter().position(|n| n.id == need.id) {
                return Err(CaseError::across(
                    format!("needs[{i}].id"),
                    format!(
                        "`{}` is already the id of needs[{first}]; each need's id is its own",
                        need.id
                    ),
                ));
            }
        }
        if let Some(Err(answer)) = self.wellbeing.as_ref().map(crate::outcome::Ons4::check) {
            return Err(CaseError::at(format!("wellbeing.{answer}"), "must be 0 to 10"));
        }
        let client = &self.client;
        if client.name.expose().trim().is_empty() {
            return Err(CaseError::at("client.name", "must not be empty"));
        }
        if !is_uk_postcode(client.postcode.expose()) {
            return Err(CaseError::at(
                "client.postcode",
                "is not a UK postcode (expected e.g. `W10 5AB`)",
            ));
        }
        if !is_ons_local_authority(&client.local_authority) {
            return Err(CaseError::at(
                "client.local_authority",
                format!(
                    "`{}` is not an ONS local authority code (expected a letter E, W, S or N and 8 digits, e.g. `E09000020`)",
                    client.local_authority
                ),
            ));
        }
        let lang = &client.preferred_language;
        if lang.len() != 2 || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(CaseError::at(
                "client.preferred_language",
                format!(
                    "`{lang}` is not an ISO 639-1 code (two lower-case letters, e.g. `en`, `cy`)"
                ),
            ));
        }
        if client.household.adults == 0 {
            return Err(CaseError::at(
                "client.household.adults",
                "must be at least 1 (the client)",
            ));
        }
        if let Some(i) = client.household.children_ages.iter().position(|&a| a > 17) {
            return Err(CaseError::at(
                format!("client.household.children_ages[{i}]"),
                "a child is under 18; count older members as adults",
            ));
        }
        let dob = *client.date_of_birth.expose();
        if dob > self.consent.recorded_at.date_naive() || dob.year() < 1900 {
            return Err(CaseError::across(
                "client.date_of_birth",
                "is not a plausible date of birth (from 1900, and not after the consent was recorded)",
            ));
        }
        self.consent.check("consent.")?;
        Ok(())
    }

    /// The outward part of the client's postcode (`W10` of `W10 5AB`): enough to find nearby
    /// services, not enough to find the person.
    pub fn postcode_district(&self) -> String {
        postcode_district(self.client.postcode.expose())
    }

    /// The client's age in whole years on `today`.
    pub fn client_age(&self, today: NaiveDate) -> u32 {
        let dob = *self.client.date_of_birth.expose();
        today.years_since(dob).unwrap_or(0)
    }
}

/// The outward code of a UK postcode, upper-cased.
pub(crate) fn postcode_district(postcode: &str) -> String {
    let compact: String = postcode
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let outward_len = compact.len().saturating_sub(3);
    compact[..outward_len].to_string()
}

/// A permissive check of the UK postcode shape: outward `A9`, `A99`, `AA9`, `AA99`, `A9A`,
/// `AA9A`, then inward `9AA`.
fn is_uk_postcode(postcode: &str) -> bool {
    // Exactly the pattern the OpenAPI document gives (`Client::postcode`):
    // `^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$`, i.e. the outward code (A9, A99,
    // AA9, AA99, A9A, AA9A), at most one space, the inward code (9AA).
    let bytes = postcode.as_bytes();
    if bytes.len() < 5 {
        return false;
    }
    let (outward, inward) = bytes.split_at(bytes.len() - 3);
    let inward_ok = inward[0].is_ascii_digit() && inward[1..].iter().all(u8::is_ascii_alphabetic);
    let outward = outward.strip_suffix(b" ").unwrap_or(outward);
    let letters = outward.iter().take_while(|b| b.is_ascii_alphabetic()).count().min(2);
    let rest = &outward[letters..];
    let outward_ok = letters >= 1
        && rest.first().is_some_and(u8::is_ascii_digit)
        && rest.len() <= 2
        && rest.iter().all(u8::is_ascii_alphanumeric);
    inward_ok && outward_ok
}

/// Whether `code` has the shape of an ONS local authority code (`E09000020`).
pub fn is_ons_local_authority(code: &str) -> bool {
    let bytes = code.as_bytes();
    bytes.len() == 9
        && matches!(bytes[0], b'E' | b'W' | b'S' | b'N')
        && bytes[1..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "reference": "CAKC-000123", "channel": "phone",
      "referrer": {"organisation": "citizens-advice-kc", "worker": "pf-17"},
      "client": {"name": "Test Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
        "local_authority": "E09000020", "phone": "07700 900123", "email": null,
        "preferred_language": "en", "safe_contact": false,
        "household": {"adults": 1, "children_ages": [7, 15]}},
      "needs": [{"code": "housing_homelessness", "urgency": "emergency", "notes": "sofa"},
                {"code": "food", "urgency": "urgent"}],
      "circumstances": ["children_in_household"],
      "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
                  "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}
    }"#;

    fn with(from: &str, to: &str) -> Result<Case, CaseError> {
        assert!(SAMPLE.contains(from), "test edit `{from}` does not apply");
        parse_case(SAMPLE.replace(from, to).as_bytes())
    }

    #[test]
    fn an_unknown_field_in_a_part_plugins_read_tolerantly_is_still_refused_in_a_case() {
        for (from, to, path, field) in [
            (r#""worker": "pf-17""#, r#""worker": "pf-17", "team": "a""#, "referrer", "team"),
            (r#""adults": 1"#, r#""adults": 1, "pets": 2"#, "client.household", "pets"),
            (
                r#""recorded_by": "pf-17""#,
                r#""recorded_by": "pf-17", "witness": "x""#,
                "consent",
                "witness",
            ),
            (
                r#""recorded_by": "pf-17""#,
                r#""recorded_by": "pf-17", "duty_to_refer": {"consent_to_refer": true,
                   "consent_to_share_contact": true, "chosen_authority": "E09000020",
                   "colour": "red"}"#,
                "consent.duty_to_refer",
                "colour",
            ),
        ] {
            let err = with(from, to).unwrap_err();
            assert_eq!(err.path, path, "{err}");
            assert_eq!(err.message, format!("unknown field `{field}`"), "{err}");
        }
        let err = parse_case(format!("{SAMPLE} x").as_bytes()).unwrap_err();
        assert!(err.message.contains("trailing characters after the case"), "{err}");
    }

    #[test]
    fn the_case_parts_a_referral_carries_read_with_fields_a_newer_sdk_added() {
        let case =
            parse_case(SAMPLE.replace("\"email\": null", "\"email\": \"a@b.example\"").as_bytes())
                .unwrap();
        let mut case = case;
        case.consent.duty_to_refer = Some(DutyToRefer {
            consent_to_refer: true,
            consent_to_share_contact: true,
            chosen_authority: "E09000020".into(),
        });
        let referral = crate::Referral::for_partner(
            &case,
            &"housing".parse().unwrap(),
            crate::ServiceRef { id: "s".into(), name: "S".into() },
            &[NeedCode::HousingHomelessness],
            &[crate::ClientField::Name, crate::ClientField::Household],
            false,
            "key-1".parse().unwrap(),
        );
        let mut wire = serde_json::to_value(&referral).unwrap();
        wire["referrer"]["team"] = "a".into();
        wire["consent"]["witness"] = "x".into();
        wire["consent"]["duty_to_refer"]["colour"] = "red".into();
        wire["client"]["household"]["pets"] = 2.into();
        wire["added_by_a_newer_sdk"] = true.into();
        let read: crate::Referral = serde_json::from_value(wire).expect("read tolerantly");
        assert_eq!(read, referral);
    }

    #[test]
    fn parses_the_contract_example() {
        let case = parse_case(SAMPLE.as_bytes()).unwrap();
        assert_eq!(case.needs.len(), 2);
        assert_eq!(case.needs[0].code, NeedCode::HousingHomelessness);
        assert_eq!(case.postcode_district(), "W10");
        assert_eq!(case.consent.cover("any-partner", &case.needs[1]), ConsentCover::Agreed);
    }

    #[test]
    fn debug_of_a_case_shows_no_personal_data() {
        let case = parse_case(SAMPLE.as_bytes()).unwrap();
        let printed = format!("{case:?}");
        for secret in ["Test Person", "1989", "W10 5AB", "07700", "sofa"] {
            assert!(!printed.contains(secret), "Debug leaked `{secret}`: {printed}");
        }
    }

    #[test]
    fn unknown_need_code_names_the_field_and_the_allowed_codes() {
        let err = with(r#""code": "food""#, r#""code": "fod""#).unwrap_err();
        assert_eq!(err.path, "needs[1].code");
        assert!(err.message.contains("unknown variant `fod`"), "{err}");
        assert!(err.message.contains("housing_homelessness"), "{err}");
    }

    #[test]
    fn bad_urgency_lists_the_urgencies() {
        let err = with(r#""urgency": "urgent""#, r#""urgency": "asap""#).unwrap_err();
        assert_eq!(err.path, "needs[1].urgency");
        assert!(err.message.contains("emergency"), "{err}");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = with(r#""safe_contact": false"#, r#""safe_contact": false, "nhs_number": "x""#)
            .unwrap_err();
        assert!(err.message.contains("unknown field `nhs_number`"), "{err}");
        assert!(err.path.starts_with("client"), "{err}");
    }

    #[test]
    fn a_code_may_repeat_with_its_own_id_but_an_id_may_not() {
        let twice = with(r#""code": "housing_homelessness""#, r#""code": "food""#).unwrap();
        let ids: Vec<&str> = twice.needs.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["n1", "n2"], "numbered in order");
        assert_eq!(twice.needs[0].code, twice.needs[1].code);
        let named =
            with(r#""code": "housing_homelessness""#, r#""id": "falls", "code": "food""#).unwrap();
        assert_eq!(named.need("falls").map(|n| n.code), Some(NeedCode::Food));
        let clash = with(r#""code": "food""#, r#""id": "n2", "code": "food""#).unwrap();
        assert_eq!(clash.needs[0].id, "n1", "a given id is kept; the other takes the next free");
        let json = SAMPLE
            .replacen(
                r#""code": "housing_homelessness""#,
                r#""id": "x", "code": "housing_homelessness""#,
                1,
            )
            .replacen(r#"{"code": "food""#, r#"{"id": "x", "code": "food""#, 1);
        let err = parse_case(json.as_bytes()).unwrap_err();
        assert!(err.path == "needs[1].id" && err.cross_field, "{err:?}");
        let bad = with(r#""code": "housing_homelessness""#, r#""id": "no spaces", "code": "food""#)
            .unwrap_err();
        assert_eq!(bad.path, "needs[0].id");
        let empty =
            with(r#""code": "housing_homelessness""#, r#""id": "", "code": "food""#).unwrap_err();
        assert_eq!(empty.path, "needs[0].id", "given empty is not the same as left out");
        let blank = with(r#""reference""#, r#""lead_preference": " ", "reference""#).unwrap_err();
        assert_eq!(blank.path, "lead_preference");
    }

    #[test]
    fn bad_local_authority_and_postcode_are_refused() {
        assert_eq!(with("E09000020", "Kensington").unwrap_err().path, "client.local_authority");
        assert_eq!(with("W10 5AB", "not a postcode").unwrap_err().path, "client.postcode");
    }

    #[test]
    fn share_with_accepts_a_list_and_refuses_other_words() {
        let case = with(r#""planned_partners""#, r#"["foodbank-a"]"#).unwrap();
        assert_eq!(case.consent.cover("foodbank-a", &case.needs[1]), ConsentCover::Agreed);
        assert_eq!(case.consent.cover("foodbank-b", &case.needs[1]), ConsentCover::Needed);
        let err = with(r#""planned_partners""#, r#""everyone""#).unwrap_err();
        assert!(err.message.contains("planned_partners"), "{err}");
    }

    #[test]
    fn duty_to_refer_is_read_and_its_authority_checked() {
        let dtr = r#""recorded_at": "2026-11-20T10:00:00Z", "duty_to_refer": {"consent_to_refer": true,
            "consent_to_share_contact": true, "chosen_authority": "E09000020"}"#;
        let case = with(r#""recorded_at": "2026-11-20T10:00:00Z""#, dtr).unwrap();
        let recorded = case.consent.duty_to_refer.unwrap();
        assert!(recorded.consent_to_refer && recorded.consent_to_share_contact);
        let bad = with(
            r#""recorded_at": "2026-11-20T10:00:00Z""#,
            &dtr.replace("E09000020", "Kensington"),
        )
        .unwrap_err();
        assert_eq!(bad.path, "consent.duty_to_refer.chosen_authority");
    }

    #[test]
    fn protective_bases_cover_only_protective_steps() {
        let case = with(
            r#""lawful_basis": "consent", "share_with": "planned_partners""#,
            r#""lawful_basis": "safeguarding", "share_with": "none""#,
        )
        .unwrap();
        let tonight = Need {
            id: "n1".into(),
            code: NeedCode::HousingHomelessness,
            urgency: Urgency::Emergency,
            notes: None,
        };
        let food =
            Need { id: "n2".into(), code: NeedCode::Food, urgency: Urgency::Urgent, notes: None };
        assert_eq!(
            case.consent.cover("housing", &tonight),
            ConsentCover::Protective(LawfulBasis::Safeguarding)
        );
        assert_eq!(case.consent.cover("foodbank", &food), ConsentCover::Needed);
        let agreed = parse_case(SAMPLE.as_bytes()).unwrap();
        assert_eq!(agreed.consent.cover("foodbank", &food), ConsentCover::Agreed);
    }

    #[test]
    fn postcode_shapes() {
        for ok in ["W10 5AB", "SY8 1AA", "sw1a1aa", "EC1A 1BB", "M1 1AE"] {
            assert!(is_uk_postcode(ok), "{ok}");
        }
        for bad in ["", "12345", "W10", "W10 5A", "ABCDE FG", "W10  5AB", " W10 5AB", "W1005AB"] {
            assert!(!is_uk_postcode(bad), "{bad}");
        }
    }
}
