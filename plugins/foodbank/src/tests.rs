//! The connector compiled in, against the sandbox's food bank simulator over real HTTP on
//! 127.0.0.1. What reaches the food bank is checked byte for byte in `tests/payload.rs`; the
//! partner's failures in `tests/faults.rs`.

mod contact;
mod faults;
mod payload;

use pathways_plugin_testkit::{sandbox, sandbox_with, today};
use pathways_sandbox::{CapacityOverride, Faults, VoucherReason, VoucherStatus};
use pathways_sdk::{
    parse_case, AvailabilityQuery, CancelReason, CancelRequest, Capability, Capacity, Case,
    ClientField, NeedCode, Partner, PartnerErrorKind, PartnerPlugin, Referral, ReferralRef,
    ServiceChannel, ServiceRef, StatusReason, TaskState,
};

use crate::mapping::{self, DirectoryFoodbank, VoucherAvailability};
use crate::{FoodbankPartner, Settings};

fn partner(base_url: &str) -> FoodbankPartner {
    FoodbankPartner::from_settings(Settings::new(base_url)).unwrap()
}

/// A case with a food need and notes on health and abuse that must never reach a food bank.
fn case(postcode: &str, safe_contact: bool) -> Case {
    let json = format!(
        r#"{{"reference": "CAKC-000123", "channel": "phone",
        "referrer": {{"organisation": "citizens-advice-kc", "worker": "pf-17"}},
        "client": {{"name": "Test Person", "date_of_birth": "1989-04-02", "postcode": "{postcode}",
          "address": "1 Test Road", "local_authority": "E09000020", "phone": "07700 900123",
          "email": "test@example.org", "preferred_language": "en", "safe_contact": {safe_contact},
          "household": {{"adults": 1, "children_ages": [7, 15]}}}},
        "needs": [{{"code": "food", "urgency": "urgent", "notes": "PRIVATE-FOOD-NOTE"}},
                  {{"code": "mental_health", "urgency": "soon", "notes": "PRIVATE-MENTAL-HEALTH"}},
                  {{"code": "domestic_abuse", "urgency": "emergency", "notes": "PRIVATE-ABUSE"}}],
        "consent": {{"lawful_basis": "consent", "share_with": "planned_partners",
          "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}}}}"#
    );
    parse_case(json.as_bytes()).unwrap()
}

fn query(postcode: &str, needs: &[NeedCode]) -> AvailabilityQuery {
    AvailabilityQuery::for_case(&case(postcode, false), needs, today())
}

fn referral(slug: &str, key: &str, safe_contact: bool) -> Referral {
    let shares = FoodbankPartner::describe().shares;
    let service = ServiceRef { id: slug.into(), name: slug.into() };
    Referral::for_partner(
        &case("W10 5AB", safe_contact),
        &"fb".parse().unwrap(),
        service,
        &[NeedCode::Food],
        &shares,
        false,
        key.parse().unwrap(),
    )
}

#[tokio::test]
async fn kensington_offers_open_and_waitlisted_food_banks_nearest_first_and_skips_closed() {
    let sandbox = sandbox().await;
    let offers = partner(&sandbox.foodbank_url())
        .check_availability(&query("W10 5AB", &[NeedCode::Food]))
        .await
        .unwrap()
        .offers;
    let slugs: Vec<&str> = offers.iter().map(|o| o.service.id.as_str()).collect();
    assert_eq!(&slugs[..2], ["north-kensington", "notting-hill-larder"], "{slugs:?}");
    assert!(slugs.contains(&"chelsea-fulham"), "{slugs:?}");
    assert!(!slugs.contains(&"earls-court-pantry"), "closed food banks are not offered");
    assert_eq!(offers[0].capacity, Capacity::Capacity);
    assert_eq!(offers[0].earliest_start, Some(today()));
    assert!(offers[0].wait_estimate.as_deref().unwrap().contains("12 vouchers"));
    assert_eq!(offers[1].capacity, Capacity::Waitlist);
    assert!(offers[1].earliest_start.unwrap() >= today() + chrono::Days::new(14));
    let distances: Vec<u32> =
        offers.iter().map(|o| o.location.as_ref().unwrap().distance_m.unwrap()).collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    assert!(offers
        .iter()
        .all(|o| o.need == NeedCode::Food && o.channel == Some(ServiceChannel::InPerson)));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn rural_and_sparse_areas_show_waitlist_full_and_no_provider() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    let food = [NeedCode::Food];
    let ludlow = fb.check_availability(&query("SY8 1AA", &food)).await.unwrap().offers;
    assert_eq!(ludlow.len(), 1, "Shrewsbury is beyond 16 km of Ludlow");
    assert_eq!(
        (ludlow[0].service.id.as_str(), ludlow[0].capacity),
        ("ludlow-district", Capacity::Waitlist)
    );
    let oswestry = fb.check_availability(&query("SY11 2AA", &food)).await.unwrap().offers;
    assert_eq!(oswestry[0].capacity, Capacity::NoCapacity);
    assert_eq!(oswestry[0].earliest_start, None);
    let barrow = fb.check_availability(&query("LA14 1AA", &food)).await.unwrap().offers;
    assert_eq!(barrow.len(), 1);
    assert_eq!(
        (barrow[0].service.id.as_str(), barrow[0].capacity),
        ("furness", Capacity::NoCapacity)
    );
    let wick = fb.check_availability(&query("KW1 4AA", &food)).await.unwrap();
    assert!(wick.offers.is_empty(), "no food bank within reach of Wick");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn needs_it_does_not_serve_get_no_offers_and_no_call() {
    let sandbox = sandbox().await;
    sandbox.set_foodbank_faults(Faults::failing());
    let answer = partner(&sandbox.foodbank_url())
        .check_availability(&query("W10 5AB", &[NeedCode::MentalHealth]))
        .await;
    assert!(answer.unwrap().offers.is_empty(), "a call would have failed");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn referral_round_trip_maps_every_voucher_status() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    let receipt =
        fb.send_referral(&referral("north-kensington", "key-round-trip", false)).await.unwrap();
    assert_eq!(receipt.state, TaskState::Requested);
    assert!(receipt.partner_reference.starts_with("FBV-"));
    let reference = ReferralRef {
        partner_reference: receipt.partner_reference.clone(),
        idempotency_key: "key-round-trip".parse().unwrap(),
    };
    let issued = fb.referral_status(&reference).await.unwrap();
    assert_eq!(issued.state, TaskState::Accepted);
    assert!(issued.note.unwrap().contains("2026-11-20"));

    let cases = [
        (VoucherStatus::Redeemed, None, TaskState::Completed, None),
        (VoucherStatus::Expired, None, TaskState::Failed, Some(StatusReason::CouldNotContact)),
        (
            VoucherStatus::Cancelled,
            Some(VoucherReason::ClientWithdrew),
            TaskState::Cancelled,
            Some(StatusReason::NoLongerInterested),
        ),
        (
            VoucherStatus::Declined,
            Some(VoucherReason::OutOfArea),
            TaskState::Rejected,
            Some(StatusReason::OutOfArea),
        ),
        (VoucherStatus::Declined, None, TaskState::Rejected, Some(StatusReason::Other)),
    ];
    for (status, why, state, reason) in cases {
        sandbox.set_voucher_status(&receipt.partner_reference, status, why).unwrap();
        let now = fb.referral_status(&reference).await.unwrap();
        assert_eq!((now.state, now.reason), (state, reason), "{status:?}");
    }
    let unknown = ReferralRef {
        partner_reference: "FBV-NOSUCH".into(),
        idempotency_key: "k".parse().unwrap(),
    };
    assert_eq!(fb.referral_status(&unknown).await.unwrap_err().kind, PartnerErrorKind::Permanent);
    sandbox.shutdown().await;
}

/// Sends a voucher referral under `key` and returns its reference.
async fn referred(fb: &FoodbankPartner, key: &str) -> ReferralRef {
    let receipt = fb.send_referral(&referral("north-kensington", key, false)).await.unwrap();
    ReferralRef {
        partner_reference: receipt.partner_reference,
        idempotency_key: key.parse().unwrap(),
    }
}

fn cancel(reference: &ReferralRef, reason: CancelReason) -> CancelRequest {
    CancelRequest { reference: reference.clone(), reason }
}

#[tokio::test]
async fn cancelling_withdraws_the_voucher_once_and_later_polls_say_cancelled() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    let reference = referred(&fb, "key-cancel").await;
    let request = cancel(&reference, CancelReason::NoLongerNeeded);
    let cancelled = fb.cancel_referral(&request).await.unwrap();
    assert_eq!(
        (cancelled.state, cancelled.reason),
        (TaskState::Cancelled, Some(CancelReason::NoLongerNeeded.status_reason()))
    );
    assert_eq!(
        sandbox.voucher_status(&reference.partner_reference),
        Some((VoucherStatus::Cancelled, Some(VoucherReason::ClientWithdrew))),
        "the client's own choice, in the desk's words"
    );
    // Again, as a retry would: the same answer, and the desk counts one cancel.
    assert_eq!(fb.cancel_referral(&request).await.unwrap(), cancelled);
    assert_eq!(fb.referral_status(&reference).await.unwrap(), cancelled);
    assert_eq!(sandbox.foodbank_stats().vouchers_cancelled, 1);

    // Sent to another organisation instead: the agency withdrew it.
    let rerouted = referred(&fb, "key-cancel-rerouted").await;
    let answer = fb.cancel_referral(&cancel(&rerouted, CancelReason::Rerouted)).await.unwrap();
    assert_eq!(
        (answer.state, answer.reason),
        (TaskState::Cancelled, Some(CancelReason::Rerouted.status_reason()))
    );
    assert_eq!(
        sandbox.voucher_status(&rerouted.partner_reference),
        Some((VoucherStatus::Cancelled, Some(VoucherReason::AgencyWithdrew)))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_collected_voucher_is_not_cancelled_and_the_answer_is_how_it_ended() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    let reference = referred(&fb, "key-collected").await;
    sandbox
        .set_voucher_status(&reference.partner_reference, VoucherStatus::Redeemed, None)
        .unwrap();
    let answer =
        fb.cancel_referral(&cancel(&reference, CancelReason::HelpedElsewhere)).await.unwrap();
    assert_eq!((answer.state, answer.reason), (TaskState::Completed, None));
    assert_eq!(
        sandbox.voucher_status(&reference.partner_reference),
        Some((VoucherStatus::Redeemed, None))
    );
    assert_eq!(sandbox.foodbank_stats().vouchers_cancelled, 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn cancelling_an_unknown_voucher_or_in_an_outage_fails_with_the_right_kind() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    let unknown = ReferralRef {
        partner_reference: "FBV-NOSUCH".into(),
        idempotency_key: "k".parse().unwrap(),
    };
    let err = fb.cancel_referral(&cancel(&unknown, CancelReason::Other)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent, "{err}");
    assert!(err.message.contains("404") && err.message.contains("/cancel"), "{err}");
    let blank =
        ReferralRef { partner_reference: " ".into(), idempotency_key: "k".parse().unwrap() };
    let err = fb.cancel_referral(&cancel(&blank, CancelReason::Other)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::InvalidRequest, "{err}");

    let reference = referred(&fb, "key-cancel-outage").await;
    sandbox.set_foodbank_faults(Faults::failing());
    let err = fb.cancel_referral(&cancel(&reference, CancelReason::Other)).await.unwrap_err();
    assert!(matches!(err.kind, PartnerErrorKind::Transient { .. }), "{err}");
    assert!(!err.message.contains("Test Person"), "no personal data in errors: {err}");
    assert_eq!(
        sandbox.voucher_status(&reference.partner_reference).unwrap().0,
        VoucherStatus::Issued
    );
    sandbox.shutdown().await;
}

#[test]
fn every_cancel_reason_reads_back_as_the_reason_the_core_gives_it() {
    for reason in CancelReason::ALL {
        let body = mapping::voucher_cancel(reason);
        let answer = mapping::VoucherAnswer {
            voucher_id: "FBV-1".into(),
            status: "cancelled".into(),
            status_reason: Some(body.reason.to_string()),
            collect_from: None,
            issued_at: None,
            updated_at: None,
        };
        let status = mapping::status(&answer, "/p").unwrap();
        assert_eq!(status.reason, Some(reason.status_reason()), "{reason:?} as {}", body.reason);
    }
}

#[tokio::test]
async fn a_full_food_bank_rejects_the_referral_with_no_capacity() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    let receipt = fb.send_referral(&referral("furness", "key-full", false)).await.unwrap();
    assert_eq!(receipt.state, TaskState::Rejected);
    let reference = ReferralRef {
        partner_reference: receipt.partner_reference,
        idempotency_key: "key-full".parse().unwrap(),
    };
    let status = fb.referral_status(&reference).await.unwrap();
    assert_eq!(
        (status.state, status.reason),
        (TaskState::Rejected, Some(StatusReason::NoCapacity))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn repeating_a_referral_key_creates_one_voucher() {
    let sandbox = sandbox().await;
    let fb = partner(&sandbox.foodbank_url());
    let referral = referral("shrewsbury", "key-once", false);
    let first = fb.send_referral(&referral).await.unwrap();
    let second = fb.send_referral(&referral).await.unwrap();
    assert_eq!(first.partner_reference, second.partner_reference);
    let stats = sandbox.foodbank_stats();
    assert_eq!((stats.total_posts, stats.distinct_keys, stats.vouchers_created), (2, 1, 1));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn capacity_override_and_health_and_api_key() {
    let sandbox = sandbox_with(|config| config.foodbank.api_key = Some("fb-test-key".into())).await;
    let without_key = partner(&sandbox.foodbank_url());
    assert_eq!(without_key.health().await.unwrap_err().kind, PartnerErrorKind::Unauthorized);
    // A variable only this test uses, so parallel tests cannot race on it.
    std::env::set_var("PATHWAYS_TEST_FOODBANK_KEY", "fb-test-key");
    let settings = Settings {
        api_key_env: Some("PATHWAYS_TEST_FOODBANK_KEY".into()),
        ..Settings::new(sandbox.foodbank_url())
    };
    let fb = FoodbankPartner::from_settings(settings).unwrap();
    assert!(fb.health().await.unwrap().detail.unwrap().contains("answered"));
    sandbox
        .set_foodbank_faults(Faults { capacity: Some(CapacityOverride::Full), ..Faults::none() });
    let offers = fb.check_availability(&query("W10 5AB", &[NeedCode::Food])).await.unwrap().offers;
    assert!(!offers.is_empty() && offers.iter().all(|o| o.capacity == Capacity::NoCapacity));
    sandbox.shutdown().await;
}

#[test]
fn settings_errors_name_the_key() {
    let err =
        pathways_sdk::parse_settings::<Settings>(br#"{"base_url": "http://x", "timeout_msec": 5}"#)
            .unwrap_err();
    assert!(err.contains("timeout_msec"), "{err}");
    let err = pathways_sdk::parse_settings::<Settings>(br#"{"timeout_ms": 5}"#).unwrap_err();
    assert!(err.contains("base_url"), "{err}");
    let unset = Settings {
        api_key_env: Some("PATHWAYS_TEST_SURELY_UNSET_VAR".into()),
        ..Settings::new("http://127.0.0.1:9")
    };
    let err = FoodbankPartner::from_settings(unset).unwrap_err();
    assert!(err.contains("api_key_env") && err.contains("PATHWAYS_TEST_SURELY_UNSET_VAR"), "{err}");
    let err = FoodbankPartner::from_settings(Settings::new("not a url")).unwrap_err();
    assert!(err.contains("base_url"), "{err}");
    let err = FoodbankPartner::from_settings(Settings {
        max_results: 0,
        ..Settings::new("http://127.0.0.1:9")
    })
    .unwrap_err();
    assert!(err.contains("max_results"), "{err}");
}

#[test]
fn manifest_declares_food_and_never_notes() {
    let manifest = pathways_sdk::manifest_of::<FoodbankPartner>();
    assert_eq!(manifest.plugin, "foodbank");
    assert_eq!(manifest.needs, [NeedCode::Food]);
    assert!(manifest.capabilities.contains(&Capability::Cancel), "the desk cancels vouchers");
    assert!(!manifest.shares.contains(&ClientField::NeedNotes));
    assert!(
        !manifest.shares.contains(&ClientField::DateOfBirth)
            && !manifest.shares.contains(&ClientField::Email)
    );
    let schema = manifest.settings_schema.to_string();
    assert!(schema.contains("base_url") && schema.contains("max_distance_m"), "{schema}");
    assert!(manifest.build.is_some());
}

#[test]
fn a_desk_that_does_not_answer_gives_unknown_capacity_and_waits_read_as_waitlist() {
    let fb = DirectoryFoodbank {
        name: "X".into(),
        slug: "x".into(),
        postcode: None,
        closed: false,
        distance_m: Some(900.4),
        phone: None,
        secondary_phone: None,
        email: None,
        address: None,
        urls: serde_json::Value::Null,
    };
    assert_eq!(mapping::offer(&fb, 900, None, today()).capacity, Capacity::Unknown);
    let no_vouchers_left = VoucherAvailability {
        accepting_referrals: true,
        vouchers_remaining_this_week: 0,
        next_session: Some(today()),
        waitlist_weeks: 0,
        sessions: Vec::new(),
    };
    assert_eq!(
        mapping::offer(&fb, 900, Some(&no_vouchers_left), today()).capacity,
        Capacity::Waitlist
    );
    let far = DirectoryFoodbank { distance_m: Some(20_000.0), slug: "far".into(), ..fb.clone() };
    let closed = DirectoryFoodbank { closed: true, slug: "closed".into(), ..fb.clone() };
    let unknown = DirectoryFoodbank { distance_m: None, slug: "unknown".into(), ..fb.clone() };
    let kept = mapping::nearby(vec![far, closed, unknown, fb], 16_000, 5);
    assert_eq!(kept.iter().map(|(f, d)| (f.slug.as_str(), *d)).collect::<Vec<_>>(), [("x", 900)]);
}
