//! The housing connector's settings: the `[partners.settings]` table of a housing authority
//! partner.
//!
//! The doc comments on the fields are the user documentation: they become the settings schema
//! that `pathways plugins check` and `pathways config check` show.

use pathways_sdk::connector::{self, HttpSettings as _};
use pathways_sdk::is_ons_local_authority;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of a housing authority partner (Duty to Refer).
///
/// ```toml
/// [partners.settings]
/// base_url = "http://127.0.0.1:9103"
/// authorities = ["E09000020"]
/// agency_contact = "Housing advice team, 020 7946 0100"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Base URL of the Duty to Refer API, which serves `/dtr/v1/`. Example:
    /// `http://127.0.0.1:9103` (the sandbox).
    pub base_url: String,

    /// ONS codes of the housing authorities this API takes referrals for, e.g.
    /// `["E09000020"]`. A referral is sent only when the client's chosen housing authority is
    /// one of these, and availability is answered only for clients living in one of them.
    /// English codes only (`E…`): the Duty to Refer (Homelessness Reduction Act 2017, s.213B)
    /// applies to housing authorities in England.
    pub authorities: Vec<String>,

    /// How the housing authority reaches your organisation about a referral: a team telephone
    /// number or shared mailbox, never a person's own. Sent with every referral. Required to
    /// refer a client whose own contact details are withheld (a safe-contact client, or one
    /// with no telephone or email): the authority then arranges contact through you, and
    /// without this setting such a referral is refused before anything is sent.
    #[serde(default)]
    pub agency_contact: Option<String>,

    /// Set when your organisation is a public authority with the statutory duty to refer
    /// (s.213B), naming which; leave it out when you refer voluntarily (Citizens Advice, a
    /// charity, a community hub). One of `prison`, `youth_offender_institution`,
    /// `secure_training_centre`, `secure_college`, `youth_offending_team`, `probation`,
    /// `jobcentre_plus`, `emergency_department`, `urgent_treatment_centre`,
    /// `hospital_inpatient`, `social_services`, `regular_armed_forces`.
    #[serde(default)]
    pub public_authority: Option<PublicAuthority>,

    /// Name of the environment variable holding the API key (sent as a bearer token). Read
    /// once when the partner is loaded; loading fails if the variable is named but unset.
    /// Leave it out for an API without keys. Never put the key itself in the configuration.
    #[serde(default)]
    pub api_key_env: Option<String>,

    /// Deadline for one HTTP request to the partner, including reading its answer, in
    /// milliseconds.
    #[serde(default = "connector::default_timeout_ms")]
    pub timeout_ms: u64,

    /// Deadline for opening a connection to the partner, in milliseconds.
    #[serde(default = "connector::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
}

/// The public authorities specified for the Duty to Refer (Homelessness (Review Procedure etc.)
/// Regulations 2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicAuthority {
    /// A prison.
    Prison,
    /// A young offender institution.
    YouthOffenderInstitution,
    /// A secure training centre.
    SecureTrainingCentre,
    /// A secure college.
    SecureCollege,
    /// A youth offending team.
    YouthOffendingTeam,
    /// The probation service.
    Probation,
    /// A Jobcentre Plus (the Secretary of State for Work and Pensions).
    JobcentrePlus,
    /// An emergency department.
    EmergencyDepartment,
    /// An urgent treatment centre.
    UrgentTreatmentCentre,
    /// A hospital, for its in-patients.
    HospitalInpatient,
    /// A social services authority.
    SocialServices,
    /// The regular armed forces (the Secretary of State for Defence).
    RegularArmedForces,
}

impl Settings {
    /// Settings for `base_url` serving `authorities`, with every default.
    pub fn new(base_url: impl Into<String>, authorities: &[&str]) -> Self {
        Self {
            base_url: base_url.into(),
            authorities: authorities.iter().map(|code| code.to_string()).collect(),
            agency_contact: None,
            public_authority: None,
            api_key_env: None,
            timeout_ms: connector::DEFAULT_TIMEOUT_MS,
            connect_timeout_ms: connector::DEFAULT_CONNECT_TIMEOUT_MS,
        }
    }

    /// Checks what the types cannot; the error names the setting and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if self.authorities.is_empty() {
            return Err(
                "settings key `authorities`: list at least one housing authority's ONS code, e.g. [\"E09000020\"]"
                    .into(),
            );
        }
        for (i, code) in self.authorities.iter().enumerate() {
            if !is_ons_local_authority(code) || !code.starts_with('E') {
                return Err(format!(
                    "settings key `authorities[{i}]`: `{code}` is not an English local authority's ONS code (`E` and 8 digits, e.g. `E09000020`); the Duty to Refer applies in England only"
                ));
            }
        }
        if self.agency_contact.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err("settings key `agency_contact`: is empty; leave it out or give a team telephone number or mailbox".into());
        }
        self.validate_timeouts()?;
        Ok(())
    }

    /// Whether this partner takes referrals for the authority with ONS code `code`.
    pub fn serves(&self, code: &str) -> bool {
        self.authorities.iter().any(|served| served == code)
    }
}

pathways_sdk::http_settings!(Settings, "the Duty to Refer API key");
