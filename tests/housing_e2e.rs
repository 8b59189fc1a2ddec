//! The housing connector end to end: the real `housing` cdylib, loaded through
//! `pathways-host`, talking to the sandbox's Duty to Refer simulator over real HTTP, and
//! passing the conformance check behind `pathways plugins check`.

use chrono::NaiveDate;
use pathways_core::{
    AvailabilityQuery, Capacity, DutyToRefer, NeedCode, Partner, PartnerErrorKind, Referral,
    ReferralRef, TaskState,
};
use pathways_host::{DylibPartner, PluginLibrary};
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_testkit::{load_case, plugin_library, workspace_root};
use serde_json::json;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn settings(sandbox: &Sandbox) -> serde_json::Value {
    json!({
        "base_url": sandbox.housing_url(),
        "authorities": ["E09000020", "E06000051", "E07000027"],
        "agency_contact": "Housing advice team, 020 7946 0100",
        "timeout_ms": 3000
    })
}

fn load(sandbox: &Sandbox) -> DylibPartner {
    let lib = PluginLibrary::open(&plugin_library("pathways_plugin_housing")).unwrap();
    assert_eq!(lib.manifest().plugin, "housing");
    lib.instantiate("kensington-chelsea-housing", &settings(sandbox)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_housing_plugin_offers_triage_and_refers_exactly_once_with_consent() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let partner = load(&sandbox);
    // A section 21 notice, urgent: threatened with homelessness within 56 days.
    let mut case = load_case(&workspace_root().join("examples/cases/debt-food-eviction.json"));

    let query = AvailabilityQuery::for_case(&case, &partner.manifest().needs, today());
    let offers = partner.check_availability(&query).await.unwrap().offers;
    assert_eq!(offers.len(), 1, "one housing options team for Kensington and Chelsea");
    assert_eq!(offers[0].service.id, "E09000020");
    assert_ne!(offers[0].capacity, Capacity::Unknown);

    let build = |case: &pathways_core::Case, key: &str| {
        Referral::for_partner(
            case,
            "kensington-chelsea-housing",
            offers[0].service.clone(),
            &[NeedCode::HousingHomelessness],
            &partner.manifest().shares,
            partner.manifest().is_domestic_abuse_service(),
            key.into(),
        )
    };
    // Without the Duty to Refer facts nothing is sent.
    let err = partner.send_referral(&build(&case, "case-101-housing-1")).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");
    assert!(err.message.contains("duty_to_refer"), "{err}");
    assert!(!err.message.contains("Daniel"), "no personal data in errors: {err}");
    assert_eq!(sandbox.housing_stats().total_posts, 0);

    case.consent.duty_to_refer = Some(DutyToRefer {
        consent_to_refer: true,
        consent_to_share_contact: true,
        chosen_authority: "E09000020".into(),
    });
    let referral = build(&case, "case-101-housing-1");
    let receipt = partner.send_referral(&referral).await.unwrap();
    let again = partner.send_referral(&referral).await.unwrap();
    assert_eq!(receipt, again, "a repeat is the same referral");
    assert_eq!(receipt.state, TaskState::Requested);
    let stats = sandbox.housing_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.referrals_created), (2, 1, 1));

    let status = partner
        .referral_status(&ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        })
        .await
        .unwrap();
    assert_eq!(status.state, TaskState::Requested, "the default sandbox clock is stopped");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housing_plugin_passes_the_conformance_check_against_the_sandbox() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let report = pathways_host::conformance::run(
        &plugin_library("pathways_plugin_housing"),
        &settings(&sandbox),
    )
    .await;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(report.passed(), "failed checks: {failed:#?}");
    let availability = report.checks.iter().find(|c| c.name == "availability").unwrap();
    assert!(availability.detail.starts_with("1 offer"), "{}", availability.detail);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_housing_plugin_reports_an_outage_as_transient() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let partner = load(&sandbox);
    sandbox.set_housing_faults(pathways_sandbox::Faults {
        error_rate: 1.0,
        ..pathways_sandbox::Faults::none()
    });
    let case = load_case(&workspace_root().join("examples/cases/debt-food-eviction.json"));
    let query = AvailabilityQuery::for_case(&case, &partner.manifest().needs, today());
    let err = partner.check_availability(&query).await.unwrap_err();
    assert!(err.kind.is_retryable(), "{err}");
    sandbox.shutdown().await;
}
