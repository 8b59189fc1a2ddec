//! The connector compiled in, against the sandbox's housing authority simulator over real HTTP
//! on 127.0.0.1. Refusals before sending are in `tests/refusals.rs`; exactly what reaches the
//! authority (and the reason code) in `tests/payload.rs`; failures in `tests/faults.rs`; status
//! on the sandbox clock in `tests/status.rs`; the team's contact details and the manifest's
//! `requires` against those refusals in `tests/contact.rs`; withdrawing a referral in
//! `tests/cancel.rs`.

mod cancel;
mod contact;
mod faults;
mod payload;
mod refusals;
mod status;

use chrono::NaiveDate;
use pathways_plugin_testkit::{sandbox, today};
use pathways_sandbox::{CapacityOverride, Faults};
use pathways_sdk::{
    parse_case, AvailabilityQuery, Capacity, Case, ClientField, Eligibility, NeedCode, Partner,
    PartnerPlugin, Referral, ReferralRef, ServiceChannel, ServiceRef, TaskState,
};

use crate::{HousingPartner, Settings};

/// Every authority the sandbox simulates.
const ALL: [&str; 3] = ["E09000020", "E06000051", "E07000027"];

/// The agency contact the tests configure (an invented team number in an Ofcom drama range).
const AGENCY_CONTACT: &str = "Housing advice team, 020 7946 0100";

fn settings(base_url: &str) -> Settings {
    Settings { agency_contact: Some(AGENCY_CONTACT.into()), ..Settings::new(base_url, &ALL) }
}

fn partner(base_url: &str) -> HousingPartner {
    HousingPartner::from_settings(settings(base_url)).unwrap()
}

/// The Duty to Refer facts a case records.
#[derive(Debug, Clone, Copy)]
struct Dtr {
    refer: bool,
    share_contact: bool,
    authority: &'static str,
}

/// A case with a housing need, and mental health and abuse needs whose notes must never reach
/// a housing authority.
#[derive(Debug, Clone, Copy)]
struct Spec {
    local_authority: &'static str,
    urgency: &'static str,
    notes: &'static str,
    dtr: Option<Dtr>,
    safe_contact: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            local_authority: "E09000020",
            urgency: "urgent",
            notes: "section 21 notice served, must leave in 6 weeks PRIVATE-HOUSING-NOTE",
            dtr: Some(Dtr { refer: true, share_contact: true, authority: "E09000020" }),
            safe_contact: false,
        }
    }
}

fn case(spec: Spec) -> Case {
    let Spec { local_authority, urgency, notes, dtr, safe_contact } = spec;
    let dtr = dtr
        .map(|d| {
            format!(
                r#", "duty_to_refer": {{"consent_to_refer": {}, "consent_to_share_contact": {},
                "chosen_authority": "{}"}}"#,
                d.refer, d.share_contact, d.authority
            )
        })
        .unwrap_or_default();
    let json = format!(
        r#"{{"reference": "CAKC-000123", "channel": "phone",
        "referrer": {{"organisation": "citizens-advice-kc", "worker": "pf-17"}},
        "client": {{"name": "Test Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
          "address": "1 Test Road", "local_authority": "{local_authority}",
          "phone": "07700 900123", "email": "test@example.org", "preferred_language": "en",
          "safe_contact": {safe_contact}, "household": {{"adults": 1, "children_ages": [7, 15]}}}},
        "needs": [{{"code": "housing_homelessness", "urgency": "{urgency}", "notes": "{notes}"}},
                  {{"code": "mental_health", "urgency": "soon", "notes": "PRIVATE-MENTAL-HEALTH"}},
                  {{"code": "domestic_abuse", "urgency": "emergency", "notes": "PRIVATE-ABUSE"}}],
        "consent": {{"lawful_basis": "consent", "share_with": "planned_partners",
          "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"{dtr}}}}}"#
    );
    parse_case(json.as_bytes()).unwrap()
}

