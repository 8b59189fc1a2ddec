//! Two daemons sharing one PostgreSQL dispatch referrals: each reaches the partner exactly
//! once (`FOR UPDATE SKIP LOCKED` claims). Runs when `PATHWAYS_TEST_POSTGRES_URL` is set, in a
//! fresh schema made with `psql`; otherwise it says loudly that it was skipped.

mod referrals_util;

use std::io::Write;
use std::time::Duration;

use pathways_sandbox::{Faults, Sandbox, SandboxConfig};
use referrals_util::Daemon;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_postgres_send_each_referral_exactly_once() {
    let Some(pg) = referrals_util::postgres_schema(
        "two_daemons_on_one_postgres_send_each_referral_exactly_once",
    ) else {
        return;
    };
    let storage = &pg.storage;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let a = Daemon::start(dir.path(), storage, &sandbox, 5000).await;
    let b = Daemon::start(dir.path(), storage, &sandbox, 5000).await;
    const N: usize = 16;
    let mut cases = Vec::new();
    for i in 0..N {
        let daemon = if i % 2 == 0 { &a } else { &b };
        cases.push(daemon.planned_case(&format!("PG-{i}"), "planned_partners".into()).await.0);
    }
    sandbox.set_foodbank_faults(Faults { latency_ms: 150, ..Faults::none() });
    let mut ids = Vec::new();
    for (i, case_id) in cases.iter().enumerate() {
        let daemon = if i % 2 == 0 { &a } else { &b };
        let (status, body) = daemon.refer(case_id, &format!("pg-{i}"), "{}").await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["referrals"][0]["id"].as_str().unwrap().to_string());
    }
    let settled = a.settled(&ids, Duration::from_secs(60)).await;
    assert!(settled.iter().all(|r| r["dispatch"]["state"] == "delivered"), "{settled:#?}");
    let stats = sandbox.foodbank_stats();
    assert_eq!((stats.distinct_keys, stats.vouchers_created), (N as u64, N as u64), "{stats:?}");
    assert_eq!(stats.total_posts, N as u64, "no referral was sent twice: {stats:?}");
    let by_a = a.stderr().matches("referral delivered").count();
    let by_b = b.stderr().matches("referral delivered").count();
    assert_eq!(by_a + by_b, N, "each delivery logged by exactly one daemon");
    let _ = writeln!(std::io::stderr(), "deliveries: daemon A {by_a}, daemon B {by_b}");
    drop((a, b));
    sandbox.shutdown().await;
}
