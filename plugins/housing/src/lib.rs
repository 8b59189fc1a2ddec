//! Housing connector: refers people who are homeless or threatened with homelessness to a
//! local housing authority under the Duty to Refer (Homelessness Reduction Act 2017, s.213B),
//! and tracks the case the authority opens.
//!
//! - Availability: for a `housing_homelessness` need only, and only when the client lives in
//!   an authority this partner serves (`authorities` in the settings). Asks that authority's
//!   housing options team: not accepting → `no_capacity`; an emergency and a same-day duty
//!   service → `capacity` today; otherwise `capacity` when triage comes by the need's due date,
//!   else `waitlist`, starting on the triage date. Eligibility is `unknown` (the authority
//!   decides it). The client may choose another authority when referred (the statute lets them
//!   choose); the offer is for where they live, the referral goes where they chose.
//!   The offer's route is `refer`, and its `contact` is the housing options team's phone,
//!   email, web page, address, opening hours and out-of-hours line.
//! - Referral: refused with `invalid_request` naming what is missing, and nothing sent, unless
//!   the case records consent to refer, consent to share contact details, and a chosen
//!   authority this partner serves. The manifest declares the same (`requires`: Duty to Refer
//!   with the settings' `authorities`, and direct contact unless `agency_contact` is set), so
//!   a plan marks such a step `blocked` instead of planning it as sendable. One POST with the referral's idempotency key carrying the
//!   client's name and contact details, household, and the agreed reason: `homeless` for an
//!   emergency or notes saying there is nowhere to sleep now, otherwise
//!   `threatened_with_homelessness_within_56_days`. Notes are read to pick that code and never
//!   sent.
//! - A safe-contact client: the core withholds their address, postcode, telephone and email
//!   from anyone but a domestic-abuse service, so the referral says `contact_via_referrer` and
//!   carries the referring organisation's `agency_contact`; the client's consent to share
//!   contact is still required (it is what they agreed to), but only the referrer's details go.
//! - Status: `received` → requested, `accepted` → accepted, `in_progress` → in-progress,
//!   `closed` → completed (prevented or relieved) or failed (could_not_contact), `declined` →
//!   rejected (not_eligible, out_of_area for a local-connection referral, no_capacity for a
//!   closed intake).
//! - Cancel: the referrer withdraws the referral, `POST /dtr/v1/referrals/{id}/withdraw` with
//!   the reason in the authority's words (`consent_withdrawn`, `no_longer_needed`,
//!   `assisted_elsewhere`, `referred_elsewhere`, `referred_in_error`, `other`); `withdrawn`
//!   maps to cancelled (no_longer_interested for the client's own choice, else other).
//!   Repeating it is harmless: the authority answers the withdrawn referral again. A referral
//!   closed or declined first cannot be withdrawn (409): it is read back and its real final
//!   state is the answer.
//!
//! Built as a `cdylib` (the loadable plugin) and an `rlib` (for tests and benches).

mod client;
mod mapping;
mod settings;

use pathways_sdk::connector::timed_health;
use pathways_sdk::{
    async_trait, Availability, AvailabilityQuery, CancelRequest, Capability, ClientField, Health,
    Manifest, NeedCode, Partner, PartnerError, PartnerKind, PartnerPlugin, Prerequisite, Referral,
    ReferralReceipt, ReferralRef, ReferralStatus, Requirement,
};

pub use settings::{PublicAuthority, Settings};

use client::HousingClient;

/// The housing authority partner: a Duty to Refer intake for one or more authorities.
#[derive(Debug)]
pub struct HousingPartner {
    manifest: Manifest,
    settings: Settings,
    client: HousingClient,
}

impl PartnerPlugin for HousingPartner {
    type Settings = Settings;

