//! The NHS connector end to end: the real `nhs` cdylib, loaded through `pathways-host`, talking
//! to the sandbox's FHIR R4 / BaRS simulator over real HTTP.

use chrono::NaiveDate;
use pathways_core::{
    AvailabilityQuery, Capacity, Eligibility, NeedCode, Partner, Referral, ReferralRef, TaskState,
};
use pathways_host::{DylibPartner, PluginLibrary};
use pathways_sandbox::{NhsTaskStatus, Sandbox, SandboxConfig};
use pathways_testkit::{load_case, plugin_library, workspace_root};
use serde_json::{json, Value};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn settings(sandbox: &Sandbox) -> Value {
    json!({"base_url": sandbox.nhs_url(), "timeout_ms": 3000})
}

fn load(sandbox: &Sandbox) -> DylibPartner {
    let lib = PluginLibrary::open(&plugin_library("pathways_plugin_nhs")).unwrap();
    assert_eq!(lib.manifest().plugin, "nhs");
    lib.instantiate("nhs-shropshire", &settings(sandbox)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_nhs_plugin_finds_services_refers_once_and_tracks_the_task() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let partner = load(&sandbox);
    // An 84-year-old in Shropshire who has fallen and is lonely.
    let case = load_case(&workspace_root().join("examples/cases/older-person-care.json"));

    let query = AvailabilityQuery::for_case(&case, &partner.manifest().needs, today());
    let offers = partner.check_availability(&query).await.unwrap().offers;
    let falls = offers
        .iter()
        .find(|o| o.need == NeedCode::PhysicalHealthDisability && o.capacity == Capacity::Capacity)
        .expect("Shropshire's falls service has room");
    assert_eq!(falls.eligibility, Eligibility::Eligible, "the falls service is for 65 and over");
    let lonely = offers.iter().find(|o| o.need == NeedCode::SocialIsolation).unwrap();
    assert_eq!(lonely.capacity, Capacity::Waitlist);
    assert!(lonely.wait_estimate.as_deref().unwrap().contains("waitlist"));

    let referral = Referral::for_partner(
        &case,
        "nhs-shropshire",
        falls.service.clone(),
        &[NeedCode::PhysicalHealthDisability],
        &partner.manifest().shares,
        partner.manifest().is_domestic_abuse_service(),
        "case-older-person-falls-1".into(),
    );
    let receipt = partner.send_referral(&referral).await.unwrap();
    assert_eq!(receipt.state, TaskState::Requested);
    // A retry through the library: the same X-Request-ID, a 409 duplicate, the same Task.
    let again = partner.send_referral(&referral).await.unwrap();
    assert_eq!(receipt.partner_reference, again.partner_reference);
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.total_posts, stats.distinct_request_ids, stats.referrals_created), (2, 1, 1));

    let reference = ReferralRef {
        partner_reference: receipt.partner_reference.clone(),
        idempotency_key: referral.idempotency_key.clone(),
    };
    assert_eq!(partner.referral_status(&reference).await.unwrap().state, TaskState::Requested);
    sandbox.set_nhs_task_status(&receipt.partner_reference, NhsTaskStatus::Accepted, None).unwrap();
    assert_eq!(partner.referral_status(&reference).await.unwrap().state, TaskState::Accepted);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nhs_plugin_passes_the_conformance_check_against_the_sandbox() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let report = pathways_host::conformance::run(
        &plugin_library("pathways_plugin_nhs"),
        &settings(&sandbox),
    )
    .await;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(report.passed(), "failed checks: {failed:#?}");
    let availability = report.checks.iter().find(|c| c.name == "availability").unwrap();
    assert!(availability.detail.starts_with("5 offer(s)"), "{}", availability.detail);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_nhs_plugin_reports_an_outage_as_transient_without_personal_data() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let partner = load(&sandbox);
    let case = load_case(&workspace_root().join("examples/cases/older-person-care.json"));
    sandbox.set_nhs_faults(pathways_sandbox::Faults {
        error_rate: 1.0,
        ..pathways_sandbox::Faults::none()
    });
    let query = AvailabilityQuery::for_case(&case, &partner.manifest().needs, today());
    let err = partner.check_availability(&query).await.unwrap_err();
    assert!(err.kind.is_retryable(), "{err}");
    let name = case.client.name.expose().clone();
    assert!(!err.message.contains(&name), "no personal data in errors: {err}");
    sandbox.shutdown().await;
}
