//! The connector compiled in, against the sandbox's council simulator over real HTTP on
//! 127.0.0.1: availability by area, pages, statuses, ages and capacities (`availability.rs`);
//! referrals and their status (`referral.rs`); exactly what a referral sends (`payload.rs`);
//! the council misbehaving (`faults.rs`); the published HSDS documents read through the
//! mapping (`contract.rs`); routes, contact details, waits as dates and what the manifest
//! requires (`contact.rs`).

mod availability;
mod contact;
mod contract;
mod faults;
mod payload;
mod referral;

use pathways_plugin_testkit::{sandbox, today};
use pathways_sdk::{
    parse_case, AgeBand, AvailabilityQuery, Case, Circumstance, ClientField, Household, NeedCode,
    NeedRequest, Offer, PartnerPlugin, Referral, ServiceRef, Urgency,
};

use crate::{CouncilPartner, Settings};

fn partner(base_url: &str) -> CouncilPartner {
    CouncilPartner::from_settings(Settings::new(base_url)).unwrap()
}

/// An availability query for a client in `district` of `local_authority`.
fn query(
    local_authority: &str,
    district: &str,
    age_band: AgeBand,
    needs: &[NeedCode],
    circumstances: &[Circumstance],
) -> AvailabilityQuery {
    AvailabilityQuery {
        needs: needs.iter().map(|&code| NeedRequest { code, urgency: Urgency::Soon }).collect(),
        local_authority: local_authority.into(),
        postcode_district: district.into(),
        age_band,
        household: Household { adults: 1, children_ages: vec![] },
        circumstances: circumstances.to_vec(),
        preferred_language: "en".into(),
        today: today(),
    }
}

/// The offers for `need`, by service name.
fn for_need(offers: &[Offer], need: NeedCode) -> Vec<&Offer> {
    offers.iter().filter(|o| o.need == need).collect()
}

fn named<'a>(offers: &'a [Offer], name: &str) -> &'a Offer {
    offers.iter().find(|o| o.service.name == name).unwrap_or_else(|| {
        let names: Vec<&str> = offers.iter().map(|o| o.service.name.as_str()).collect();
        panic!("no offer from `{name}` in {names:?}")
    })
}

/// A Kensington case with notes on health and abuse that must never reach a council request.
fn case(safe_contact: bool) -> Case {
    let json = format!(
        r#"{{"reference": "CAKC-000123", "channel": "phone",
        "referrer": {{"organisation": "citizens-advice-kc", "worker": "pf-17"}},
        "client": {{"name": "Test Q Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
          "address": "1 Test Road", "local_authority": "E09000020", "phone": "07700 900123",
          "email": "test@example.org", "preferred_language": "en", "safe_contact": {safe_contact},
          "household": {{"adults": 1, "children_ages": [7, 15]}}}},
        "needs": [{{"code": "debt_money", "urgency": "urgent", "notes": "PRIVATE-DEBT-NOTE"}},
                  {{"code": "housing_conditions", "urgency": "soon", "notes": "PRIVATE-DAMP-NOTE"}},
                  {{"code": "social_isolation", "urgency": "routine", "notes": "PRIVATE-LONELY-NOTE"}},
                  {{"code": "mental_health", "urgency": "soon", "notes": "PRIVATE-MENTAL-HEALTH"}},
                  {{"code": "domestic_abuse", "urgency": "emergency", "notes": "PRIVATE-ABUSE"}}],
        "consent": {{"lawful_basis": "consent", "share_with": "planned_partners",
          "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}}}}"#
    );
    parse_case(json.as_bytes()).unwrap()
}

/// A referral of `case(safe_contact)` for `need` to `service`, minimised by the core.
fn referral(service: ServiceRef, need: NeedCode, key: &str, safe_contact: bool) -> Referral {
    let shares: Vec<ClientField> = CouncilPartner::describe().shares;
    Referral::for_partner(
        &case(safe_contact),
        &"rbkc".parse().unwrap(),
        service,
        &[need],
        &shares,
        false,
        key.parse().unwrap(),
    )
}

/// The service a fresh availability query offers under `name` for `need` in Kensington.
async fn kensington_service(partner: &CouncilPartner, need: NeedCode, name: &str) -> ServiceRef {
    use pathways_sdk::Partner;
    let q = query("E09000020", "W10", AgeBand::From35To49, &[need], &[]);
    let offers = partner.check_availability(&q).await.unwrap().offers;
    named(&offers, name).service.clone()
}

#[test]
fn settings_errors_name_the_key() {
    let err =
        pathways_sdk::parse_settings::<Settings>(br#"{"base_url": "http://x", "per_pages": 5}"#)
            .unwrap_err();
    assert!(err.contains("per_pages"), "{err}");
    let bad = |settings: Settings| CouncilPartner::from_settings(settings).unwrap_err();
    let base = || Settings::new("http://127.0.0.1:9");
    assert!(bad(Settings { per_page: 0, ..base() }).contains("per_page"));
    assert!(bad(Settings { max_pages: 1000, ..base() }).contains("max_pages"));
    assert!(
        bad(Settings { jurisdiction_id: Some(" ".into()), ..base() }).contains("jurisdiction_id")
    );
    let food =
        std::collections::BTreeMap::from([("food".to_string(), vec!["esdNeed:1".to_string()])]);
    let err = bad(Settings { taxonomy_terms: food, ..base() });
    assert!(err.contains("taxonomy_terms.food") && err.contains("social_isolation"), "{err}");
    assert!(bad(Settings::new("not a url")).contains("base_url"));
    let err = bad(Settings { open311_url: Some("ftp://x".into()), ..base() });
    assert!(err.contains("open311_url"), "{err}");
    let err =
        bad(Settings { api_key_env: Some("PATHWAYS_TEST_SURELY_UNSET_COUNCIL".into()), ..base() });
    assert!(err.contains("api_key_env"), "{err}");
}

#[test]
fn manifest_declares_its_needs_and_minimal_shares() {
    let manifest = pathways_sdk::manifest_of::<CouncilPartner>();
    assert_eq!(manifest.plugin, "council");
    assert!(manifest.needs.contains(&NeedCode::SocialIsolation));
    assert!(
        !manifest.needs.contains(&NeedCode::Food)
            && !manifest.needs.contains(&NeedCode::MentalHealth)
    );
    assert!(!manifest.shares.contains(&ClientField::NeedNotes));
    assert!(!manifest.shares.contains(&ClientField::DateOfBirth));
    let schema = manifest.settings_schema.to_string();
    assert!(schema.contains("jurisdiction_id") && schema.contains("taxonomy_terms"), "{schema}");
}

#[test]
fn the_shipped_configuration_configures_three_councils_that_load() {
    #[derive(serde::Deserialize)]
    struct File {
        partners: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        plugin: String,
        areas: Vec<String>,
        settings: toml::Value,
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/pathways.toml");
    let file: File = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut areas = Vec::new();
    for entry in file.partners.into_iter().filter(|p| p.plugin == "council") {
        let settings: Settings = entry.settings.try_into().unwrap();
        assert_eq!(settings.jurisdiction_id.as_deref(), entry.areas.first().map(String::as_str));
        CouncilPartner::from_settings(settings).unwrap();
        areas.extend(entry.areas);
    }
    assert_eq!(areas, ["E09000020", "E06000051", "E07000027"]);
}
