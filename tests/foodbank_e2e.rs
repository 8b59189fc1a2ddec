//! The food bank connector end to end: the real `foodbank` cdylib, loaded through
//! `pathways-host`, talking to the sandbox's Give Food and e-voucher APIs over real HTTP.

use chrono::NaiveDate;
use pathways_core::{AvailabilityQuery, Capacity, Partner, Referral, ReferralRef, TaskState};
use pathways_host::{DylibPartner, PluginLibrary};
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_testkit::{load_case, plugin_library, workspace_root};
use serde_json::json;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn load(sandbox: &Sandbox) -> DylibPartner {
    let lib = PluginLibrary::open(&plugin_library("pathways_plugin_foodbank")).unwrap();
    assert_eq!(lib.manifest().plugin, "foodbank");
    lib.instantiate(
        "kc-foodbanks",
        &json!({"base_url": sandbox.foodbank_url(), "timeout_ms": 3000}),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_foodbank_plugin_finds_food_banks_and_refers_exactly_once() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let partner = load(&sandbox);
    let case = load_case(&workspace_root().join("examples/cases/debt-food-eviction.json"));

    let query = AvailabilityQuery::for_case(&case, &partner.manifest().needs, today());
    let answer = partner.check_availability(&query).await.unwrap();
    assert!(!answer.offers.is_empty(), "Kensington has food banks");
    let best = answer
        .offers
        .iter()
        .find(|o| o.capacity == Capacity::Capacity)
        .expect("at least one food bank in W10 has vouchers this week");

    let referral = Referral::for_partner(
        &case,
        "kc-foodbanks",
        best.service.clone(),
        &[pathways_core::NeedCode::Food],
        &partner.manifest().shares,
        partner.manifest().is_domestic_abuse_service(),
        "case-101-food-1".into(),
    );
    let receipt = partner.send_referral(&referral).await.unwrap();
    let again = partner.send_referral(&referral).await.unwrap();
    assert_eq!(receipt.partner_reference, again.partner_reference, "a repeat is the same voucher");
    let stats = sandbox.foodbank_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.vouchers_created), (2, 1, 1));

    let status = partner
        .referral_status(&ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        })
        .await
        .unwrap();
    assert_eq!(status.state, TaskState::Accepted, "an issued voucher is an accepted referral");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_foodbank_plugin_reports_a_partner_outage_as_transient() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let partner = load(&sandbox);
    let case = load_case(&workspace_root().join("examples/cases/single-need-food.json"));
    sandbox.set_foodbank_faults(pathways_sandbox::Faults {
        error_rate: 1.0,
        ..pathways_sandbox::Faults::none()
    });
    let query = AvailabilityQuery::for_case(&case, &partner.manifest().needs, today());
    let err = partner.check_availability(&query).await.unwrap_err();
    assert!(err.kind.is_retryable(), "{err}");
    assert!(!err.message.contains("Karen"), "no personal data in errors: {err}");
    sandbox.shutdown().await;
}
