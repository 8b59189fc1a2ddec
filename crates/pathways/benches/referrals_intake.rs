//! Referrals accepted per second through the real API, durable (SQLite WAL, `synchronous =
//! FULL`): many clients post `POST /v1/cases/{id}/referrals` at once, each a new case and key.
//! A load script, not a test: run with `cargo bench -p pathways --bench referrals_intake`.
//! Results: docs/BENCHMARKS.md.

#[path = "../tests/referrals_util/mod.rs"]
mod referrals_util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage};

const CASES: usize = 600;
const CLIENTS: usize = 32;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(referrals_accepted_per_second());
}

async fn referrals_accepted_per_second() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    // Intake only: this daemon does not send, so sending does not compete for the writer.
    let env = [("PATHWAYS__DISPATCH__ENABLED", "false")];
    let daemon = Arc::new(Daemon::start_with_env(dir.path(), &storage, &sandbox, 5000, &env).await);
    let mut cases = Vec::new();
    for i in 0..CASES {
        cases.push(daemon.planned_case(&format!("B-{i}"), "planned_partners".into()).await.0);
    }
    let cases = Arc::new(cases);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (daemon, cases, next) = (daemon.clone(), cases.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(case_id) = cases.get(i) else { return latencies };
                let t = Instant::now();
                let (status, body) = daemon.refer(case_id, &format!("bench-{i}"), "{}").await;
                assert_eq!(status, 202, "{body}");
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    eprintln!(
        "BENCH referrals accepted: {CASES} in {:.2} s = {:.0}/s with {CLIENTS} clients; latency p50 {:?} p99 {:?}",
        elapsed.as_secs_f64(),
        CASES as f64 / elapsed.as_secs_f64(),
        p(0.5),
        p(0.99)
    );
    sandbox.shutdown().await;
}
