//! The food bank connector end to end: the real `foodbank` cdylib, loaded through
//! `pathways-host`, talking to the sandbox's Give Food and e-voucher APIs over real HTTP.

use pathways_core::{
    CancelReason, CancelRequest, Capability, Capacity, NeedCode, Partner, ReferralRef, TaskState,
};
use pathways_host::DylibPartner;
use pathways_sandbox::{Faults, Sandbox, VoucherReason, VoucherStatus};
use pathways_testkit::e2e::{
    load, outage_error, query, refer_twice, referral, sample_case, sandbox, status,
};
use serde_json::json;

fn load_foodbank(sandbox: &Sandbox) -> DylibPartner {
    let settings = json!({"base_url": sandbox.foodbank_url(), "timeout_ms": 3000});
    load("foodbank", "kc-foodbanks", &settings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_foodbank_plugin_finds_food_banks_and_refers_exactly_once() {
    let sandbox = sandbox().await;
    let partner = load_foodbank(&sandbox);
    let case = sample_case("debt-food-eviction.json");

    let answer = partner.check_availability(&query(&partner, &case)).await.unwrap();
    assert!(!answer.offers.is_empty(), "Kensington has food banks");
    let best = answer
        .offers
        .iter()
        .find(|o| o.capacity == Capacity::Capacity)
        .expect("at least one food bank in W10 has vouchers this week");

    let referral =
        referral(&partner, &case, best.service.clone(), &[NeedCode::Food], "case-101-food-1");
    let (receipt, again) = refer_twice(&partner, &referral).await;
    assert_eq!(receipt.partner_reference, again.partner_reference, "a repeat is the same voucher");
    let stats = sandbox.foodbank_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.vouchers_created), (2, 1, 1));

    let status = status(&partner, &referral, &receipt).await;
    assert_eq!(status.state, TaskState::Accepted, "an issued voucher is an accepted referral");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_foodbank_plugin_reports_a_partner_outage_as_transient() {
    let sandbox = sandbox().await;
    let partner = load_foodbank(&sandbox);
    let case = sample_case("single-need-food.json");
    sandbox.set_foodbank_faults(Faults::failing());
    let err = outage_error(&partner, &case).await;
    assert!(!err.message.contains("Karen"), "no personal data in errors: {err}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_foodbank_plugin_cancels_the_voucher_once_and_it_stays_cancelled() {
    let sandbox = sandbox().await;
    let partner = load_foodbank(&sandbox);
    assert!(partner.manifest().capabilities.contains(&Capability::Cancel));
    let case = sample_case("debt-food-eviction.json");
    let offers = partner.check_availability(&query(&partner, &case)).await.unwrap().offers;
    let best = offers.iter().find(|o| o.capacity == Capacity::Capacity).unwrap();
    let referral =
        referral(&partner, &case, best.service.clone(), &[NeedCode::Food], "case-101-food-2");
    let receipt = partner.send_referral(&referral).await.unwrap();

    // The need is being met elsewhere: the agency withdraws the voucher.
    let request = CancelRequest {
        reference: ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        },
        reason: CancelReason::HelpedElsewhere,
    };
    let cancelled = partner.cancel_referral(&request).await.unwrap();
    assert_eq!(
        (cancelled.state, cancelled.reason),
        (TaskState::Cancelled, Some(CancelReason::HelpedElsewhere.status_reason()))
    );
    assert_eq!(status(&partner, &referral, &receipt).await.state, TaskState::Cancelled);
    assert_eq!(
        sandbox.voucher_status(&receipt.partner_reference),
        Some((VoucherStatus::Cancelled, Some(VoucherReason::AgencyWithdrew))),
        "the food bank's own record"
    );
    // A retry through the library answers the same, and the desk cancelled once.
    assert_eq!(partner.cancel_referral(&request).await.unwrap(), cancelled);
    assert_eq!(sandbox.foodbank_stats().vouchers_cancelled, 1);
    sandbox.shutdown().await;
}
