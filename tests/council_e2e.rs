//! The council connector end to end: the real `council` cdylib, loaded through
//! `pathways-host`, talking to the sandbox's HSDS directory and Open311 endpoint over real
//! HTTP, and passing the conformance checks behind `pathways plugins check`.

use chrono::NaiveDate;
use pathways_core::{
    AvailabilityQuery, Capacity, Eligibility, NeedCode, Partner, Referral, ReferralRef, TaskState,
};
use pathways_host::{DylibPartner, PluginLibrary};
use pathways_sandbox::{Faults, Sandbox, SandboxConfig};
use pathways_testkit::{load_case, plugin_library, workspace_root};
use serde_json::{json, Value};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn settings(sandbox: &Sandbox) -> Value {
    json!({"base_url": sandbox.council_url(), "jurisdiction_id": "E06000051", "timeout_ms": 3000})
}

fn load(sandbox: &Sandbox) -> DylibPartner {
    let lib = PluginLibrary::open(&plugin_library("pathways_plugin_council")).unwrap();
    assert_eq!(lib.manifest().plugin, "council");
    lib.instantiate("shropshire-council", &settings(sandbox)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_council_plugin_finds_services_and_refers_exactly_once() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let partner = load(&sandbox);
    // An 84-year-old in Ludlow: a fall, struggling at home, lonely, and not online.
    let case = load_case(&workspace_root().join("examples/cases/older-person-care.json"));

    let query = AvailabilityQuery::for_case(&case, &partner.manifest().needs, today());
    let offers = partner.check_availability(&query).await.unwrap().offers;
    let needs: Vec<NeedCode> = offers.iter().map(|o| o.need).collect();
    for need in [
        NeedCode::PhysicalHealthDisability,
        NeedCode::CarerCare,
        NeedCode::SocialIsolation,
        NeedCode::Digital,
    ] {
        assert!(needs.contains(&need), "no offer for {need}: {offers:#?}");
    }
    let assessment =
        offers.iter().find(|o| o.service.name == "Adult Social Care Needs Assessment").unwrap();
    assert_eq!(assessment.capacity, Capacity::Waitlist);
    let befriending = offers
        .iter()
        .find(|o| o.service.name == "Shropshire Telephone Befriending")
        .expect("the over-65s befriending line is offered");
    assert_eq!(
        (befriending.capacity, &befriending.eligibility),
        (Capacity::Capacity, &Eligibility::Eligible)
    );

    let referral = Referral::for_partner(
        &case,
        "shropshire-council",
        befriending.service.clone(),
        &[NeedCode::SocialIsolation],
        &partner.manifest().shares,
        partner.manifest().is_domestic_abuse_service(),
        "case-shrop-77840-isolation-1".into(),
    );
    let receipt = partner.send_referral(&referral).await.unwrap();
    let again = partner.send_referral(&referral).await.unwrap();
    assert_eq!(receipt.partner_reference, again.partner_reference, "a repeat is the same request");
    let stats = sandbox.council_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.requests_created), (2, 1, 1));

    let status = partner
        .referral_status(&ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        })
        .await
        .unwrap();
    assert_eq!(status.state, TaskState::Requested, "the sandbox clock is stopped");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_council_plugin_reports_an_outage_as_transient_without_personal_data() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let partner = load(&sandbox);
    let case = load_case(&workspace_root().join("examples/cases/older-person-care.json"));
    sandbox.set_council_faults(Faults { error_rate: 1.0, ..Faults::none() });
    let query = AvailabilityQuery::for_case(&case, &partner.manifest().needs, today());
    let err = partner.check_availability(&query).await.unwrap_err();
    assert!(err.kind.is_retryable(), "{err}");
    assert!(!err.message.contains("Arthur") && !err.message.contains("SY8"), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn council_plugin_passes_the_conformance_checks() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let report = pathways_host::conformance::run(
        &plugin_library("pathways_plugin_council"),
        &settings(&sandbox),
    )
    .await;
    assert!(report.passed(), "{report:#?}");
    sandbox.shutdown().await;
}
