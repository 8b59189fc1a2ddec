//! The housing connector end to end: the real `housing` cdylib, loaded through
//! `pathways-host`, talking to the sandbox's Duty to Refer simulator over real HTTP, and
//! passing the conformance check behind `pathways plugins check`.

use pathways_core::{
    CancelReason, CancelRequest, Capability, Capacity, DutyToRefer, NeedCode, Partner,
    PartnerErrorKind, ReferralRef, TaskState,
};
use pathways_host::DylibPartner;
use pathways_sandbox::{Faults, Sandbox};
use pathways_testkit::e2e::{
    conformance, load, outage_error, query, refer_twice, referral, sample_case, sandbox, status,
};
use serde_json::json;

fn settings(sandbox: &Sandbox) -> serde_json::Value {
    json!({
        "base_url": sandbox.housing_url(),
        "authorities": ["E09000020", "E06000051", "E07000027"],
        "agency_contact": "Housing advice team, 020 7946 0100",
        "timeout_ms": 3000
    })
}

fn load_housing(sandbox: &Sandbox) -> DylibPartner {
    load("housing", "kensington-chelsea-housing", &settings(sandbox))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_housing_plugin_offers_triage_and_refers_exactly_once_with_consent() {
    let sandbox = sandbox().await;
    let partner = load_housing(&sandbox);
    // A section 21 notice, urgent: threatened with homelessness within 56 days.
    let mut case = sample_case("debt-food-eviction.json");

    let offers = partner.check_availability(&query(&partner, &case)).await.unwrap().offers;
    assert_eq!(offers.len(), 1, "one housing options team for Kensington and Chelsea");
    assert_eq!(offers[0].service.id, "E09000020");
    assert_ne!(offers[0].capacity, Capacity::Unknown);

    let build = |case: &pathways_core::Case, key: &str| {
        let need = [NeedCode::HousingHomelessness];
        referral(&partner, case, offers[0].service.clone(), &need, key)
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
    let (receipt, again) = refer_twice(&partner, &referral).await;
    assert_eq!(receipt, again, "a repeat is the same referral");
    assert_eq!(receipt.state, TaskState::Requested);
    let stats = sandbox.housing_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.referrals_created), (2, 1, 1));

    let status = status(&partner, &referral, &receipt).await;
    assert_eq!(status.state, TaskState::Requested, "the default sandbox clock is stopped");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housing_plugin_passes_the_conformance_check_against_the_sandbox() {
    let sandbox = sandbox().await;
    let report = conformance("housing", &settings(&sandbox)).await;
    let availability = report.checks.iter().find(|c| c.name == "availability").unwrap();
    assert!(availability.detail.starts_with("1 offer"), "{}", availability.detail);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_housing_plugin_reports_an_outage_as_transient() {
    let sandbox = sandbox().await;
    let partner = load_housing(&sandbox);
    sandbox.set_housing_faults(Faults::failing());
    let case = sample_case("debt-food-eviction.json");
    outage_error(&partner, &case).await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_housing_partner_requires_what_its_settings_say_so_plans_block_what_it_would_refuse(
) {
    use pathways_core::{missing_prerequisites, Missing};
    let sandbox = sandbox().await;
    // No agency contact: a safe-contact client could not be reached through the referrer.
    let settings = json!({"base_url": sandbox.housing_url(), "authorities": ["E09000020"],
        "timeout_ms": 3000});
    let partner = load("housing", "kensington-chelsea-housing", &settings);
    let manifest = partner.manifest();
    let need = NeedCode::HousingHomelessness;

    // The library's manifest cannot know the settings; the instance's requirements do.
    let mut case = sample_case("fleeing-abuse-housing.json");
    assert!(case.client.safe_contact);
    assert_eq!(missing_prerequisites(&case, manifest, need, false), [Missing::DirectContact]);
    case.client.safe_contact = false;
    assert!(missing_prerequisites(&case, manifest, need, false).is_empty());
    case.consent.duty_to_refer.as_mut().unwrap().chosen_authority = "E06000051".into();
    assert_eq!(
        missing_prerequisites(&case, manifest, need, false),
        [Missing::AuthorityNotServed { chosen: "E06000051".into() }]
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_housing_plugin_withdraws_the_referral_once_and_it_stays_withdrawn() {
    let sandbox = sandbox().await;
    let partner = load_housing(&sandbox);
    assert!(partner.manifest().capabilities.contains(&Capability::Cancel));
    let mut case = sample_case("debt-food-eviction.json");
    case.consent.duty_to_refer = Some(DutyToRefer {
        consent_to_refer: true,
        consent_to_share_contact: true,
        chosen_authority: "E09000020".into(),
    });
    let offers = partner.check_availability(&query(&partner, &case)).await.unwrap().offers;
    let need = [NeedCode::HousingHomelessness];
    let referral =
        referral(&partner, &case, offers[0].service.clone(), &need, "case-101-housing-2");
    let receipt = partner.send_referral(&referral).await.unwrap();

    // Another organisation is taking it: the referral is withdrawn.
    let request = CancelRequest {
        reference: ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        },
        reason: CancelReason::Rerouted,
    };
    let cancelled = partner.cancel_referral(&request).await.unwrap();
    assert_eq!(
        (cancelled.state, cancelled.reason),
        (TaskState::Cancelled, Some(CancelReason::Rerouted.status_reason()))
    );
    assert_eq!(status(&partner, &referral, &receipt).await.state, TaskState::Cancelled);
    let held = sandbox.housing_referral(&receipt.partner_reference).unwrap();
    assert_eq!(
        (held["status"].as_str(), held["withdrawal_reason"].as_str()),
        (Some("withdrawn"), Some("referred_elsewhere")),
        "the authority's own record"
    );
    // A retry through the library answers the same, and the authority withdrew it once.
    assert_eq!(partner.cancel_referral(&request).await.unwrap(), cancelled);
    assert_eq!(sandbox.housing_stats().referrals_withdrawn, 1);
    sandbox.shutdown().await;
}
