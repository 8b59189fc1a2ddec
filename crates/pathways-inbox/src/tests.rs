//! The connector against a real SQLite store, and its notices against an SMTP sink on
//! loopback.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use pathways_core::{
    parse_case, AvailabilityQuery, CancelReason, CancelRequest, Capacity, ClientField, NeedCode,
    Partner, Referral, ReferralRef, ServiceRef, StatusReason, TaskState,
};
use pathways_store::{
    CapacityState, DataKeys, DispatchOutcome, PartnerCapacity, ReferralId, StatusChange,
    StatusSource, Store,
};
use pathways_testkit::smtp::SmtpSink;
use serde_json::json;

use super::*;

const ID: &str = "ludlow-befriending";

fn settings() -> serde_json::Value {
    json!({
        "needs": ["social_isolation"],
        "shares": ["name", "phone", "postcode"],
        "notify_email": "referrals@ludlow-good-neighbours.example",
        "services": [
            {"id": "befriending", "name": "Telephone befriending", "phone": "01632 960112",
             "channel": "phone"},
            {"id": "lunch", "name": "Friday lunch club", "address": "Church Hall, Ludlow"}
        ]
    })
}

async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("pathways.db").display());
    let keys = DataKeys::parse(&DataKeys::generate_entry()).unwrap();
    pathways_store::open(&url, keys).await.unwrap()
}

fn mailer(port: u16) -> Mailer {
    Mailer::new(&EmailSettings {
        host: "127.0.0.1".into(),
        port,
        from: "Pathways <pathways@council.example>".into(),
        tls: TlsMode::Off,
        credentials: None,
        console_url: "http://console.example/".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn case() -> pathways_core::Case {
    parse_case(
        br#"{"reference": "LB-1", "channel": "phone",
        "referrer": {"organisation": "ca", "worker": "w1"},
        "client": {"name": "Edith Clarke", "date_of_birth": "1941-04-02", "postcode": "SY8 1AA",
          "local_authority": "E06000051", "phone": "07700 900999", "preferred_language": "en",
          "safe_contact": false, "household": {"adults": 1, "children_ages": []}},
        "needs": [{"code": "social_isolation", "urgency": "routine"}],
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
          "recorded_by": "w1", "recorded_at": "2026-11-20T10:00:00Z"}}"#,
    )
    .unwrap()
}

fn query() -> AvailabilityQuery {
    AvailabilityQuery::for_case(&case(), &[NeedCode::SocialIsolation], today())
}

/// A referral of the case to the partner, stored as the intake stores it: returns it and its id.
async fn stored_referral(store: &Arc<dyn Store>) -> (Referral, ReferralId) {
    let case = case();
    let case_id = store.insert_case("ca", &case).await.unwrap();
    let referral = Referral::for_partner(
        &case,
        &ID.parse().unwrap(),
        ServiceRef { id: "befriending".into(), name: "Telephone befriending".into() },
        &[NeedCode::SocialIsolation],
        &[ClientField::Name, ClientField::Phone, ClientField::Postcode],
        false,
        "key-1".parse().unwrap(),
    );
    let ids = store.create_referrals(&case_id, vec![referral.clone().into()], Utc::now()).await;
    (referral, ids.unwrap().remove(0))
}

/// Marks every queued referral delivered with `reference`, as the dispatcher does after a send.
async fn delivered(store: &Arc<dyn Store>, reference: &str) {
    let claimed = store.claim_outbox("w", 10, Duration::from_secs(30), Utc::now()).await.unwrap();
    for item in claimed {
        let outcome = DispatchOutcome::Delivered { partner_reference: reference.into() };
        store.finish_outbox(item.id, "w", outcome, Utc::now()).await.unwrap();
    }
}

#[tokio::test]
async fn the_manifest_declares_a_voluntary_partner_that_can_cancel() {
    let partner = InboxPartner::new(ID, &settings(), None, None).unwrap();
    let manifest = partner.manifest();
    assert!(is_inbox(manifest));
    assert_eq!(manifest.kind, pathways_core::PartnerKind::Voluntary);
    assert_eq!(manifest.needs, [NeedCode::SocialIsolation]);
    assert!(manifest.capabilities.contains(&pathways_core::Capability::Cancel));
    let err = InboxPartner::new(ID, &json!({"needs": ["social_isolation"]}), None, None);
    assert!(err.unwrap_err().to_string().contains("services"));
}

#[tokio::test]
async fn availability_follows_the_services_and_the_capacity_staff_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let partner = InboxPartner::new(ID, &settings(), Some(store.clone()), None).unwrap();
    let answer = partner.check_availability(&query()).await.unwrap();
    assert_eq!(answer.offers.len(), 2, "both services meet the need");
    assert!(answer.offers.iter().all(|o| o.capacity == Capacity::Unknown), "never set");
    assert_eq!(
        answer.offers[0].contact.as_ref().and_then(|c| c.phone.as_deref()),
        Some("01632 960112")
    );

    let set = |state, count, note: Option<&str>| PartnerCapacity {
        partner_id: ID.into(),
        state,
        count,
        note: note.map(str::to_string),
        set_by: "usr_x".into(),
        set_at: Utc::now(),
    };
    store
        .set_partner_capacity(&set(CapacityState::Waitlist, Some(6), Some("about 3 weeks")))
        .await
        .unwrap();
    let answer = partner.check_availability(&query()).await.unwrap();
    let offer = &answer.offers[0];
    assert_eq!(offer.capacity, Capacity::Waitlist);
    assert_eq!(offer.wait_estimate.as_deref(), Some("6 on the waiting list; about 3 weeks"));
    assert_eq!(offer.earliest_start, today().checked_add_days(chrono::Days::new(21)));

    store.set_partner_capacity(&set(CapacityState::Closed, None, None)).await.unwrap();
    let answer = partner.check_availability(&query()).await.unwrap();
    assert!(answer.offers.iter().all(|o| o.capacity == Capacity::NoCapacity));
    assert_eq!(answer.offers[0].wait_estimate.as_deref(), Some("Not taking new referrals"));

    // Another partner's capacity is not this one's.
    let other =
        PartnerCapacity { partner_id: "other".into(), ..set(CapacityState::Places, Some(3), None) };
    store.set_partner_capacity(&other).await.unwrap();
    let answer = partner.check_availability(&query()).await.unwrap();
    assert_eq!(answer.offers[0].capacity, Capacity::NoCapacity);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_stores_nothing_more_answers_with_the_referrals_id_and_emails_a_link_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let sink = SmtpSink::start();
    let partner =
        InboxPartner::new(ID, &settings(), Some(store.clone()), Some(mailer(sink.port))).unwrap();
    let (referral, id) = stored_referral(&store).await;
    let receipt = partner.send_referral(&referral).await.unwrap();
    assert_eq!(receipt.partner_reference, id.to_string());
    assert_eq!(receipt.state, TaskState::Requested);

    let mail = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(mail[0].to, ["referrals@ludlow-good-neighbours.example"]);
    assert_eq!(mail[0].from, "pathways@council.example");
    let text = mail[0].unwrapped();
    assert!(text.contains(&format!("\nhttp://console.example/referrals/{id}\n")), "{text}");
    for personal in ["Edith", "Clarke", "07700", "SY8", "1941"] {
        assert!(!mail[0].data.contains(personal), "{personal} in {}", mail[0].data);
    }

    // Delivered: a repeat of the send (a lease ran out) is the same referral, and no second
    // notice goes.
    delivered(&store, &receipt.partner_reference).await;
    let again = partner.send_referral(&referral).await.unwrap();
    assert_eq!(again.partner_reference, receipt.partner_reference);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.received().len(), 1);
}

