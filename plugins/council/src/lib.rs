//! Council connector: finds council and community services in an Open Referral UK (HSDS 3)
//! directory, sends referrals as Open311 GeoReport v2 service requests, and reports their
//! status.
//!
//! - Availability: for each need asked that the connector serves, searches the directory's
//!   `/services` once per taxonomy term of that need (`mapping/taxonomy.rs`) near the client's
//!   postcode district (`postcode`, `proximity`), reading every page to the end (at most
//!   `max_pages`). A service is offered for a need only if it really carries one of the need's
//!   terms (a directory that ignores `taxonomy_term_id` cannot smuggle others in), is active
//!   or temporarily closed, and covers the client's local authority; age limits, eligibility
//!   circumstances and HSDS 3.1 capacities decide its eligibility and capacity (`mapping.rs`).
//!   If any search fails, the call fails with that error: a partial answer would hide services.
//!   Each offer says how it is taken up (`route`): `refer` for a service that links an Open311
//!   `service_code`, `signpost` for one that does not (the client contacts it: its phone,
//!   email, hours and address are in the offer's `contact`), `self_help` for one used online
//!   only. A stated wait becomes `earliest_start`.
//! - Referral: re-reads the service from the directory (it must still be active and link an
//!   Open311 `service_code`), then POSTs one service request with the referral's idempotency
//!   key as `Idempotency-Key`. The form carries only the client fields the core shared (name,
//!   email, phone, address with postcode) and a description built from the referral's facts;
//!   never notes (`mapping/open311.rs`). A request about housing conditions needs the
//!   property's address: the manifest declares it (`requires`), so a plan blocks such a step
//!   for a case without one, and a referral that arrives without it is refused unsent.
//! - Status: `GET /requests/{id}.json`, `open`/`closed` and the `status_notes` code mapped to
//!   FHIR Task states.
//! - Cancel: not offered. Open311 GeoReport v2 has no way to withdraw a service request, so
//!   the manifest does not declare `Capability::Cancel` (the host answers `not_supported`
//!   without calling the plugin) and `cancel_referral` itself answers `not_supported` with
//!   what to do instead: phone the council to withdraw it.
//!
//! Built as a `cdylib` (the loadable plugin) and an `rlib` (for tests).

mod client;
mod mapping;
mod settings;

use std::collections::HashSet;

use futures::stream::{self, StreamExt};
use pathways_sdk::connector::timed_health;
use pathways_sdk::{
    async_trait, Availability, AvailabilityQuery, CancelRequest, Capability, ClientField,
    Eligibility, Health, Manifest, NeedCode, Partner, PartnerError, PartnerKind, PartnerPlugin,
    Prerequisite, Referral, ReferralReceipt, ReferralRef, ReferralStatus, Requirement,
};

pub use settings::Settings;

use client::{CouncilClient, ServiceSearch};
use mapping::{Service, Taxonomy};

/// Directory searches run at once for one availability query: enough to answer quickly,
/// few enough not to look like a flood to a council's directory.
const MAX_CONCURRENT_SEARCHES: usize = 4;

/// The council partner: an HSDS 3 directory plus an Open311 GeoReport v2 endpoint.
#[derive(Debug)]
pub struct CouncilPartner {
    manifest: Manifest,
    settings: Settings,
    taxonomy: Taxonomy,
    client: CouncilClient,
}

impl PartnerPlugin for CouncilPartner {
    type Settings = Settings;

    fn describe() -> Manifest {
        Manifest {
            plugin: "council".into(),
            kind: PartnerKind::Council,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Council and community services from an Open Referral UK (HSDS 3) directory, with referrals as Open311 GeoReport v2 service requests (which cannot be withdrawn through the API: phone the council)".into(),
            needs: mapping::served_needs(),
            areas: Vec::new(),
            // What a council service request uses: who the person is and how to reach them;
            // the postcode goes only with the address, as the location a property service
            // needs. Deliberately no `need_notes`: requests are read widely in a council.
            shares: vec![
                ClientField::Name,
                ClientField::Email,
                ClientField::Phone,
                ClientField::Address,
                ClientField::Postcode,
            ],
            // No `Cancel`: Open311 GeoReport v2 has no way to withdraw a service request.
            capabilities: vec![Capability::Availability, Capability::Referral, Capability::Status],
            // A request about a home (damp, disrepair) is about the property: the council
            // needs its address to inspect it. `send_referral` refuses the same.
            requires: vec![Requirement {
                needs: mapping::PROPERTY_NEEDS.to_vec(),
                what: Prerequisite::ClientField { field: ClientField::Address },
            }],
            settings_schema: serde_json::Value::Null,
            build: None,
        }
    }

    fn from_settings(settings: Settings) -> Result<Self, String> {
        settings.validate(&mapping::served_needs())?;
        let client = CouncilClient::new(&settings)?;
        Ok(Self {
            manifest: pathways_sdk::manifest_of::<Self>(),
            taxonomy: Taxonomy::new(&settings.taxonomy_terms),
            settings,
            client,
        })
    }
}

