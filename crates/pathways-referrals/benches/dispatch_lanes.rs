//! The dispatcher's lanes under load, with in-process fake partners (implementing
//! `pathways_core::Partner`, no plugins, no network) and a durable SQLite store in a temporary
//! folder (WAL, `synchronous = FULL`, group commit). A load script, not a test: run with
//! `cargo bench -p pathways-referrals --bench dispatch_lanes`. Results: docs/BENCHMARKS.md.
//!
//! (a) **One hung partner among four.** 3 × 1,000 referrals to three partners that answer in
//! 2 ms, sent by one dispatcher (`concurrency` 16, `partner_concurrency` 4, `send_timeout`
//! 20 s, the default breaker), with the hung partner absent, then present with 1,000 referrals
//! of its own queued first (the oldest, so a claim that ignored the lanes would take them
//! first). Five rounds alternate absent/present, each on a fresh store; the figure is the send
//! throughput to the three, present ÷ absent (the median of the rounds' ratios: the machine is
//! shared and a round lasts seconds).
//!
//! (b) **5,000 open referrals polled.** 4 × 1,250 delivered referrals, status polls answered
//! in 2 ms with a new state (so every poll is also a durable write); the time from the first
//! poll to the last referral's first poll, against the poll interval.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pathways_referrals::{DispatchSettings, Dispatcher};
use support::{deliver_all, eventually, orchestrator, queue, sqlite, Answer, FakePartner, Host};

const PER_PARTNER: usize = 1000;
const ROUNDS: usize = 5;
const OPEN_PER_PARTNER: usize = 1250;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        hung_partner_among_four().await;
        polling_five_thousand().await;
    });
}

fn answering(id: &str) -> Arc<FakePartner> {
    let two_ms = Answer::After(Duration::from_millis(2));
    FakePartner::new(id, two_ms, two_ms)
}

/// Referrals per second delivered to the three answering partners, with or without a hung
/// fourth.
async fn send_rate(with_hung: bool) -> f64 {
    let (store, _dir) = sqlite().await;
    let answering: Vec<(&str, Arc<FakePartner>)> =
        ["fb", "nhs", "council"].into_iter().map(|id| (id, answering(id))).collect();
    let hung = FakePartner::hung("hung");
    let mut partners = answering.clone();
    if with_hung {
        partners.push(("hung", hung.clone()));
        let rows = std::env::var("BENCH_HUNG_ROWS").ok().and_then(|v| v.parse().ok());
        queue(&store, "hung", rows.unwrap_or(PER_PARTNER)).await;
    }
    for (id, _) in &answering {
        queue(&store, id, PER_PARTNER).await;
    }
    // The breaker as configured by default (5 failures / 30 s): the hung partner's sends only
    // fail at `send_timeout` (20 s), after the run, so its lane stays full throughout.
    let host = Host::new(orchestrator(&partners, 4, 5));
    let settings = DispatchSettings {
        status_poll_base: Duration::from_secs(3600),
        status_poll_cap: Duration::from_secs(3600),
        ..DispatchSettings::default()
    };
    let started = Instant::now();
    let dispatcher = Dispatcher::start(store.clone(), host.clone(), settings);
    let total = 3 * PER_PARTNER;
    let done = eventually(Duration::from_secs(300), || host.delivered() == total).await;
    let elapsed = started.elapsed();
    assert!(done, "delivered {} of {total}", host.delivered());
    let rate = total as f64 / elapsed.as_secs_f64();
    eprintln!(
        "BENCH send, hung partner {}: {total} delivered in {:.2} s = {rate:.0}/s; hung partner: {} sends in flight, {} made",
        if with_hung { "present" } else { "absent " },
        elapsed.as_secs_f64(),
        hung.sends.now(),
        hung.sends.total(),
    );
    dispatcher.shutdown(Duration::from_millis(10)).await;
    rate
}

async fn hung_partner_among_four() {
    let (mut absent, mut present) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        absent.push(send_rate(false).await);
        present.push(send_rate(true).await);
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratios: Vec<f64> = absent.iter().zip(&present).map(|(a, p)| p / a).collect();
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    eprintln!(
        "BENCH send throughput to the three, hung present ÷ absent: median of rounds {:.3}, of medians {:.3} ({:.0}/s ÷ {:.0}/s); per round {}",
        median(&ratios),
        median(&present) / median(&absent),
        median(&present),
        median(&absent),
        shown.join(", ")
    );
}

async fn polling_five_thousand() {
    let (store, _dir) = sqlite().await;
    let ids = ["fb", "nhs", "council", "housing"];
    let partners: Vec<(&str, Arc<FakePartner>)> =
        ids.iter().map(|id| (*id, answering(id))).collect();
    for id in ids {
        queue(&store, id, OPEN_PER_PARTNER).await;
    }
    let open = deliver_all(&store).await;
    let host = Host::new(orchestrator(&partners, 4, 5));
    let base = Duration::from_secs(60);
    let settings = DispatchSettings {
        status_poll_base: base,
        status_poll_cap: Duration::from_secs(6 * 3600),
        ..DispatchSettings::default()
    };
    let polled = || partners.iter().map(|(_, p)| p.distinct_polled()).sum::<usize>();
    let dispatcher = Dispatcher::start(store.clone(), host.clone(), settings);
    // The first round starts half an interval in (30 s); time from the first poll.
    assert!(eventually(Duration::from_secs(60), || polled() > 0).await, "no poll started");
    let started = Instant::now();
    let all = eventually(Duration::from_secs(120), || polled() == open).await;
    let elapsed = started.elapsed();
    assert!(all, "polled {} of {open}", polled());
    let most = partners.iter().map(|(_, p)| p.polls.max()).max().unwrap_or(0);
    eprintln!(
        "BENCH poll: {open} open referrals (4 partners) all polled in {:.2} s from the first poll, {:.0} polls/s; poll interval {} s ({:.1}% of it); at most {most} polls in flight to one partner",
        elapsed.as_secs_f64(),
        open as f64 / elapsed.as_secs_f64(),
        base.as_secs(),
        100.0 * elapsed.as_secs_f64() / base.as_secs_f64(),
    );
    dispatcher.shutdown(Duration::from_millis(10)).await;
}