#[tokio::test]
async fn a_notice_that_cannot_be_sent_never_fails_the_referral() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let partner =
        InboxPartner::new(ID, &settings(), Some(store.clone()), Some(mailer(port))).unwrap();
    let (referral, id) = stored_referral(&store).await;
    let started = std::time::Instant::now();
    let receipt = partner.send_referral(&referral).await.unwrap();
    assert_eq!(receipt.partner_reference, id.to_string());
    assert!(started.elapsed() < Duration::from_secs(2), "the send did not wait for the email");
}

#[tokio::test]
async fn status_is_what_staff_set_and_a_cancel_shows_as_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let partner = InboxPartner::new(ID, &settings(), Some(store.clone()), None).unwrap();
    let (referral, id) = stored_referral(&store).await;
    let receipt = partner.send_referral(&referral).await.unwrap();
    delivered(&store, &receipt.partner_reference).await;
    let reference = ReferralRef {
        partner_reference: receipt.partner_reference.clone(),
        idempotency_key: referral.idempotency_key.clone(),
    };
    assert_eq!(partner.referral_status(&reference).await.unwrap().state, TaskState::Requested);
    let accepted = StatusChange {
        state: TaskState::Accepted,
        reason: None,
        note: None,
        source: StatusSource::PartnerInbox,
        at: Utc::now(),
    };
    assert!(store.record_referral_status(&id, &accepted).await.unwrap());
    assert_eq!(partner.referral_status(&reference).await.unwrap().state, TaskState::Accepted);

    let cancel =
        CancelRequest { reference: reference.clone(), reason: CancelReason::NoLongerNeeded };
    let answer = partner.cancel_referral(&cancel).await.unwrap();
    assert_eq!(answer.state, TaskState::Cancelled);
    assert_eq!(answer.reason, Some(StatusReason::NoLongerInterested));

    // Another partner's reference finds nothing here.
    let other = InboxPartner::new("someone-else", &settings(), Some(store.clone()), None).unwrap();
    assert!(other.referral_status(&reference).await.is_err());

    // Completed meanwhile: a cancel answers the final state.
    let completed = StatusChange { state: TaskState::Completed, ..accepted };
    assert!(store.record_referral_status(&id, &completed).await.unwrap());
    assert_eq!(partner.cancel_referral(&cancel).await.unwrap().state, TaskState::Completed);
}
