//! Referrals end to end: the real binary, the real food bank plugin and its simulator, over
//! real HTTP. Every accepted referral reaches the partner exactly once (the simulator counts
//! distinct idempotency keys), through faults and a SIGKILL mid-dispatch.

mod referrals_util;

use std::time::Duration;

use pathways_sandbox::{Faults, Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage, COORDINATOR, OTHER_ORG, TOKEN};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts")
}

fn sqlite(dir: &tempfile::TempDir) -> Storage {
    Storage::Sqlite(dir.path().join("data/pathways.db"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_is_sent_once_and_the_idempotency_key_rules_hold() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &sqlite(&dir), &sandbox, 5000).await;
    let (case_id, _) = daemon.planned_case("REF-1", "planned_partners".into()).await;
    let path = format!("/v1/cases/{case_id}/referrals");
    let post = reqwest::Method::POST;

    let (status, error) = daemon.request(post.clone(), &path, TOKEN, &[], Some("{}".into())).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("missing_idempotency_key")));
    let (status, first) = daemon.refer(&case_id, "k-1", "{}").await;
    assert_eq!(status, 202, "{first}");
    let (status, again) = daemon.refer(&case_id, "k-1", "{ }").await;
    assert_eq!((status, &again), (202, &first), "a repeat gets the first response");
    let (status, error) = daemon.refer(&case_id, "k-1", r#"{"steps": [1]}"#).await;
    assert_eq!((status, error["error"]["code"].as_str()), (422, Some("idempotency_key_reused")));
    let (status, error) = daemon
        .request(post, &path, OTHER_ORG, &[("idempotency-key", "k-9")], Some("{}".into()))
        .await;
    assert_eq!(status, 404, "another organisation cannot refer this case: {error}");

    let id = first["referrals"][0]["id"].as_str().unwrap().to_string();
    let settled = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    let referral = &settled[0];
    // Delivered makes it `requested`; the status poll may already have seen the voucher issued.
    assert!(["requested", "accepted"].contains(&referral["state"].as_str().unwrap()), "{referral}");
    assert_eq!(referral["dispatch"]["state"], "delivered");
    assert!(referral["partner_reference"].is_string());
    assert_eq!(referral["needs_chasing"], false);
    let states: Vec<&str> = referral["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(&states[..2], ["draft", "requested"]);
    assert!(referral.get("referral").is_none() && !referral.to_string().contains("Test Person"));

    let (status, seen) = daemon.get(&format!("/v1/referrals/{id}"), COORDINATOR).await;
    assert_eq!((status, &seen["id"]), (200, &referral["id"]), "a coordinator follows it");
    let (status, _) = daemon.get(&format!("/v1/referrals/{id}"), OTHER_ORG).await;
    assert_eq!(status, 404, "another organisation does not see it");
    let stats = sandbox.foodbank_stats();
    assert_eq!((stats.distinct_keys, stats.vouchers_created), (1, 1), "{stats:?}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_the_consent_does_not_cover_is_refused_and_nothing_is_sent() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &sqlite(&dir), &sandbox, 5000).await;
    let (case_id, plan) = daemon.planned_case("REF-2", serde_json::json!(["nhs-test"])).await;
    assert_eq!(plan["steps"][0]["partner"]["id"], "foodbank-test", "{plan}");
    let (status, error) = daemon.refer(&case_id, "k-2", "{}").await;
    assert_eq!(status, 422, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("step 1") && message.contains("food"), "{message}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sandbox.foodbank_stats().total_posts, 0, "nothing was written, nothing sent");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_faults_end_delivered_or_failed_with_a_reason_never_duplicated() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &sqlite(&dir), &sandbox, 5000).await;
    let mut cases = Vec::new();
    for i in 0..6 {
        cases.push(daemon.planned_case(&format!("FLT-{i}"), "planned_partners".into()).await.0);
    }
    // Down for a while: every send fails; then flaky: 503s, 429 with Retry-After, hangs (cut
    // by the send timeout), malformed bodies.
    sandbox.set_foodbank_faults(Faults { error_rate: 1.0, ..Faults::none() });
    let mut ids = Vec::new();
    for (i, case_id) in cases.iter().enumerate() {
        let (status, body) = daemon.refer(case_id, &format!("flt-{i}"), "{}").await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["referrals"][0]["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Then hanging: every send is cut by the send timeout (2.5 s here) and retried.
    sandbox.set_foodbank_faults(Faults { hang_rate: 1.0, ..Faults::none() });
    tokio::time::sleep(Duration::from_millis(3000)).await;
    sandbox.set_foodbank_faults(Faults {
        error_rate: 0.3,
        rate_limited_rate: 0.2,
        retry_after_s: 1,
        hang_rate: 0.1,
        malformed_rate: 0.2,
        ..Faults::none()
    });
    let settled = daemon.settled(&ids, Duration::from_secs(60)).await;
    for referral in &settled {
        match referral["dispatch"]["state"].as_str() {
            Some("delivered") => assert_ne!(referral["state"], "failed", "{referral}"),
            Some("failed") => {
                assert_eq!(referral["state"], "failed", "{referral}");
                assert!(referral["dispatch"]["last_error"].is_string(), "{referral}");
            }
            other => panic!("unexpected dispatch state {other:?}: {referral}"),
        }
    }
    let delivered = settled.iter().filter(|r| r["dispatch"]["state"] == "delivered").count();
    assert!(delivered >= 4, "most came through once the partner was back: {settled:#?}");
    let stats = sandbox.foodbank_stats();
    assert_eq!(stats.distinct_keys, 6, "{stats:?}");
    assert!(stats.vouchers_created <= 6, "never a second voucher for one referral: {stats:?}");
    assert!(stats.total_posts > 6, "retries happened: {stats:?}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_down_past_the_age_budget_fails_the_referral_with_the_reason() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    // Attempts to spare (the test config allows 10), but only four seconds to deliver in; the
    // simulator's 503s ask for two seconds' wait each (Retry-After).
    let env = [("PATHWAYS__DISPATCH__MAX_AGE_SECS", "4")];
    let daemon = Daemon::start_with_env(dir.path(), &sqlite(&dir), &sandbox, 5000, &env).await;
    let (case_id, _) = daemon.planned_case("AGE-1", "planned_partners".into()).await;
    sandbox.set_foodbank_faults(Faults { error_rate: 1.0, ..Faults::none() });
    let (status, body) = daemon.refer(&case_id, "age-1", "{}").await;
    assert_eq!(status, 202, "{body}");
    let id = body["referrals"][0]["id"].as_str().unwrap().to_string();
    let settled = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    let referral = &settled[0];
    assert_eq!(
        (&referral["state"], &referral["dispatch"]["state"]),
        (&"failed".into(), &"failed".into()),
        "{referral}"
    );
    let attempts = referral["dispatch"]["attempts"].as_u64().unwrap();
    assert!((2..10).contains(&attempts), "retried, then stopped by age, not attempts: {referral}");
    let reason = referral["dispatch"]["last_error"].as_str().unwrap();
    assert!(reason.contains("within 4 s"), "{reason}");
    let posts = sandbox.foodbank_stats().total_posts;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sandbox.foodbank_stats().total_posts, posts, "no attempt after giving up");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_killed_mid_dispatch_neither_loses_nor_duplicates_a_referral() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite(&dir);
    let mut daemon = Daemon::start(dir.path(), &storage, &sandbox, 1500).await;
    let mut cases = Vec::new();
    for i in 0..8 {
        cases.push(daemon.planned_case(&format!("CRASH-{i}"), "planned_partners".into()).await.0);
    }
    sandbox.set_foodbank_faults(Faults { latency_ms: 300, ..Faults::none() });
    let mut ids = Vec::new();
    for (i, case_id) in cases.iter().enumerate() {
        let (status, body) = daemon.refer(case_id, &format!("crash-{i}"), "{}").await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["referrals"][0]["id"].as_str().unwrap().to_string());
    }
    // Sends are in flight (300 ms each at the partner): kill without warning.
    daemon.kill();
    let before = sandbox.foodbank_stats();
    // Mid-dispatch: some sends had not been answered (each takes 300 ms at the partner), so
    // not every voucher existed yet, whether or not every POST had already arrived.
    assert!(before.vouchers_created < 8, "the kill came mid-dispatch: {before:?}");
    let daemon = Daemon::start(dir.path(), &storage, &sandbox, 1500).await;
    let settled = daemon.settled(&ids, Duration::from_secs(60)).await;
    assert!(settled.iter().all(|r| r["dispatch"]["state"] == "delivered"), "{settled:#?}");
    let stats = sandbox.foodbank_stats();
    assert_eq!(stats.distinct_keys, 8, "every accepted referral reached the partner: {stats:?}");
    assert_eq!(stats.vouchers_created, 8, "and exactly once: {stats:?}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_sqlite_file_is_refused_and_a_restart_takes_back_leases_at_once(
) {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite(&dir);
    // A lease of ten minutes: waiting it out would settle nothing within this test.
    let mut daemon = Daemon::start(dir.path(), &storage, &sandbox, 600_000).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pathways"))
        .args(["serve", "--config"])
        .arg(&daemon.config)
        .env_remove("PATHWAYS_CONFIG")
        .env("PATHWAYS_TEST_FOOD_WHSEC", referrals_util::FOOD_SECRET)
        .env("PATHWAYS_TEST_NHS_WHSEC", referrals_util::NHS_SECRET)
        .output()
        .expect("pathways runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another `pathways serve` is using"), "{stderr}");

    let (case_id, _) = daemon.planned_case("LEASE-1", "planned_partners".into()).await;
    // The partner hangs: the send is in flight, under its lease, when the daemon is killed.
    sandbox.set_foodbank_faults(Faults { hang_rate: 1.0, ..Faults::none() });
    let (status, body) = daemon.refer(&case_id, "lease-1", "{}").await;
    assert_eq!(status, 202, "{body}");
    let id = body["referrals"][0]["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sandbox.foodbank_stats().total_posts == 0 {
        assert!(std::time::Instant::now() < deadline, "the send never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.kill();
    sandbox.set_foodbank_faults(Faults::none());
    let daemon = Daemon::start(dir.path(), &storage, &sandbox, 600_000).await;
    let settled = daemon.settled(&[id], Duration::from_secs(30)).await;
    assert_eq!(settled[0]["dispatch"]["state"], "delivered", "{settled:#?}");
    assert!(daemon.stderr().contains("took back the leases"), "{}", daemon.stderr());
    assert_eq!(sandbox.foodbank_stats().vouchers_created, 1, "once, by its idempotency key");
    sandbox.shutdown().await;
}
