//! Selection: which configured partners to ask about a case, and about which of its needs.
//!
//! A partner is asked when it serves the client's area and at least one of the case's needs.
//! Its area is what configuration says; when configuration names no area, what the connector's
//! manifest says; and when neither names one, anywhere. Each selected partner is asked once, for
//! every case need it serves, so a partner that can help with three needs gets one query, not
//! three.

use std::sync::Arc;

use pathways_core::{Case, NeedCode, Partner};

/// A partner enabled in configuration, ready to be asked.
#[derive(Clone)]
pub struct ConfiguredPartner {
    /// The stable partner id from configuration, used in plans.
    pub id: String,
    /// Its display name (`name` in its `[[partners]]` entry; the id when none is given).
    pub name: String,
    /// ONS local authority codes configuration enables it for; empty defers to the manifest.
    pub areas: Vec<String>,
    /// The connector.
    pub partner: Arc<dyn Partner>,
    /// The council has confirmed in configuration that this is a domestic-abuse service
    /// (`domestic_abuse_service = true`): see `pathways_core::receives_safe_contact_details`.
    pub domestic_abuse_service: bool,
}

impl std::fmt::Debug for ConfiguredPartner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfiguredPartner")
            .field("id", &self.id)
            .field("areas", &self.areas)
            .field("plugin", &self.partner.manifest().plugin)
            .finish()
    }
}

impl ConfiguredPartner {
    /// The areas this partner serves: configuration's if it names any, else the manifest's;
    /// empty means anywhere.
    pub fn effective_areas(&self) -> &[String] {
        if self.areas.is_empty() {
            &self.partner.manifest().areas
        } else {
            &self.areas
        }
    }

    /// Whether this partner serves the local authority `area`.
    pub fn serves_area(&self, area: &str) -> bool {
        let areas = self.effective_areas();
        areas.is_empty() || areas.iter().any(|a| a == area)
    }
}

/// One partner to ask, and the case needs to ask it about (in the case's order).
#[derive(Debug, Clone)]
pub struct PartnerAsk<'a> {
    /// The partner.
    pub partner: &'a ConfiguredPartner,
    /// Its position in the slice `select` was given.
    pub index: usize,
    /// The needs of the case it serves.
    pub needs: Vec<NeedCode>,
}

/// The partners to ask about `case`, in configuration order.
pub fn select<'a>(partners: &'a [ConfiguredPartner], case: &Case) -> Vec<PartnerAsk<'a>> {
    let area = case.client.local_authority.as_str();
    partners
        .iter()
        .enumerate()
        .filter(|(_, p)| p.serves_area(area))
        .filter_map(|(index, partner)| {
            let served = &partner.partner.manifest().needs;
            let needs: Vec<NeedCode> =
                case.needs.iter().map(|n| n.code).filter(|code| served.contains(code)).collect();
            (!needs.is_empty()).then_some(PartnerAsk { partner, index, needs })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{case_with_needs, manifest, StubPartner};
    use pathways_core::Urgency;

    fn configured(
        id: &str,
        areas: &[&str],
        manifest_areas: &[&str],
        needs: &[NeedCode],
    ) -> ConfiguredPartner {
        let mut m = manifest(id, needs);
        m.areas = manifest_areas.iter().map(|a| a.to_string()).collect();
        ConfiguredPartner {
            id: id.to_string(),
            name: id.to_string(),
            areas: areas.iter().map(|a| a.to_string()).collect(),
            partner: Arc::new(StubPartner::answering(m, vec![])),
            domestic_abuse_service: false,
        }
    }

    fn ids<'a>(asks: &'a [PartnerAsk<'_>]) -> Vec<&'a str> {
        asks.iter().map(|a| a.partner.id.as_str()).collect()
    }

    #[test]
    fn configured_areas_win_over_the_manifest() {
        let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]); // client in E09000020
        let partners = [
            configured("config-says-here", &["E09000020"], &["E06000051"], &[NeedCode::Food]),
            configured("config-says-elsewhere", &["E06000051"], &["E09000020"], &[NeedCode::Food]),
        ];
        assert_eq!(ids(&select(&partners, &case)), ["config-says-here"]);
    }

    #[test]
    fn manifest_areas_apply_when_configuration_names_none_and_empty_means_anywhere() {
        let case = case_with_needs(&[(NeedCode::Food, Urgency::Urgent)]);
        let partners = [
            configured("manifest-here", &[], &["E09000020"], &[NeedCode::Food]),
            configured("manifest-elsewhere", &[], &["E06000051"], &[NeedCode::Food]),
            configured("anywhere", &[], &[], &[NeedCode::Food]),
        ];
        assert_eq!(ids(&select(&partners, &case)), ["manifest-here", "anywhere"]);
    }

    #[test]
    fn partner_is_asked_once_for_every_case_need_it_serves() {
        let case = case_with_needs(&[
            (NeedCode::HousingHomelessness, Urgency::Emergency),
            (NeedCode::Food, Urgency::Urgent),
            (NeedCode::DebtMoney, Urgency::Soon),
        ]);
        let partners = [
            configured(
                "advice",
                &[],
                &[],
                &[NeedCode::DebtMoney, NeedCode::Food, NeedCode::Digital],
            ),
            configured("mental-health-only", &[], &[], &[NeedCode::MentalHealth]),
        ];
        let asks = select(&partners, &case);
        assert_eq!(ids(&asks), ["advice"]);
        assert_eq!(
            asks[0].needs,
            [NeedCode::Food, NeedCode::DebtMoney],
            "case order, only served needs"
        );
    }
}