impl CouncilPartner {
    /// Every service the directory lists for `term` near `district`, following pages to the
    /// last (or to `max_pages`).
    async fn search(&self, term: &str, district: &str) -> Result<Vec<Service>, PartnerError> {
        let search = ServiceSearch {
            term,
            postcode_district: district,
            proximity_m: self.settings.proximity_m,
            per_page: self.settings.per_page,
        };
        let mut found = Vec::new();
        for page in 1..=self.settings.max_pages {
            let answer = self.client.services_page(&search, page).await?;
            let more = !answer.contents.is_empty()
                && answer.last_page != Some(true)
                && answer.total_pages.is_none_or(|total| u64::from(page) < total);
            found.extend(answer.contents);
            if !more {
                return Ok(found);
            }
        }
        tracing::warn!(
            term,
            max_pages = self.settings.max_pages,
            "the directory has more pages than `max_pages`; later services are not offered"
        );
        Ok(found)
    }
}

#[async_trait]
impl Partner for CouncilPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        let mut needs: Vec<NeedCode> = Vec::new();
        for need in query.needs.iter().map(|n| n.code) {
            if !self.taxonomy.terms_for(need).is_empty() && !needs.contains(&need) {
                needs.push(need);
            }
        }
        if needs.is_empty() {
            return Ok(Availability::default());
        }
        let district = query.postcode_district.trim();
        if district.is_empty() {
            return Err(PartnerError::invalid_request("the query's postcode_district is empty"));
        }
        // Owned terms: a stream of futures borrowing from the query trips async-trait's
        // higher-ranked lifetimes.
        let searches: Vec<(NeedCode, String)> = needs
            .iter()
            .flat_map(|&need| self.taxonomy.terms_for(need).iter().map(move |t| (need, t.clone())))
            .collect();
        let district = district.to_string();
        let answers: Vec<(NeedCode, Result<Vec<Service>, PartnerError>)> = stream::iter(searches)
            .map(|(need, term)| {
                let district = district.clone();
                async move { (need, self.search(&term, &district).await) }
            })
            .buffered(MAX_CONCURRENT_SEARCHES)
            .collect()
            .await;
        let mut seen = HashSet::new();
        let mut offers = Vec::new();
        for (need, answer) in answers {
            for service in answer? {
                let tagged = service.attributes.iter().any(|a| self.taxonomy.means(a.term(), need));
                if !tagged || !mapping::is_offerable(&service, &query.local_authority) {
                    continue;
                }
                if seen.insert((need, service.id.clone())) {
                    let max_age = self.settings.capacity_max_age_days;
                    offers.push(mapping::offer(&service, need, query, max_age));
                }
            }
        }
        let eligibility_rank = |e: &Eligibility| match e {
            Eligibility::Eligible => 0,
            Eligibility::Unknown => 1,
            Eligibility::NotEligible { .. } => 2,
        };
        offers.sort_by(|a, b| {
            let need_at = |n: NeedCode| needs.iter().position(|x| *x == n);
            (need_at(a.need), eligibility_rank(&a.eligibility), a.capacity, &a.service.name).cmp(&(
                need_at(b.need),
                eligibility_rank(&b.eligibility),
                b.capacity,
                &b.service.name,
            ))
        });
        Ok(Availability { offers })
    }

    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError> {
        if referral.service.id.trim().is_empty() {
            return Err(PartnerError::invalid_request("the referral's service id is empty"));
        }
        mapping::check_property_address(referral)?;
        let service = self.client.service(&referral.service.id).await?;
        let status = service.status.trim().to_ascii_lowercase();
        if status != "active" {
            return Err(PartnerError::permanent(format!(
                "the directory lists service `{}` as {status}: it is not taking referrals; choose another service",
                referral.service.id
            )));
        }
        let Some(code) = mapping::service_code(&service) else {
            return Err(PartnerError::permanent(format!(
                "service `{}` does not take referrals through Open311 (its directory entry links no service_code); signpost the client instead",
                referral.service.id
            )));
        };
        let form = mapping::request_form(referral, code, self.settings.jurisdiction_id.as_deref())?;
        let (answer, path) = self
            .client
            .post_request(&referral.idempotency_key, &form.pairs(), form.located)
            .await?;
        mapping::receipt(&answer, &path)
    }

    async fn referral_status(
        &self,
        reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError> {
        if reference.partner_reference.trim().is_empty() {
            return Err(PartnerError::invalid_request(
                "the referral reference has no service_request_id",
            ));
        }
        let (answer, path) = self.client.request(reference.partner_reference.trim()).await?;
        mapping::status(&answer, &path)
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        let both = async {
            let (directory, open311) =
                futures::future::join(self.client.directory_root(), self.client.open311_services())
                    .await;
            directory?;
            open311
        };
        timed_health(self.settings.timeout_ms, "directory and Open311", both).await
    }

    /// Open311 GeoReport v2 has no cancel: nothing is sent, and the answer says what to do.
    async fn cancel_referral(
        &self,
        request: &CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        let _ = request;
        Err(PartnerError::not_supported(CANNOT_WITHDRAW))
    }
}

/// Why a council referral cannot be cancelled here, and what to do instead.
pub(crate) const CANNOT_WITHDRAW: &str = "Open311 service requests cannot be withdrawn through the council's API: phone the council to withdraw it";

pathways_sdk::export_partner!(CouncilPartner);

#[cfg(test)]
mod tests;
