//! Food bank connector: finds the food banks nearest a client's postcode district in a Give
//! Food API v2 directory, asks each one's e-voucher desk whether it can take a referral, sends
//! e-referral vouchers and reports their status.
//!
//! - Availability: for a `food` need only. Searches the directory for the postcode district,
//!   keeps open food banks within `max_distance_m` (nearest `max_results`), asks their voucher
//!   desks concurrently, and offers each one: vouchers left → `capacity`, a wait → `waitlist`,
//!   not accepting → `no_capacity`. A desk that fails to answer gives an offer of `unknown`
//!   capacity rather than hiding the food bank; if every desk fails, the call fails with the
//!   first error so the orchestrator sees the outage. Every offer is `refer` (by e-voucher),
//!   starts on the desk's next session, and carries the food bank's phone, email, homepage,
//!   address and session times as its `contact`.
//! - Referral: one voucher POST with the referral's idempotency key; the body carries only
//!   the client fields the core shared (name, year of birth, postcode, address, phone,
//!   household) and a reason code derived from the needs. Never notes, health or abuse details.
//! - Status: `issued` → accepted, `redeemed` → completed, `expired` → failed
//!   (could_not_contact), `cancelled` → cancelled, `declined` → rejected with its reason.
//! - Cancel: `POST /evoucher/v1/referrals/{voucher_id}/cancel` with the reason in the desk's
//!   words (`client_withdrew`, `agency_withdrew`, `other`); the answer is the voucher, mapped
//!   as for status (`cancelled`). Repeating it is harmless: the desk answers the cancelled
//!   voucher again. A voucher already redeemed, expired or declined cannot be cancelled (409):
//!   it is read back and its real final state is the answer (e.g. `completed`).
//!
//! Built as a `cdylib` (the loadable plugin) and an `rlib` (for tests and benches).

mod client;
mod mapping;
mod settings;

use futures::future::join_all;
use pathways_sdk::connector::timed_health;
use pathways_sdk::{
    async_trait, Availability, AvailabilityQuery, CancelRequest, Capability, ClientField, Health,
    Manifest, NeedCode, Partner, PartnerError, PartnerKind, PartnerPlugin, Referral,
    ReferralReceipt, ReferralRef, ReferralStatus,
};

pub use settings::Settings;

use client::FoodbankClient;

/// The food bank partner: a Give Food directory plus an e-voucher API.
#[derive(Debug)]
pub struct FoodbankPartner {
    manifest: Manifest,
    settings: Settings,
    client: FoodbankClient,
}

impl PartnerPlugin for FoodbankPartner {
    type Settings = Settings;

    fn describe() -> Manifest {
        Manifest {
            plugin: "foodbank".into(),
            kind: PartnerKind::Foodbank,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Nearest food banks (Give Food API v2) with e-voucher capacity, referrals, status and cancelling a voucher".into(),
            needs: vec![NeedCode::Food],
            areas: Vec::new(),
            // What a food bank voucher uses in practice (DOMAIN.md); deliberately no
            // `need_notes`, so notes on health or abuse can never reach a food bank.
            shares: vec![
                ClientField::Name,
                ClientField::YearOfBirth,
                ClientField::Postcode,
                ClientField::Address,
                ClientField::Phone,
                ClientField::Household,
            ],
            capabilities: vec![
                Capability::Availability,
                Capability::Referral,
                Capability::Status,
                Capability::Cancel,
            ],
            // Nothing beyond consent: a voucher needs only the name and a reason, and a client
            // with no phone to share is reached through the referrer (`contact_via_agency`).
            requires: Vec::new(),
            settings_schema: serde_json::Value::Null,
            build: None,
        }
    }

    fn from_settings(settings: Settings) -> Result<Self, String> {
        settings.validate()?;
        let client = FoodbankClient::new(&settings)?;
        Ok(Self { manifest: pathways_sdk::manifest_of::<Self>(), settings, client })
    }
}

#[async_trait]
impl Partner for FoodbankPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        if !query.needs.iter().any(|need| need.code == NeedCode::Food) {
            return Ok(Availability::default());
        }
        let district = query.postcode_district.trim();
        if district.is_empty() {
            return Err(PartnerError::invalid_request("the query's postcode_district is empty"));
        }
        let found = self.client.search(district).await?;
        let near = mapping::nearby(found, self.settings.max_distance_m, self.settings.max_results);
        let answers = join_all(near.iter().map(|(fb, _)| self.client.availability(&fb.slug))).await;
        if let Some(Err(first)) = answers.first().filter(|_| answers.iter().all(Result::is_err)) {
            return Err(first.clone());
        }
        let offers = near
            .iter()
            .zip(&answers)
            .map(|((fb, distance_m), answer)| {
                if let Err(err) = answer {
                    tracing::warn!(foodbank = %fb.slug, error = %err, "voucher desk did not answer; capacity unknown");
                }
                mapping::offer(fb, *distance_m, answer.as_ref().ok(), query.today)
            })
            .collect();
        Ok(Availability { offers })
    }

    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError> {
        let body = mapping::voucher_request(referral)?;
        let answer = self.client.post_referral(&referral.idempotency_key, &body).await?;
        Ok(mapping::receipt(&answer))
    }

    async fn referral_status(
        &self,
        reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError> {
        if reference.partner_reference.trim().is_empty() {
            return Err(PartnerError::invalid_request("the referral reference has no voucher id"));
        }
        let (answer, path) = self.client.voucher(&reference.partner_reference).await?;
        mapping::status(&answer, &path)
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        timed_health(self.settings.timeout_ms, "e-voucher API", self.client.health()).await
    }

    async fn cancel_referral(
        &self,
        request: &CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        let voucher_id = request.reference.partner_reference.trim();
        if voucher_id.is_empty() {
            return Err(PartnerError::invalid_request("the referral reference has no voucher id"));
        }
        let body = mapping::voucher_cancel(request.reason);
        let (answer, path) = self.client.cancel(voucher_id, &body).await?;
        mapping::status(&answer, &path)
    }
}

pathways_sdk::export_partner!(FoodbankPartner);

#[cfg(test)]
mod tests;
