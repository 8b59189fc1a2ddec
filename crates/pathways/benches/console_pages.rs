//! The console's page times with 10,000 cases in the store, and how soon a partner's answer
//! reaches the browser while a plan is made. A load script, not a test: run with
//! `cargo bench -p pathways --bench console_pages`. Results: docs/BENCHMARKS.md.
//!
//! A real `pathways serve` (SQLite, the real plugins against the sandbox), one signed-in
//! pathfinder over real HTTP on loopback; each page is asked for 400 times in turn and timed
//! from request to the last byte of the page (so the figures include loopback HTTP, an upper
//! bound of the server's own time).

#[path = "../tests/console_util/mod.rs"]
mod console_util;
#[path = "../tests/referrals_util/mod.rs"]
mod referrals_util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pathways_sandbox::{Sandbox, SandboxConfig};

const CASES: usize = 10_000;
const ROUNDS: usize = 400;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let daemon = Arc::new(console_util::start(dir.path(), &sandbox, "").await);
    let started = Instant::now();
    // The cases, 16 at a time through the API (not measured); the last one is planned.
    let mut next = 0;
    while next < CASES {
        let batch: Vec<_> = (next..(next + 16).min(CASES))
            .map(|i| {
                let daemon = daemon.clone();
                async move {
                    let body = referrals_util::case_json(
                        &format!("BENCH-{i:05}"),
                        "planned_partners".into(),
                    );
                    let (status, created) = daemon
                        .request(
                            reqwest::Method::POST,
                            "/v1/cases",
                            referrals_util::TOKEN,
                            &[],
                            Some(body),
                        )
                        .await;
                    assert_eq!(status, 201, "{created}");
                    created["id"].as_str().unwrap().to_string()
                }
            })
            .collect();
        let ids = futures::future::join_all(batch).await;
        next += ids.len();
    }
    let (case_id, _) = daemon.planned_case("BENCH-PLANNED", "planned_partners".into()).await;
    eprintln!("{CASES} cases stored in {:.1} s", started.elapsed().as_secs_f64());

    let link = console_util::add_user(
        &daemon,
        referrals_util::ORG,
        "pathfinder",
        "bench@ca.example",
        "Bench",
    );
    let client = console_util::set_password_and_sign_in(&daemon, &link, "bench@ca.example").await;
    for (label, path) in [
        ("home (worklist of 10,000 cases)", "/".to_string()),
        ("case", format!("/cases/{case_id}")),
        ("plan", format!("/cases/{case_id}/plan")),
    ] {
        // Warm up.
        for _ in 0..20 {
            let page = console_util::get(&client, &daemon, &path).await;
            assert_eq!(page.status, 200, "{label}: {}", page.body);
        }
        let mut times = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let page = console_util::get(&client, &daemon, &path).await;
            times.push(t.elapsed());
            assert_eq!(page.status, 200);
        }
        times.sort();
        let p = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
        eprintln!(
            "BENCH page {label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({ROUNDS} requests)",
            ms(p(0.5)),
            ms(p(0.99)),
            ms(times[times.len() - 1])
        );
    }

    // A partner's answer to its event: plans made live; the time from the fan-out having each
    // answer (stamped in the event by the server) to the event arriving here, on one clock; and
    // the time from pressing the button to the event, less the partner's own latency.
    let mut overheads = Vec::new();
    let mut deliveries = Vec::new();
    for round in 0..30 {
        let plan_page =
            console_util::get(&client, &daemon, &format!("/cases/{case_id}/plan")).await;
        let csrf = console_util::csrf(&plan_page.body);
        let t = Instant::now();
        let started = console_util::post(
            &client,
            &daemon,
            &format!("/cases/{case_id}/plan/start"),
            &[("csrf", &csrf)],
        )
        .await;
        assert_eq!(started.status, 202, "round {round}: {}", started.body);
        let events: serde_json::Value = serde_json::from_str(&started.body).unwrap();
        let url = format!("{}{}", daemon.base, events["events"].as_str().unwrap());
        let mut response = client.get(url).send().await.unwrap();
        let mut buffer = String::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            let at = t.elapsed();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if frame.contains("event: answer") {
                    let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                    let answer: serde_json::Value = serde_json::from_str(data).unwrap();
                    let latency = Duration::from_millis(answer["latency_ms"].as_u64().unwrap());
                    overheads.push(at.saturating_sub(latency));
                    let now_us = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_micros() as u64;
                    let observed = answer["observed_us"].as_u64().unwrap();
                    deliveries.push(Duration::from_micros(now_us.saturating_sub(observed)));
                }
                if frame.contains("event: done") {
                    break;
                }
            }
            if buffer.contains("event: done") {
                break;
            }
        }
    }
    deliveries.sort();
    let d = |q: f64| deliveries[((deliveries.len() as f64 - 1.0) * q) as usize];
    eprintln!(
        "BENCH partner answer to its event at the client: p50 {:.3} ms, p99 {:.3} ms ({} answers)",
        ms(d(0.5)),
        ms(d(0.99)),
        deliveries.len()
    );
    overheads.sort();
    let p = |q: f64| overheads[((overheads.len() as f64 - 1.0) * q) as usize];
    eprintln!(
        "BENCH button to event, less the partner's latency: p50 {:.2} ms, p99 {:.2} ms ({} answers; starting the plan: reading the case and its audit entry, the HTTP requests)",
        ms(p(0.5)),
        ms(p(0.99)),
        overheads.len()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
