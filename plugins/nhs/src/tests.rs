//! The connector compiled in, against the sandbox's NHS simulator over real HTTP on 127.0.0.1.
//! What reaches the service is checked in `tests/payload.rs`, the partner's failures in
//! `tests/faults.rs`, the published BaRS examples in `tests/contract.rs`, routes, contact
//! details and waits as dates in `tests/contact.rs`, and revoking a referral in
//! `tests/cancel.rs`.

mod cancel;
mod contact;
mod contract;
mod faults;
mod payload;

use std::time::Duration;

use pathways_plugin_testkit::today;
use pathways_sandbox::{ClockConfig, NhsTaskReason, NhsTaskStatus, Sandbox, SandboxConfig};
use pathways_sdk::{
    parse_case, AvailabilityQuery, Capacity, Case, ClientField, Eligibility, NeedCode, Offer,
    Partner, PartnerErrorKind, PartnerPlugin, Referral, ReferralRef, ServiceRef, StatusReason,
    TaskState,
};

use crate::{NhsPartner, Settings};

/// The default sandbox: unlike the other plugins' tests, these leave its date unfixed.
async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.unwrap()
}

fn partner(base_url: &str) -> NhsPartner {
    NhsPartner::from_settings(Settings::new(base_url)).unwrap()
}

