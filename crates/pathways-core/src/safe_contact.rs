//! Safe contact: who may receive the address and direct contact details of a client for whom
//! contact is unsafe (domestic abuse). One rule, used by the planner (what a step would share)
//! and by the referral intake (what a referral carries), so the two can never disagree.
//!
//! A plugin's manifest saying it serves `domestic_abuse` is only a claim by whoever wrote the
//! plugin. The details go to a partner only when the council has confirmed it in its own
//! configuration (`domestic_abuse_service = true` on the partner's entry), and then only on
//! the referral for the domestic-abuse need itself: the same refuge's referral for another
//! need carries what any other partner's would.

use crate::need::NeedCode;
use crate::partner::Manifest;

/// Whether a referral for `need` to a partner with `manifest` may carry a safe-contact
/// client's address and direct contact details; `confirmed` is the council's confirmation
/// in configuration.
pub fn receives_safe_contact_details(confirmed: bool, manifest: &Manifest, need: NeedCode) -> bool {
    confirmed && manifest.is_domestic_abuse_service() && need == NeedCode::DomesticAbuse
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partner::{Capability, PartnerKind};

    fn manifest(needs: Vec<NeedCode>) -> Manifest {
        Manifest {
            plugin: "refuge".into(),
            kind: PartnerKind::Other,
            version: "1.0.0".into(),
            description: String::new(),
            needs,
            areas: vec![],
            shares: vec![],
            capabilities: vec![Capability::Referral],
            settings_schema: serde_json::Value::Null,
            build: None,
            requires: Vec::new(),
        }
    }

    #[test]
    fn only_a_confirmed_domestic_abuse_service_on_its_own_step() {
        let refuge = manifest(vec![NeedCode::DomesticAbuse, NeedCode::HousingHomelessness]);
        assert!(receives_safe_contact_details(true, &refuge, NeedCode::DomesticAbuse));
        assert!(
            !receives_safe_contact_details(false, &refuge, NeedCode::DomesticAbuse),
            "self-declared"
        );
        assert!(
            !receives_safe_contact_details(true, &refuge, NeedCode::HousingHomelessness),
            "other step"
        );
        let food = manifest(vec![NeedCode::Food]);
        assert!(
            !receives_safe_contact_details(true, &food, NeedCode::DomesticAbuse),
            "not a DA service"
        );
    }
}
