//! The referral book without HTTP: idempotency, refusals, and progress on a simulated clock
//! (instants are supplied, so no test sleeps).

use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn request(authority: &str, reason: &str) -> DtrRequest {
    serde_json::from_value(json!({
        "chosen_authority": authority,
        "referring_agency": {"organisation": "ca-kc", "case_reference": "R-1",
                             "referral_type": "voluntary"},
        "client": {"name": "Test Person", "phone": "07700 900001"},
        "reason": reason,
        "consent": {"consent_to_refer": true, "consent_to_share_contact": true,
                    "recorded_at": "2026-11-20T10:00:00Z", "recorded_by": "pf-1"}
    }))
    .unwrap()
}

fn created(outcome: PostOutcome) -> Receipt {
    match outcome {
        PostOutcome::Created(receipt) => receipt,
        other => panic!("expected a new referral, got {other:?}"),
    }
}

#[test]
fn a_repeated_key_returns_the_same_receipt_and_a_changed_body_is_refused() {
    let mut book = ReferralBook::new(1, ClockConfig::default(), 1);
    let first = created(book.post("k", request("E09000020", "homeless"), today(), None));
    assert!(first.referral_id.starts_with("DTR-KC-"), "{}", first.referral_id);
    assert_eq!(first.status, DtrStatus::Received);
    let PostOutcome::Repeated(again) =
        book.post("k", request("E09000020", "homeless"), today(), None)
    else {
        panic!("expected the same referral");
    };
    assert_eq!((again.referral_id, again.received_at), (first.referral_id, first.received_at));
    let other = request("E09000020", "threatened_with_homelessness_within_56_days");
    assert!(matches!(book.post("k", other, today(), None), PostOutcome::KeyReused));
    assert_eq!(book.stats.referrals_created, 1);
}

#[test]
fn referrals_follow_the_clock_and_the_duty_follows_the_reason() {
    let clock = ClockConfig { step_ms: 100, reject_rate: 0.0 };
    let mut book = ReferralBook::new(1, clock, 7);
    let threatened = created(book.post(
        "k1",
        request("E06000051", "threatened_with_homelessness_within_56_days"),
        today(),
        None,
    ));
    let homeless = created(book.post("k2", request("E06000051", "homeless"), today(), None));
    let at = |id: &str, ms: u64| {
        let start = book.referrals[id].arrived;
        book.view_at(id, start + Duration::from_millis(ms)).unwrap()
    };
    assert_eq!(at(&threatened.referral_id, 50).status, DtrStatus::Received);
    let accepted = at(&threatened.referral_id, 150);
    assert_eq!((accepted.status, accepted.duty), (DtrStatus::Accepted, Some(Duty::Prevention)));
    assert_eq!(accepted.updated_at - accepted.received_at, chrono::Duration::milliseconds(100));
    assert_eq!(at(&threatened.referral_id, 250).status, DtrStatus::InProgress);
    let closed = at(&threatened.referral_id, 5_000);
    assert_eq!(
        (closed.status, closed.outcome),
        (DtrStatus::Closed, Some(Outcome::HomelessnessPrevented))
    );
    let relieved = at(&homeless.referral_id, 5_000);
    assert_eq!(
        (relieved.duty, relieved.outcome),
        (Some(Duty::Relief), Some(Outcome::HomelessnessRelieved))
    );
}

#[test]
fn rejections_become_declines_or_a_closure_for_no_contact() {
    let clock = ClockConfig { step_ms: 10, reject_rate: 1.0 };
    let mut book = ReferralBook::new(3, clock, 11);
    let mut seen = Vec::new();
    for i in 0..60 {
        let receipt =
            created(book.post(&format!("k{i}"), request("E07000027", "homeless"), today(), None));
        let start = book.referrals[&receipt.referral_id].arrived;
        let view = book.view_at(&receipt.referral_id, start + Duration::from_millis(15)).unwrap();
        assert_eq!(view.duty, None, "no case is opened for a refused referral");
        seen.push((view.status, view.reason, view.outcome));
    }
    for expected in [
        (DtrStatus::Declined, Some(DeclineReason::NotEligible), None),
        (DtrStatus::Declined, Some(DeclineReason::NoLocalConnection), None),
        (DtrStatus::Closed, None, Some(Outcome::CouldNotContact)),
    ] {
        assert!(seen.contains(&expected), "{expected:?} never drawn in {seen:?}");
    }
}