    fn describe() -> Manifest {
        Manifest {
            plugin: "housing".into(),
            kind: PartnerKind::Housing,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Local housing authority Duty to Refer (HRA 2017 s.213B): housing options availability, referrals, case status and withdrawing a referral".into(),
            needs: vec![NeedCode::HousingHomelessness],
            areas: Vec::new(),
            shares: vec![
                // The statute's content of a referral: name and contact details.
                ClientField::Name,
                ClientField::Phone,
                ClientField::Email,
                // Where the client lives now: for prevention, the home at risk that the
                // authority works to save (it speaks to the landlord about it).
                ClientField::Address,
                ClientField::Postcode,
                // Who would be housed: children make a household in priority need.
                ClientField::Household,
                // Read only to choose the reason code (homeless now, or threatened); the text
                // is never sent to the authority.
                ClientField::NeedNotes,
            ],
            capabilities: vec![
                Capability::Availability,
                Capability::Referral,
                Capability::Status,
                Capability::Cancel,
            ],
            // Without settings only the statute's three facts are known to be required; a
            // configured partner's manifest names its authorities and, without an
            // `agency_contact`, direct contact too (`requirements`).
            requires: vec![Requirement {
                needs: vec![NeedCode::HousingHomelessness],
                what: Prerequisite::DutyToRefer { authorities: Vec::new() },
            }],
            settings_schema: serde_json::Value::Null,
            build: None,
        }
    }

    fn from_settings(settings: Settings) -> Result<Self, String> {
        settings.validate()?;
        let client = HousingClient::new(&settings)?;
        let mut manifest = pathways_sdk::manifest_of::<Self>();
        manifest.requires = requirements(&settings);
        Ok(Self { manifest, settings, client })
    }
}

/// What a referral through this partner needs beyond consent, exactly the conditions on which
/// `mapping::referral_body` refuses one: the Duty to Refer facts with an authority these
/// settings serve, and, unless `agency_contact` is set, a way to contact the client directly
/// (a phone or email not withheld for their safety).
pub(crate) fn requirements(settings: &Settings) -> Vec<Requirement> {
    let housing = vec![NeedCode::HousingHomelessness];
    let mut requires = vec![Requirement {
        needs: housing.clone(),
        what: Prerequisite::DutyToRefer { authorities: settings.authorities.clone() },
    }];
    if settings.agency_contact.is_none() {
        requires.push(Requirement { needs: housing, what: Prerequisite::DirectContact });
    }
    requires
}

#[async_trait]
impl Partner for HousingPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        let Some(need) = query.needs.iter().find(|need| need.code == NeedCode::HousingHomelessness)
        else {
            return Ok(Availability::default());
        };
        if !self.settings.serves(&query.local_authority) {
            // Another partner serves that authority; offering nothing is the honest answer.
            return Ok(Availability::default());
        }
        let answer = self.client.availability(&query.local_authority).await?;
        if answer.authority != query.local_authority {
            return Err(PartnerError::permanent(format!(
                "partner answered availability for another authority when asked about `{}`",
                query.local_authority
            )));
        }
        Ok(Availability { offers: vec![mapping::offer(&answer, need.urgency, query.today)] })
    }

    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError> {
        let body = mapping::referral_body(referral, &self.settings)?;
        let answer = self.client.post_referral(&referral.idempotency_key, &body).await?;
        Ok(mapping::receipt(&answer))
    }

    async fn referral_status(
        &self,
        reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError> {
        let id = reference.partner_reference.trim();
        if id.is_empty() {
            return Err(PartnerError::invalid_request("the referral reference has no referral id"));
        }
        let (answer, path) = self.client.referral(id).await?;
        mapping::status(&answer, id, &path)
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        timed_health(self.settings.timeout_ms, "Duty to Refer API", self.client.health()).await
    }

    async fn cancel_referral(
        &self,
        request: &CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        let id = request.reference.partner_reference.trim();
        if id.is_empty() {
            return Err(PartnerError::invalid_request("the referral reference has no referral id"));
        }
        let body = mapping::withdrawal(request.reason);
        let (answer, path) = self.client.withdraw(id, &body).await?;
        mapping::status(&answer, id, &path)
    }
}

pathways_sdk::export_partner!(HousingPartner);

#[cfg(test)]
mod tests;
