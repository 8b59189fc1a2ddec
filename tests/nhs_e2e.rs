//! The NHS connector end to end: the real `nhs` cdylib, loaded through `pathways-host`, talking
//! to the sandbox's FHIR R4 / BaRS simulator over real HTTP.

use pathways_core::{
    CancelReason, CancelRequest, Capability, Capacity, Eligibility, NeedCode, Partner, ReferralRef,
    TaskState,
};
use pathways_host::DylibPartner;
use pathways_sandbox::{Faults, NhsReferralRecord, NhsTaskReason, NhsTaskStatus, Sandbox};
use pathways_testkit::e2e::{
    conformance, load, outage_error, query, refer_twice, referral, sample_case, sandbox, status,
};
use serde_json::{json, Value};

fn settings(sandbox: &Sandbox) -> Value {
    json!({"base_url": sandbox.nhs_url(), "timeout_ms": 3000})
}

fn load_nhs(sandbox: &Sandbox) -> DylibPartner {
    load("nhs", "nhs-shropshire", &settings(sandbox))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_nhs_plugin_finds_services_refers_once_and_tracks_the_task() {
    let sandbox = sandbox().await;
    let partner = load_nhs(&sandbox);
    // An 84-year-old in Shropshire who has fallen and is lonely.
    let case = sample_case("older-person-care.json");

    let offers = partner.check_availability(&query(&partner, &case)).await.unwrap().offers;
    let falls = offers
        .iter()
        .find(|o| o.need == NeedCode::PhysicalHealthDisability && o.capacity == Capacity::Capacity)
        .expect("Shropshire's falls service has room");
    assert_eq!(falls.eligibility, Eligibility::Eligible, "the falls service is for 65 and over");
    let lonely = offers.iter().find(|o| o.need == NeedCode::SocialIsolation).unwrap();
    assert_eq!(lonely.capacity, Capacity::Waitlist);
    assert!(lonely.wait_estimate.as_deref().unwrap().contains("waitlist"));

    let need = [NeedCode::PhysicalHealthDisability];
    let referral =
        referral(&partner, &case, falls.service.clone(), &need, "case-older-person-falls-1");
    // The second send is a retry through the library: the same X-Request-ID, a 409 duplicate,
    // the same Task.
    let (receipt, again) = refer_twice(&partner, &referral).await;
    assert_eq!(receipt.state, TaskState::Requested);
    assert_eq!(receipt.partner_reference, again.partner_reference);
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.total_posts, stats.distinct_request_ids, stats.referrals_created), (2, 1, 1));

    assert_eq!(status(&partner, &referral, &receipt).await.state, TaskState::Requested);
    sandbox.set_nhs_task_status(&receipt.partner_reference, NhsTaskStatus::Accepted, None).unwrap();
    assert_eq!(status(&partner, &referral, &receipt).await.state, TaskState::Accepted);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nhs_plugin_passes_the_conformance_check_against_the_sandbox() {
    let sandbox = sandbox().await;
    let report = conformance("nhs", &settings(&sandbox)).await;
    let availability = report.checks.iter().find(|c| c.name == "availability").unwrap();
    assert!(availability.detail.starts_with("5 offer(s)"), "{}", availability.detail);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_nhs_plugin_reports_an_outage_as_transient_without_personal_data() {
    let sandbox = sandbox().await;
    let partner = load_nhs(&sandbox);
    let case = sample_case("older-person-care.json");
    sandbox.set_nhs_faults(Faults::failing());
    let err = outage_error(&partner, &case).await;
    let name = case.client.name.expose().clone();
    assert!(!err.message.contains(&name), "no personal data in errors: {err}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_nhs_plugin_revokes_the_referral_once_and_the_task_stays_cancelled() {
    let sandbox = sandbox().await;
    let partner = load_nhs(&sandbox);
    assert!(partner.manifest().capabilities.contains(&Capability::Cancel));
    let case = sample_case("older-person-care.json");
    let offers = partner.check_availability(&query(&partner, &case)).await.unwrap().offers;
    let falls = offers
        .iter()
        .find(|o| o.need == NeedCode::PhysicalHealthDisability && o.capacity == Capacity::Capacity)
        .unwrap();
    let need = [NeedCode::PhysicalHealthDisability];
    let referral =
        referral(&partner, &case, falls.service.clone(), &need, "case-older-person-falls-2");
    let receipt = partner.send_referral(&referral).await.unwrap();

    // The client withdrew their consent: the ServiceRequest is revoked.
    let request = CancelRequest {
        reference: ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        },
        reason: CancelReason::ConsentWithdrawn,
    };
    let cancelled = partner.cancel_referral(&request).await.unwrap();
    assert_eq!(
        (cancelled.state, cancelled.reason),
        (TaskState::Cancelled, Some(CancelReason::ConsentWithdrawn.status_reason()))
    );
    assert_eq!(status(&partner, &referral, &receipt).await.state, TaskState::Cancelled);
    assert_eq!(
        sandbox.nhs_referral(&receipt.partner_reference),
        Some(NhsReferralRecord {
            task_status: NhsTaskStatus::Cancelled,
            task_reason: Some(NhsTaskReason::NoLongerInterested),
            service_request_status: "revoked".into(),
        }),
        "the service's own record"
    );
    let name = case.client.name.expose().clone();
    let update = sandbox.nhs_messages().last().unwrap().to_string();
    assert!(!update.contains(&name), "the revoke carries no personal data");
    // A retry through the library answers the same, and the service cancelled once.
    assert_eq!(partner.cancel_referral(&request).await.unwrap(), cancelled);
    let stats = sandbox.nhs_stats();
    assert_eq!((stats.referrals_created, stats.referrals_cancelled), (1, 1));
    sandbox.shutdown().await;
}