/// A case with NHS needs and notes on food and abuse that must never reach an NHS service.
fn case(area: &str, postcode: &str, date_of_birth: &str, safe_contact: bool) -> Case {
    let json = format!(
        r#"{{"reference": "CAKC-000123", "channel": "phone",
        "referrer": {{"organisation": "citizens-advice-kc", "worker": "pf-17"}},
        "client": {{"name": "Test Person", "date_of_birth": "{date_of_birth}", "postcode": "{postcode}",
          "address": "1 Test Road", "local_authority": "{area}", "phone": "07700 900123",
          "email": "test@example.org", "preferred_language": "en", "safe_contact": {safe_contact},
          "household": {{"adults": 1, "children_ages": [7, 15]}}}},
        "needs": [{{"code": "food", "urgency": "urgent", "notes": "PRIVATE-FOOD-NOTE"}},
                  {{"code": "mental_health", "urgency": "soon", "notes": "MH-NOTE low mood"}},
                  {{"code": "substance_use", "urgency": "routine"}},
                  {{"code": "social_isolation", "urgency": "routine"}},
                  {{"code": "physical_health_disability", "urgency": "routine"}},
                  {{"code": "domestic_abuse", "urgency": "emergency", "notes": "PRIVATE-ABUSE"}}],
        "consent": {{"lawful_basis": "consent", "share_with": "planned_partners",
          "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}}}}"#
    );
    parse_case(json.as_bytes()).unwrap()
}

fn kc_case() -> Case {
    case("E09000020", "W10 5AB", "1989-04-02", false)
}

fn query(case: &Case, needs: &[NeedCode]) -> AvailabilityQuery {
    AvailabilityQuery::for_case(case, needs, today())
}

fn all_needs() -> Vec<NeedCode> {
    NhsPartner::describe().needs
}

/// A referral of `case` to the service with DoS id `service_id`, for `needs`.
fn referral_of(case: &Case, service_id: &str, needs: &[NeedCode], key: &str) -> Referral {
    let manifest = NhsPartner::describe();
    let service = ServiceRef { id: service_id.into(), name: "NHS service".into() };
    Referral::for_partner(
        case,
        &"nhs".parse().unwrap(),
        service,
        needs,
        &manifest.shares,
        false,
        key.parse().unwrap(),
    )
}

fn referral(service_id: &str, key: &str) -> Referral {
    referral_of(&kc_case(), service_id, &[NeedCode::MentalHealth], key)
}

fn summary(offers: &[Offer]) -> Vec<(NeedCode, &str, Capacity)> {
    offers.iter().map(|o| (o.need, o.service.id.as_str(), o.capacity)).collect()
}

#[tokio::test]
async fn kensington_offers_every_need_with_its_capacity_status() {
    let sandbox = sandbox().await;
    let offers = partner(&sandbox.nhs_url())
        .check_availability(&query(&kc_case(), &all_needs()))
        .await
        .unwrap()
        .offers;
    use NeedCode::*;
    assert_eq!(
        summary(&offers),
        [
            (MentalHealth, "2000100001", Capacity::Waitlist),
            (SubstanceUse, "2000100003", Capacity::Capacity),
            (SocialIsolation, "2000100002", Capacity::Capacity),
            (PhysicalHealthDisability, "2000100002", Capacity::Capacity),
            (PhysicalHealthDisability, "2000100004", Capacity::AssessmentRequired),
        ],
        "the closed wellbeing café is not offered"
    );
    assert_eq!(offers[0].wait_estimate.as_deref(), Some("~15 on waitlist; 4–6 weeks"));
    assert_eq!(offers[0].service.name, "NHS Talking Therapies Kensington and Chelsea");
    assert_eq!(offers[0].eligibility, Eligibility::Eligible);
    assert_eq!(offers[1].location.as_ref().unwrap().name, "Westway Recovery Hub");
    // The falls service is for people 65 and over; the client is 37.
    assert_eq!(
        offers[4].eligibility,
        Eligibility::NotEligible { reason: "for people aged 65 and over".into() }
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn shropshire_is_full_for_drugs_and_barrow_has_no_provider() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let shropshire = case("E06000051", "SY8 1AA", "1950-06-01", false);
    let offers = nhs.check_availability(&query(&shropshire, &all_needs())).await.unwrap().offers;
    use NeedCode::*;
    assert_eq!(
        summary(&offers)[..3],
        [
            (MentalHealth, "2000200001", Capacity::Capacity),
            (SubstanceUse, "2000200003", Capacity::NoCapacity),
            (SocialIsolation, "2000200002", Capacity::Waitlist),
        ]
    );
    let falls = offers.iter().find(|o| o.service.id == "2000200004").unwrap();
    assert_eq!(falls.eligibility, Eligibility::Eligible, "a 76-year-old can use the falls service");
    assert!(offers[1].wait_estimate.as_deref().unwrap().contains("January"));

    let barrow = case("E07000027", "LA14 1AA", "1989-04-02", false);
    let offers =
        nhs.check_availability(&query(&barrow, &[SubstanceUse, SocialIsolation])).await.unwrap();
    assert!(offers.offers.is_empty(), "no drug, alcohol or link worker service in Barrow");
    let offers = nhs.check_availability(&query(&barrow, &all_needs())).await.unwrap().offers;
    assert_eq!(
        summary(&offers),
        [
            (MentalHealth, "2000300001", Capacity::Waitlist),
            (PhysicalHealthDisability, "2000300002", Capacity::NoCapacity)
        ]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn needs_it_does_not_serve_get_no_offers_and_no_call() {
    let sandbox = sandbox().await;
    sandbox.set_nhs_faults(pathways_sandbox::Faults::failing());
    let answer = partner(&sandbox.nhs_url())
        .check_availability(&query(&kc_case(), &[NeedCode::Food, NeedCode::DomesticAbuse]))
        .await;
    assert!(answer.unwrap().offers.is_empty(), "a call would have failed");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn referral_round_trip_tracks_the_task_through_every_state() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let receipt = nhs.send_referral(&referral("2000100001", "key-round-trip")).await.unwrap();
    assert_eq!(receipt.state, TaskState::Requested);
    assert!(receipt.received_at.is_some());
    let reference = ReferralRef {
        partner_reference: receipt.partner_reference.clone(),
        idempotency_key: "key-round-trip".parse().unwrap(),
    };
    assert_eq!(nhs.referral_status(&reference).await.unwrap().state, TaskState::Requested);
    let cases = [
        (NhsTaskStatus::Accepted, None, TaskState::Accepted, None),
        (NhsTaskStatus::InProgress, None, TaskState::InProgress, None),
        (NhsTaskStatus::Completed, None, TaskState::Completed, None),
        (
            NhsTaskStatus::OnHold,
            Some(NhsTaskReason::CouldNotContact),
            TaskState::OnHold,
            Some(StatusReason::CouldNotContact),
        ),
        (
            NhsTaskStatus::Rejected,
            Some(NhsTaskReason::NotEligible),
            TaskState::Rejected,
            Some(StatusReason::NotEligible),
        ),
        (
            NhsTaskStatus::Cancelled,
            Some(NhsTaskReason::RevokedByRequester),
            TaskState::Cancelled,
            Some(StatusReason::Other),
        ),
        (NhsTaskStatus::Failed, None, TaskState::Failed, Some(StatusReason::Other)),
    ];
    for (status, why, state, reason) in cases {
        sandbox.set_nhs_task_status(&receipt.partner_reference, status, why).unwrap();
        let now = nhs.referral_status(&reference).await.unwrap();
        assert_eq!((now.state, now.reason), (state, reason), "{status:?}");
        assert!(now.updated_at.is_some());
    }
    let unknown = ReferralRef {
        partner_reference: "no-such-task".into(),
        idempotency_key: "k".parse().unwrap(),
    };
    let err = nhs.referral_status(&unknown).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent);
    assert!(err.message.contains("REC_NOT_FOUND"), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_sandbox_clock_moves_a_referral_to_completed() {
    let config = SandboxConfig {
        clock: ClockConfig { step_ms: 100, reject_rate: 0.0 },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let nhs = partner(&sandbox.nhs_url());
    let receipt = nhs.send_referral(&referral("2000100002", "key-clock")).await.unwrap();
    let reference = ReferralRef {
        partner_reference: receipt.partner_reference,
        idempotency_key: "key-clock".parse().unwrap(),
    };
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(nhs.referral_status(&reference).await.unwrap().state, TaskState::Completed);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_full_service_rejects_the_referral_with_no_capacity() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let shropshire = case("E06000051", "SY8 1AA", "1989-04-02", false);
    let referral = referral_of(&shropshire, "2000200003", &[NeedCode::SubstanceUse], "key-full");
    let receipt = nhs.send_referral(&referral).await.unwrap();
    assert_eq!(receipt.state, TaskState::Rejected);
    let reference = ReferralRef {
        partner_reference: receipt.partner_reference,
        idempotency_key: "key-full".parse().unwrap(),
    };
    let status = nhs.referral_status(&reference).await.unwrap();
    assert_eq!(
        (status.state, status.reason),
        (TaskState::Rejected, Some(StatusReason::NoCapacity))
    );
    assert_eq!(status.note.as_deref(), Some("The service has no capacity"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_retry_reuses_the_request_id_and_the_409_duplicate_is_delivered() {
    let sandbox = sandbox().await;
    let nhs = partner(&sandbox.nhs_url());
    let referral = referral("2000100001", "key-once");
    let first = nhs.send_referral(&referral).await.unwrap();
    let second = nhs.send_referral(&referral).await.unwrap();
    assert_eq!(first.partner_reference, second.partner_reference, "the same Task");
    assert_eq!(second.state, TaskState::Requested);
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.total_posts, stats.distinct_request_ids, stats.referrals_created), (2, 1, 1));
    let other = nhs.send_referral(&self::referral("2000100001", "key-other")).await.unwrap();
    assert_ne!(other.partner_reference, first.partner_reference, "another key, another referral");
    assert_eq!(sandbox.nhs_stats().referrals_created, 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn health_reads_the_capability_statement_and_needs_the_token() {
    let mut config = SandboxConfig::default();
    config.nhs.api_key = Some("nhs-test-token".into());
    let sandbox = Sandbox::start(config).await.unwrap();
    let without = partner(&sandbox.nhs_url());
    let err = without.health().await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Unauthorized, "{err}");
    // A variable only this test uses, so parallel tests cannot race on it.
    std::env::set_var("PATHWAYS_TEST_NHS_TOKEN", "nhs-test-token");
    let settings = Settings {
        api_key_env: Some("PATHWAYS_TEST_NHS_TOKEN".into()),
        ..Settings::new(sandbox.nhs_url())
    };
    let nhs = NhsPartner::from_settings(settings).unwrap();
    assert!(nhs.health().await.unwrap().detail.unwrap().contains("metadata answered"));
    let offers = nhs.check_availability(&query(&kc_case(), &[NeedCode::MentalHealth])).await;
    assert_eq!(offers.unwrap().offers.len(), 1);
    sandbox.shutdown().await;
}

#[test]
fn settings_errors_name_the_key() {
    let err =
        pathways_sdk::parse_settings::<Settings>(br#"{"base_url": "http://x", "timeout": 5}"#)
            .unwrap_err();
    assert!(err.contains("timeout"), "{err}");
    let err = pathways_sdk::parse_settings::<Settings>(br#"{"timeout_ms": 5}"#).unwrap_err();
    assert!(err.contains("base_url"), "{err}");
    let with = |f: fn(&mut Settings)| {
        let mut settings = Settings::new("http://127.0.0.1:9");
        f(&mut settings);
        NhsPartner::from_settings(settings).unwrap_err()
    };
    assert!(with(|s| s.source_endpoint = "has spaces in it".into()).contains("source_endpoint"));
    assert!(
        with(|s| s.target_identifier_system = String::new()).contains("target_identifier_system")
    );
    assert!(with(|s| s.max_offers_per_need = 0).contains("max_offers_per_need"));
    assert!(with(|s| s.api_key_env = Some("PATHWAYS_TEST_SURELY_UNSET_VAR".into()))
        .contains("api_key_env"));
    assert!(NhsPartner::from_settings(Settings::new("not a url"))
        .unwrap_err()
        .contains("base_url"));
}

#[test]
fn manifest_declares_nhs_needs_and_no_household() {
    let manifest = pathways_sdk::manifest_of::<NhsPartner>();
    assert_eq!(manifest.plugin, "nhs");
    use NeedCode::*;
    assert_eq!(
        manifest.needs,
        [MentalHealth, SubstanceUse, SocialIsolation, PhysicalHealthDisability]
    );
    assert!(manifest.shares.contains(&ClientField::NeedNotes));
    assert!(!manifest.shares.contains(&ClientField::Household));
    assert!(!manifest.is_domestic_abuse_service());
    let schema = manifest.settings_schema.to_string();
    assert!(
        schema.contains("source_endpoint") && schema.contains("target_identifier_system"),
        "{schema}"
    );
}
