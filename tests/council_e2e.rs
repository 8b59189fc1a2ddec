//! The council connector end to end: the real `council` cdylib, loaded through
//! `pathways-host`, talking to the sandbox's HSDS directory and Open311 endpoint over real
//! HTTP, and passing the conformance checks behind `pathways plugins check`.

use pathways_core::{
    CancelReason, CancelRequest, Capability, Capacity, Eligibility, NeedCode, Partner,
    PartnerErrorKind, ReferralRef, TaskState,
};
use pathways_host::DylibPartner;
use pathways_sandbox::{Faults, Sandbox};
use pathways_testkit::e2e::{
    conformance, load, outage_error, query, refer_twice, referral, sample_case, sandbox, status,
};
use serde_json::{json, Value};

fn settings(sandbox: &Sandbox) -> Value {
    json!({"base_url": sandbox.council_url(), "jurisdiction_id": "E06000051", "timeout_ms": 3000})
}

fn load_council(sandbox: &Sandbox) -> DylibPartner {
    load("council", "shropshire-council", &settings(sandbox))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_council_plugin_finds_services_and_refers_exactly_once() {
    let sandbox = sandbox().await;
    let partner = load_council(&sandbox);
    // An 84-year-old in Ludlow: a fall, struggling at home, lonely, and not online.
    let case = sample_case("older-person-care.json");

    let offers = partner.check_availability(&query(&partner, &case)).await.unwrap().offers;
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

    let referral = referral(
        &partner,
        &case,
        befriending.service.clone(),
        &[NeedCode::SocialIsolation],
        "case-shrop-77840-isolation-1",
    );
    let (receipt, again) = refer_twice(&partner, &referral).await;
    assert_eq!(receipt.partner_reference, again.partner_reference, "a repeat is the same request");
    let stats = sandbox.council_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.requests_created), (2, 1, 1));

    let status = status(&partner, &referral, &receipt).await;
    assert_eq!(status.state, TaskState::Requested, "the sandbox clock is stopped");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_council_plugin_reports_an_outage_as_transient_without_personal_data() {
    let sandbox = sandbox().await;
    let partner = load_council(&sandbox);
    let case = sample_case("older-person-care.json");
    sandbox.set_council_faults(Faults::failing());
    let err = outage_error(&partner, &case).await;
    assert!(!err.message.contains("Arthur") && !err.message.contains("SY8"), "{err}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn council_plugin_passes_the_conformance_checks() {
    let sandbox = sandbox().await;
    conformance("council", &settings(&sandbox)).await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_council_plugin_cannot_cancel_and_nothing_reaches_the_council() {
    let sandbox = sandbox().await;
    let partner = load_council(&sandbox);
    assert!(!partner.manifest().capabilities.contains(&Capability::Cancel));
    assert!(partner.manifest().description.contains("phone the council"));
    let case = sample_case("older-person-care.json");
    let offers = partner.check_availability(&query(&partner, &case)).await.unwrap().offers;
    let befriending =
        offers.iter().find(|o| o.service.name == "Shropshire Telephone Befriending").unwrap();
    let need = [NeedCode::SocialIsolation];
    let referral = referral(
        &partner,
        &case,
        befriending.service.clone(),
        &need,
        "case-shrop-77840-isolation-2",
    );
    let receipt = partner.send_referral(&referral).await.unwrap();
    let before = sandbox.council_stats();

    let request = CancelRequest {
        reference: ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        },
        reason: CancelReason::NoLongerNeeded,
    };
    // The host answers for a plugin that does not declare the capability.
    let err = partner.cancel_referral(&request).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::NotSupported, "{err}");
    assert!(err.message.contains("cannot withdraw"), "{err}");
    assert!(!err.message.contains("Arthur"), "no personal data in errors: {err}");
    assert_eq!(sandbox.council_stats(), before, "nothing reached the council");
    assert_eq!(status(&partner, &referral, &receipt).await.state, TaskState::Requested);
    sandbox.shutdown().await;
}