#[test]
fn a_closed_intake_declines_on_arrival_and_the_clock_leaves_it_declined() {
    let clock = ClockConfig { step_ms: 10, reject_rate: 0.0 };
    let mut book = ReferralBook::new(1, clock, 1);
    let full = Some(CapacityOverride::Full);
    let receipt = created(book.post("k", request("E09000020", "homeless"), today(), full));
    assert_eq!(receipt.status, DtrStatus::Declined);
    let start = book.referrals[&receipt.referral_id].arrived;
    let later = book.view_at(&receipt.referral_id, start + Duration::from_secs(60)).unwrap();
    assert_eq!(
        (later.status, later.reason),
        (DtrStatus::Declined, Some(DeclineReason::NotAcceptingReferrals))
    );
    assert_eq!(
        book.availability("E09000020", today(), full).unwrap()["next_triage_date"],
        Value::Null
    );
}

#[test]
fn refusals_name_the_field() {
    let mut book = ReferralBook::new(1, ClockConfig::default(), 1);
    let PostOutcome::Unprocessable { code, .. } =
        book.post("k", request("E08000001", "homeless"), today(), None)
    else {
        panic!("an authority not served is refused");
    };
    assert_eq!(code, "authority_not_served");
    let mut no_consent = request("E09000020", "homeless");
    no_consent.consent.consent_to_share_contact = false;
    let PostOutcome::Unprocessable { code, message } = book.post("k2", no_consent, today(), None)
    else {
        panic!("missing consent is refused");
    };
    assert_eq!(code, "consent_required");
    assert!(message.contains("consent_to_share_contact"), "{message}");
    let mut via_referrer = request("E09000020", "homeless");
    via_referrer.client.phone = None;
    via_referrer.client.contact_via_referrer = true;
    let PostOutcome::Unprocessable { message, .. } =
        book.post("k3", via_referrer.clone(), today(), None)
    else {
        panic!("contact through a referrer who gave no contact is refused");
    };
    assert!(message.contains("referring_agency.contact"), "{message}");
    via_referrer.referring_agency.contact = Some("020 7946 0100".into());
    assert!(matches!(book.post("k4", via_referrer, today(), None), PostOutcome::Created(_)));
    assert_eq!(book.stats.referrals_created, 1);
}

#[test]
fn the_referrer_withdraws_an_open_referral_once_and_not_a_closed_one() {
    let mut book = ReferralBook::new(1, ClockConfig::default(), 1);
    let receipt = created(book.post("k", request("E09000020", "homeless"), today(), None));
    let id = receipt.referral_id;
    let WithdrawOutcome::Withdrawn(view) = book.withdraw(&id, WithdrawalReason::NoLongerNeeded)
    else {
        panic!("a received referral can be withdrawn");
    };
    assert_eq!(
        (view.status, view.withdrawal_reason),
        (DtrStatus::Withdrawn, Some(WithdrawalReason::NoLongerNeeded))
    );
    // Again, with another reason: the same referral, the first reason, counted once.
    let WithdrawOutcome::Withdrawn(again) = book.withdraw(&id, WithdrawalReason::Other) else {
        panic!("withdrawing twice is harmless");
    };
    assert_eq!(again, view);
    assert_eq!(book.stats.referrals_withdrawn, 1);
    let progress = book.progress();
    let told = progress.iter().find(|p| p.reference == id).unwrap();
    assert_eq!(
        (told.state, told.reason),
        (TaskState::Cancelled, Some(EventReason::NoLongerInterested))
    );

    // A case the clock has closed stays closed.
    let mut book = ReferralBook::new(1, ClockConfig { step_ms: 1, reject_rate: 0.0 }, 1);
    let receipt = created(book.post("k", request("E09000020", "homeless"), today(), None));
    std::thread::sleep(Duration::from_millis(10));
    let WithdrawOutcome::Ended(ended) =
        book.withdraw(&receipt.referral_id, WithdrawalReason::Other)
    else {
        panic!("a closed case is not withdrawn");
    };
    assert_eq!(ended.status, DtrStatus::Closed);
    assert!(matches!(
        book.withdraw("DTR-KC-NOSUCH", WithdrawalReason::Other),
        WithdrawOutcome::Unknown
    ));
    assert_eq!(book.stats.referrals_withdrawn, 0);
}
