//! The dispatcher against in-process fake partners and a SQLite store: a hung partner holds
//! only its own slots, an open circuit turns sends into retries without calling the partner
//! (also after a reload), and every open referral is polled however many there are.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pathways_core::TaskState;
use pathways_orchestrator::BreakerState;
use pathways_referrals::{DispatchSettings, Dispatcher};
use pathways_store::{OutboxState, ReferralId, Store};
use support::{deliver_all, eventually, orchestrator, queue, sqlite, Answer, FakePartner, Host};

fn settings() -> DispatchSettings {
    DispatchSettings {
        poll_interval: Duration::from_millis(20),
        concurrency: 8,
        send_timeout: Duration::from_secs(30),
        // No status polling during the send tests (the first round would be 30 s in).
        status_poll_base: Duration::from_secs(3600),
        status_poll_cap: Duration::from_secs(3600),
        ..DispatchSettings::default()
    }
}

async fn attempts(store: &Arc<dyn Store>, ids: &[ReferralId]) -> Vec<u32> {
    let mut attempts = Vec::new();
    for id in ids {
        attempts.push(store.get_referral(id).await.unwrap().unwrap().dispatch.attempts);
    }
    attempts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_partner_does_not_stop_sends_to_the_others() {
    let (store, _dir) = sqlite().await;
    let hung = FakePartner::hung("hung");
    let (fb, nhs) = (FakePartner::quick("fb"), FakePartner::quick("nhs"));
    // Two send slots per partner, breaker off: the bulkhead alone must do it.
    let partners = [("hung", hung.clone()), ("fb", fb.clone()), ("nhs", nhs.clone())];
    let host = Host::new(orchestrator(&partners, 2, 0));
    // The hung partner's referrals are the oldest: a plain claim would take them first.
    let stuck = queue(&store, "hung", 20).await;
    queue(&store, "fb", 20).await;
    queue(&store, "nhs", 20).await;

    let dispatcher = Dispatcher::start(store.clone(), host.clone(), settings());
    let all_sent = eventually(Duration::from_secs(20), || host.delivered() == 40).await;
    assert!(all_sent, "delivered {} of the 40 to the partners that answer", host.delivered());
    assert_eq!((fb.sends.total(), nhs.sends.total()), (20, 20));
    // The hung partner holds its two slots and nothing more: its other 18 referrals were
    // never claimed, so no attempt was spent on them and no lease holds them.
    assert_eq!((hung.sends.now(), hung.sends.total()), (2, 2));
    let spent = attempts(&store, &stuck).await;
    assert_eq!(spent.iter().filter(|&&a| a == 0).count(), 18, "{spent:?}");
    assert_eq!(spent.iter().filter(|&&a| a == 1).count(), 2, "{spent:?}");
    // A reload keeps the hung partner's lane, slots taken and all.
    let kept = host.reload(orchestrator(&partners, 2, 0));
    assert_eq!(kept, ["hung", "fb", "nhs"]);
    let more = queue(&store, "fb", 5).await;
    let sent = eventually(Duration::from_secs(10), || host.delivered() == 45).await;
    assert!(sent, "delivered {} of 45", host.delivered());
    assert_eq!(attempts(&store, &more).await, [1; 5]);
    assert_eq!(hung.sends.total(), 2);
    dispatcher.shutdown(Duration::from_millis(50)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_makes_sends_retries_without_calling_the_partner_across_a_reload() {
    let (store, _dir) = sqlite().await;
    let hung = FakePartner::hung("hung");
    let fb = FakePartner::quick("fb");
    let partners = [("hung", hung.clone()), ("fb", fb.clone())];
    // The circuit opens after 2 failures (timeouts count) for 60 s.
    let host = Host::new(orchestrator(&partners, 2, 2));
    let first = queue(&store, "hung", 6).await;
    queue(&store, "fb", 5).await;
    let settings = DispatchSettings { send_timeout: Duration::from_millis(300), ..settings() };
    let dispatcher = Dispatcher::start(store.clone(), host.clone(), settings);

    let refused = eventually(Duration::from_secs(20), || {
        host.finished.lock().unwrap().get("retry").copied().unwrap_or(0) >= 6
    })
    .await;
    assert!(refused, "{:?}", host.finished.lock().unwrap());
    assert_eq!(host.delivered(), 5, "the other partner's referrals went");
    assert_eq!(hung.sends.total(), 2, "the two that timed out; the rest were never sent");
    let lane = host_lane(&host, "hung");
    assert!(matches!(lane, BreakerState::Open { .. }), "{lane:?}");
    let mut circuit = 0;
    let mut spent = 0;
    for id in &first {
        let dispatch = store.get_referral(id).await.unwrap().unwrap().dispatch;
        // Pending still, to be retried. Only the two sends that reached the partner (and
        // timed out) spent an attempt: a refusal by the open circuit gives its attempt back.
        assert_eq!(dispatch.state, OutboxState::Pending);
        spent += dispatch.attempts;
        let error = dispatch.last_error.unwrap();
        if error.contains("circuit open") {
            circuit += 1;
            // No sooner than the rest of the cool-down.
            assert!(dispatch.not_before > Utc::now() + chrono::Duration::seconds(50), "{error}");
        } else {
            assert!(error.contains("no answer within 300 ms"), "{error}");
        }
    }
    assert!(circuit >= 4, "{circuit}");
    assert_eq!(spent, 2);

    // A reload keeps the open circuit: new referrals to it are not sent either.
    assert_eq!(host.reload(orchestrator(&partners, 2, 2)), ["hung", "fb"]);
    queue(&store, "hung", 3).await;
    let refused = eventually(Duration::from_secs(10), || {
        host.finished.lock().unwrap().get("retry").copied().unwrap_or(0) >= 9
    })
    .await;
    assert!(refused, "{:?}", host.finished.lock().unwrap());
    assert_eq!(hung.sends.total(), 2);
    dispatcher.shutdown(Duration::from_millis(50)).await;
}

fn host_lane(host: &Host, partner: &str) -> BreakerState {
    use pathways_referrals::DispatchHost;
    host.partners().referral_lane(partner).unwrap().breaker()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_open_referral_is_polled_past_the_old_cap_and_a_hung_partner_delays_only_its_own() {
    let (store, _dir) = sqlite().await;
    let quick = |id: &str| {
        FakePartner::new(id, Answer::After(Duration::ZERO), Answer::After(Duration::from_millis(2)))
    };
    let (fb, nhs, council) = (quick("fb"), quick("nhs"), quick("council"));
    let hung = FakePartner::hung("hung");
    let partners = [
        ("fb", fb.clone()),
        ("nhs", nhs.clone()),
        ("council", council.clone()),
        ("hung", hung.clone()),
    ];
    let host = Host::new(orchestrator(&partners, 4, 0));
    // 1,200 open referrals to the partners that answer (more than the 500 per state the
    // poller used to look at), and 50 to the hung one.
    for (partner, count) in [("fb", 500), ("nhs", 400), ("council", 300), ("hung", 50)] {
        queue(&store, partner, count).await;
    }
    assert_eq!(deliver_all(&store).await, 1250);

    let settings = DispatchSettings {
        status_poll_base: Duration::from_secs(2),
        status_poll_cap: Duration::from_secs(60),
        ..settings()
    };
    let dispatcher = Dispatcher::start(store.clone(), host.clone(), settings);
    let all_polled = eventually(Duration::from_secs(60), || {
        fb.distinct_polled() == 500
            && nhs.distinct_polled() == 400
            && council.distinct_polled() == 300
    })
    .await;
    assert!(
        all_polled,
        "polled {} + {} + {}",
        fb.distinct_polled(),
        nhs.distinct_polled(),
        council.distinct_polled()
    );
    // Concurrently per partner, within the lane's four poll slots; the hung partner holds
    // its four and no more.
    for partner in [&fb, &nhs, &council] {
        assert!((2..=4).contains(&partner.polls.max()), "{}", partner.polls.max());
    }
    assert_eq!((hung.polls.now(), hung.polls.max()), (4, 4));
    dispatcher.shutdown(Duration::from_millis(50)).await;

    // Each answer was recorded: every one of the 1,200 is `accepted` now.
    let mut states: HashMap<String, HashMap<TaskState, usize>> = HashMap::new();
    let mut after = None;
    loop {
        let page = store.open_referrals_after(after.as_ref(), 500).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.referral_id.clone());
        for r in page {
            *states.entry(r.partner_id).or_default().entry(r.state).or_default() += 1;
        }
    }
    assert_eq!(states["fb"], HashMap::from([(TaskState::Accepted, 500)]));
    assert_eq!(states["nhs"], HashMap::from([(TaskState::Accepted, 400)]));
    assert_eq!(states["council"], HashMap::from([(TaskState::Accepted, 300)]));
    assert_eq!(states["hung"], HashMap::from([(TaskState::Requested, 50)]));
}