fn query(local_authority: &'static str, urgency: &'static str) -> AvailabilityQuery {
    let case = case(Spec { local_authority, urgency, ..Spec::default() });
    AvailabilityQuery::for_case(&case, &[NeedCode::HousingHomelessness], today())
}

/// The referral the orchestrator would build for this connector: housing need only, declared
/// fields only.
fn referral(spec: Spec, key: &str) -> Referral {
    let manifest = HousingPartner::describe();
    Referral::for_partner(
        &case(spec),
        &"housing-kc".parse().unwrap(),
        ServiceRef { id: "E09000020".into(), name: "Kensington and Chelsea".into() },
        &[NeedCode::HousingHomelessness],
        &manifest.shares,
        manifest.is_domestic_abuse_service(),
        key.parse().unwrap(),
    )
}

fn reference(partner_reference: &str, key: &str) -> ReferralRef {
    ReferralRef {
        partner_reference: partner_reference.into(),
        idempotency_key: key.parse().unwrap(),
    }
}

#[tokio::test]
async fn each_area_offers_its_housing_options_team_with_its_own_wait() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let offer = |la, urgency| {
        let housing = &housing;
        async move {
            let mut offers = housing.check_availability(&query(la, urgency)).await.unwrap().offers;
            assert_eq!(offers.len(), 1, "{la}");
            offers.remove(0)
        }
    };
    let kc = offer("E09000020", "urgent").await;
    assert_eq!(kc.service.id, "E09000020");
    assert!(kc.service.name.contains("Kensington and Chelsea"), "{}", kc.service.name);
    assert_eq!((kc.capacity, kc.earliest_start), (Capacity::Capacity, Some(monday)));
    assert_eq!(kc.eligibility, Eligibility::Unknown);
    assert_eq!((kc.need, kc.channel), (NeedCode::HousingHomelessness, Some(ServiceChannel::Phone)));
    let kc_tonight = offer("E09000020", "emergency").await;
    assert_eq!(
        (kc_tonight.capacity, kc_tonight.earliest_start),
        (Capacity::Capacity, Some(today()))
    );

    let shropshire = offer("E06000051", "urgent").await;
    assert_eq!(
        (shropshire.capacity, shropshire.earliest_start),
        (Capacity::Capacity, Some(monday))
    );

    let barrow_day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let barrow = offer("E07000027", "urgent").await;
    assert_eq!((barrow.capacity, barrow.earliest_start), (Capacity::Waitlist, Some(barrow_day)));
    let barrow_soon = offer("E07000027", "soon").await;
    assert_eq!(barrow_soon.capacity, Capacity::Capacity, "triage within the 14 days");
    let barrow_tonight = offer("E07000027", "emergency").await;
    assert_eq!(barrow_tonight.capacity, Capacity::Waitlist, "no same-day service in Barrow");
    assert!(barrow_tonight.wait_estimate.unwrap().contains("no same-day"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn no_offer_and_no_call_for_other_needs_or_authorities_not_served() {
    let sandbox = sandbox().await;
    sandbox.set_housing_faults(Faults::failing());
    let housing =
        HousingPartner::from_settings(Settings::new(sandbox.housing_url(), &ALL[..1])).unwrap();
    let mut food = query("E09000020", "urgent");
    food.needs[0].code = NeedCode::Food;
    assert!(housing.check_availability(&food).await.unwrap().offers.is_empty());
    let shropshire = query("E06000051", "urgent");
    assert!(
        housing.check_availability(&shropshire).await.unwrap().offers.is_empty(),
        "a call would have failed"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_closed_intake_is_no_capacity_and_declines_on_arrival() {
    let sandbox = sandbox().await;
    sandbox.set_housing_faults(Faults { capacity: Some(CapacityOverride::Full), ..Faults::none() });
    let housing = partner(&sandbox.housing_url());
    let offers = housing.check_availability(&query("E09000020", "urgent")).await.unwrap().offers;
    assert_eq!((offers[0].capacity, offers[0].earliest_start), (Capacity::NoCapacity, None));
    let receipt = housing.send_referral(&referral(Spec::default(), "key-closed")).await.unwrap();
    assert_eq!(receipt.state, TaskState::Rejected);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_referral_is_receipted_and_a_repeated_key_records_one_referral() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    let referral = referral(Spec::default(), "key-once");
    let first = housing.send_referral(&referral).await.unwrap();
    assert_eq!(first.state, TaskState::Requested);
    assert!(first.partner_reference.starts_with("DTR-KC-"), "{}", first.partner_reference);
    assert!(first.received_at.is_some());
    let again = housing.send_referral(&referral).await.unwrap();
    assert_eq!(again, first);
    let stats = sandbox.housing_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.referrals_created), (2, 1, 1));
    let status =
        housing.referral_status(&reference(&first.partner_reference, "key-once")).await.unwrap();
    assert_eq!(status.state, TaskState::Requested, "the sandbox clock is stopped");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_chosen_authority_not_where_the_client_lives_gets_the_referral() {
    let sandbox = sandbox().await;
    let housing = partner(&sandbox.housing_url());
    let spec = Spec {
        dtr: Some(Dtr { refer: true, share_contact: true, authority: "E06000051" }),
        ..Spec::default()
    };
    let receipt = housing.send_referral(&referral(spec, "key-chosen")).await.unwrap();
    assert!(receipt.partner_reference.starts_with("DTR-SH-"), "{}", receipt.partner_reference);
    sandbox.shutdown().await;
}

#[test]
fn settings_errors_name_the_key() {
    let parse = |json: &str| pathways_sdk::parse_settings::<Settings>(json.as_bytes());
    let err =
        parse(r#"{"base_url": "http://x", "authorities": ["E09000020"], "area": 1}"#).unwrap_err();
    assert!(err.contains("area"), "{err}");
    let err = parse(r#"{"base_url": "http://x"}"#).unwrap_err();
    assert!(err.contains("authorities"), "{err}");
    let err = parse(r#"{"base_url": "http://x", "authorities": [], "public_authority": "police"}"#)
        .unwrap_err();
    assert!(err.contains("public_authority"), "{err}");
    let build = |settings: Settings| HousingPartner::from_settings(settings).unwrap_err();
    let err = build(Settings::new("http://127.0.0.1:9", &[]));
    assert!(err.contains("authorities"), "{err}");
    let err = build(Settings::new("http://127.0.0.1:9", &["E09000020", "W06000015"]));
    assert!(err.contains("authorities[1]") && err.contains("England"), "{err}");
    let err = build(Settings::new("not a url", &ALL));
    assert!(err.contains("base_url"), "{err}");
    let err = build(Settings {
        api_key_env: Some("PATHWAYS_TEST_SURELY_UNSET_HOUSING_VAR".into()),
        ..Settings::new("http://127.0.0.1:9", &ALL)
    });
    assert!(err.contains("api_key_env"), "{err}");
    let err =
        build(Settings { agency_contact: Some(" ".into()), ..Settings::new("http://x", &ALL) });
    assert!(err.contains("agency_contact"), "{err}");
}

#[test]
fn manifest_declares_housing_and_what_it_shares() {
    let manifest = pathways_sdk::manifest_of::<HousingPartner>();
    assert_eq!(manifest.plugin, "housing");
    assert_eq!(manifest.needs, [NeedCode::HousingHomelessness]);
    for field in [ClientField::Name, ClientField::Phone, ClientField::Email, ClientField::NeedNotes]
    {
        assert!(manifest.shares.contains(&field), "{field:?}");
    }
    for field in
        [ClientField::DateOfBirth, ClientField::YearOfBirth, ClientField::PreferredLanguage]
    {
        assert!(!manifest.shares.contains(&field), "{field:?} is not needed for a referral");
    }
    let schema = manifest.settings_schema.to_string();
    assert!(schema.contains("authorities") && schema.contains("agency_contact"), "{schema}");
    assert!(manifest.build.is_some());
}
