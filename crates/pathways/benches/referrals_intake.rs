//! Referrals accepted per second through the real API, durable (SQLite WAL, `synchronous =
//! FULL`): many clients post `POST /v1/cases/{id}/referrals` at once, each a new case and key,
//! first with one commit per write (`storage.commit_batch = 1`), then with group commit (the
//! default), in one run. A load script, not a test: run with
//! `cargo bench -p pathways --bench referrals_intake`. Results: docs/BENCHMARKS.md.

#[path = "../tests/referrals_util/mod.rs"]
mod referrals_util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage};

const CASES: usize = 2000;
const CLIENTS: usize = 32;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rates = Vec::new();
    for (label, batch) in [("one commit per write", "1"), ("group commit", "128")] {
        rates.push(runtime.block_on(referrals_accepted_per_second(label, batch)));
    }
    eprintln!("BENCH group commit ÷ one commit per write: {:.2}", rates[1] / rates[0]);
}

async fn referrals_accepted_per_second(label: &str, commit_batch: &str) -> f64 {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    // Intake only: this daemon does not send, so sending does not compete for the writer.
    let env = [
        ("PATHWAYS__DISPATCH__ENABLED", "false"),
        ("PATHWAYS__STORAGE__COMMIT_BATCH", commit_batch),
    ];
    let daemon = Arc::new(Daemon::start_with_env(dir.path(), &storage, &sandbox, 5000, &env).await);
    // Planned cases to refer, made 8 at a time (not measured).
    let mut cases = Vec::new();
    for chunk in (0..CASES).collect::<Vec<_>>().chunks(8) {
        let made = chunk.iter().map(|i| {
            let daemon = daemon.clone();
            async move { daemon.planned_case(&format!("B-{i}"), "planned_partners".into()).await.0 }
        });
        cases.extend(futures::future::join_all(made).await);
    }
    let cases = Arc::new(cases);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pid = daemon.child.id();
    let cpu_before = cpu_seconds(pid);
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
    let cpu = cpu_seconds(pid) - cpu_before;
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    let rate = CASES as f64 / elapsed.as_secs_f64();
    eprintln!(
        "BENCH referrals accepted, {label}: {CASES} in {:.2} s = {rate:.0}/s with {CLIENTS} clients; latency p50 {:?} p99 {:?}; daemon CPU {:.0} µs per referral",
        elapsed.as_secs_f64(),
        p(0.5),
        p(0.99),
        cpu * 1e6 / CASES as f64,
    );
    sandbox.shutdown().await;
    rate
}

/// User + system CPU time the process has used, from `/proc/PID/stat` (Linux), in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which ends with the last `)`): utime is the 12th, stime
    // the 13th, in clock ticks.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // USER_HZ is 100 on every Linux this runs on.
    let hz = 100.0;
    (ticks(11) + ticks(12)) / hz
}
