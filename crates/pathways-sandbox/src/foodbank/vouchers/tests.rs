//! The voucher desk on its own: idempotency, capacity, refusals.

use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn request(foodbank: &str) -> VoucherRequest {
    serde_json::from_value(json!({
        "foodbank": foodbank,
        "agency": {"organisation": "ca-kc", "reference": "R-1"},
        "client": {"full_name": "Test Person", "year_of_birth": 1989, "phone": "07700 900001"},
        "household": {"adults": 1, "children_ages": [4]},
        "referral_reasons": ["food_insecurity"]
    }))
    .unwrap()
}

#[test]
fn a_repeated_key_returns_the_same_voucher_and_a_changed_body_is_refused() {
    let mut book = VoucherBook::new(1);
    let PostOutcome::Created(first) = book.post("k1", request("north-kensington"), today(), None)
    else {
        panic!("expected a new voucher");
    };
    assert_eq!(first.status, VoucherStatus::Issued);
    let PostOutcome::Repeated(again) = book.post("k1", request("north-kensington"), today(), None)
    else {
        panic!("expected the same voucher");
    };
    assert_eq!(again.voucher_id, first.voucher_id);
    assert!(matches!(
        book.post("k1", request("shrewsbury"), today(), None),
        PostOutcome::KeyReused
    ));
    assert_eq!(book.stats.vouchers_created, 1);
}

#[test]
fn issuing_uses_up_capacity_then_referrals_wait() {
    let mut book = VoucherBook::new(1);
    let fb = data::foodbank("chelsea-fulham").unwrap();
    for i in 0..fb.vouchers.weekly_vouchers {
        assert!(matches!(
            book.post(&format!("k{i}"), request(fb.slug), today(), None),
            PostOutcome::Created(_)
        ));
    }
    let desk = book.desk(fb, today(), None);
    assert_eq!((desk.accepting, desk.remaining, desk.waitlist_weeks), (true, 0, 1));
    assert!(desk.next_session > today());
}

#[test]
fn full_food_bank_declines_with_no_capacity() {
    let mut book = VoucherBook::new(1);
    let PostOutcome::Created(voucher) = book.post("k", request("furness"), today(), None) else {
        panic!("expected a voucher");
    };
    assert_eq!(voucher.status, VoucherStatus::Declined);
    assert_eq!(voucher.status_reason, Some(VoucherReason::NoCapacity));
    let open = book.availability("furness", today(), Some(CapacityOverride::Open)).unwrap();
    assert_eq!(open["accepting_referrals"], true);
}

#[test]
fn missing_contact_is_refused_naming_the_field() {
    let mut book = VoucherBook::new(1);
    let mut req = request("shrewsbury");
    req.client.phone = None;
    let PostOutcome::Unprocessable { message, .. } = book.post("k", req.clone(), today(), None)
    else {
        panic!("expected a refusal");
    };
    assert!(message.contains("client.phone"), "{message}");
    req.client.contact_via_agency = true;
    assert!(matches!(book.post("k2", req, today(), None), PostOutcome::Created(_)));
}

#[test]
fn unknown_fields_are_refused_by_the_parser() {
    let err = serde_json::from_value::<VoucherRequest>(json!({
        "foodbank": "furness", "agency": {"organisation": "a", "reference": "r"},
        "client": {"full_name": "X", "health_notes": "..."}, "referral_reasons": ["debt"]
    }))
    .unwrap_err();
    assert!(err.to_string().contains("health_notes"), "{err}");
}

#[test]
fn next_session_is_the_first_session_day_on_or_after() {
    let friday = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    assert_eq!(next_session(friday, &[Weekday::Fri]), friday);
    assert_eq!(
        next_session(friday, &[Weekday::Tue]),
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    );
}

#[test]
fn progress_follows_a_status_set_by_hand_and_a_decline_on_arrival() {
    use crate::webhook::{EventReason, TaskState};
    let mut book = VoucherBook::new(1);
    let PostOutcome::Created(issued) = book.post("k1", request("north-kensington"), today(), None)
    else {
        panic!("expected a voucher");
    };
    let PostOutcome::Created(full) = book.post("k2", request("furness"), today(), None) else {
        panic!("expected a voucher");
    };
    let state_of = |book: &VoucherBook, id: &str| {
        let progress = book.progress().into_iter().find(|p| p.reference == id).unwrap();
        (progress.state, progress.reason)
    };
    assert_eq!(state_of(&book, &issued.voucher_id), (TaskState::Requested, None), "clock stopped");
    assert_eq!(
        state_of(&book, &full.voucher_id),
        (TaskState::Rejected, Some(EventReason::NoCapacity))
    );
    book.set_status(&issued.voucher_id, VoucherStatus::Expired, None);
    assert_eq!(
        state_of(&book, &issued.voucher_id),
        (TaskState::Failed, Some(EventReason::CouldNotContact)),
        "a voucher nobody collected: the client was never reached"
    );
}

#[test]
fn availability_publishes_the_session_days_and_times() {
    let book = VoucherBook::new(1);
    let answer = book.availability("north-kensington", today(), None).unwrap();
    assert_eq!(
        answer["sessions"],
        serde_json::json!([{"days": ["tue", "fri"], "opens_at": "10:00", "closes_at": "13:00"}])
    );
    // Friday 20 November: the next session is that day's.
    assert_eq!(answer["next_session"], "2026-11-20");
    let ludlow = book.availability("ludlow-district", today(), None).unwrap();
    assert_eq!(ludlow["sessions"][0]["days"], serde_json::json!(["thu"]));
}

#[test]
fn an_issued_voucher_is_cancelled_once_and_an_ended_one_stays_as_it_is() {
    let mut book = VoucherBook::new(1);
    let PostOutcome::Created(voucher) = book.post("k1", request("north-kensington"), today(), None)
    else {
        panic!("expected a voucher");
    };
    let id = voucher.voucher_id;
    let CancelOutcome::Cancelled(cancelled) = book.cancel(&id, VoucherReason::ClientWithdrew)
    else {
        panic!("an issued voucher can be cancelled");
    };
    assert_eq!(
        (cancelled.status, cancelled.status_reason),
        (VoucherStatus::Cancelled, Some(VoucherReason::ClientWithdrew))
    );
    // Again, even with another reason: the same voucher, the first reason, counted once.
    let CancelOutcome::Cancelled(again) = book.cancel(&id, VoucherReason::AgencyWithdrew) else {
        panic!("cancelling twice is harmless");
    };
    assert_eq!(again, cancelled);
    assert_eq!(book.stats.vouchers_cancelled, 1);

    let PostOutcome::Created(collected) =
        book.post("k2", request("north-kensington"), today(), None)
    else {
        panic!("expected a voucher");
    };
    book.set_status(&collected.voucher_id, VoucherStatus::Redeemed, None);
    let CancelOutcome::Ended(ended) =
        book.cancel(&collected.voucher_id, VoucherReason::AgencyWithdrew)
    else {
        panic!("a redeemed voucher cannot be cancelled");
    };
    assert_eq!(ended.status, VoucherStatus::Redeemed);
    assert!(matches!(book.cancel("FBV-NOSUCH", VoucherReason::Other), CancelOutcome::Unknown));
    assert_eq!(book.stats.vouchers_cancelled, 1);
}
