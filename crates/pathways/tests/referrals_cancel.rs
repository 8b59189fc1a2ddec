//! Cancelling referrals end to end: the real binary, the real plugins and their simulators,
//! over real HTTP.

mod referrals_util;

use std::time::{Duration, Instant};

use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage, COORDINATOR, OTHER_ORG, TOKEN};
use serde_json::Value;

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts")
}

fn sqlite(dir: &tempfile::TempDir) -> Storage {
    Storage::Sqlite(dir.path().join("data/pathways.db"))
}

async fn cancel(daemon: &Daemon, id: &str, token: &str, body: &str) -> (u16, Value) {
    let path = format!("/v1/referrals/{id}/cancel");
    daemon.request(reqwest::Method::POST, &path, token, &[], Some(body.into())).await
}

/// Waits until the referral's cancel is no longer pending; returns the referral.
async fn cancel_settled(daemon: &Daemon, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, referral) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
        assert_eq!(status, 200, "{referral}");
        if referral["cancellation"]["state"] != "pending" {
            return referral;
        }
        assert!(
            Instant::now() < deadline,
            "cancel still pending: {referral:#}\n{}",
            daemon.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `referral.cancel` entries about referral `id`: who and how it ended.
async fn audit_outcomes(daemon: &Daemon, id: &str) -> Vec<(String, String)> {
    let (_, referral) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
    let case_id = referral["case_id"].as_str().unwrap();
    let path = format!("/v1/audit?case={case_id}");
    let (status, log) = daemon.get(&path, referrals_util::ADMIN).await;
    assert_eq!(status, 200, "{log}");
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "referral.cancel" && e["referral_id"] == id)
        .map(|e| {
            (e["key_id"].as_str().unwrap().to_string(), e["outcome"].as_str().unwrap().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_the_send_is_queued_withdraws_it_and_nothing_reaches_the_partner() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let storage = sqlite(&dir);
    let off = [("PATHWAYS__DISPATCH__ENABLED", "false")];
    let daemon = Daemon::start_with_env(dir.path(), &storage, &sandbox, 5000, &off).await;
    let id = daemon.one_food_referral("CNL-Q").await;
    let body = r#"{"reason": "no_longer_needed", "note": "Her daughter is bringing food"}"#;
    let (status, referral) = cancel(&daemon, &id, TOKEN, body).await;
    assert_eq!(status, 200, "{referral}");
    assert_eq!(referral["state"], "cancelled");
    assert_eq!(referral["dispatch"]["state"], "withdrawn");
    assert_eq!(referral["cancellation"]["state"], "withdrawn");
    assert_eq!(referral["cancellation"]["reason"], "no_longer_needed");
    assert_eq!(referral["cancellation"]["requested_by"], "pf");
    assert_eq!(referral["cancellation"]["note"], "Her daughter is bringing food");
    // Again: the same answer, nothing new.
    let (status, again) = cancel(&daemon, &id, TOKEN, r#"{"reason": "other"}"#).await;
    assert_eq!((status, &again["cancellation"]["reason"]), (200, &Value::from("no_longer_needed")));
    drop(daemon);
    // A dispatching daemon on the same store has nothing to send.
    let daemon = Daemon::start(dir.path(), &storage, &sandbox, 5000).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sandbox.foodbank_stats().total_posts, 0, "the partner never received it");
    let (_, referral) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
    assert_eq!(referral["state"], "cancelled");
    assert_eq!(
        audit_outcomes(&daemon, &id).await,
        [("pf".to_string(), "withdrawn".to_string()), ("pf".to_string(), "replayed".to_string())]
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owners_pathfinder_cancels_and_bad_requests_are_named() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let off = [("PATHWAYS__DISPATCH__ENABLED", "false")];
    let daemon = Daemon::start_with_env(dir.path(), &sqlite(&dir), &sandbox, 5000, &off).await;
    let id = daemon.one_food_referral("CNL-E").await;
    let (status, error) = cancel(&daemon, &id, OTHER_ORG, r#"{"reason": "other"}"#).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("not_found")), "{error}");
    let (status, error) = cancel(&daemon, &id, COORDINATOR, r#"{"reason": "other"}"#).await;
    assert_eq!(status, 403, "{error}");
    let (status, error) = cancel(&daemon, &id, TOKEN, r#"{"reason": "bored"}"#).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_request")));
    assert!(error["error"]["message"].as_str().unwrap().contains("bored"), "{error}");
    let (status, error) = cancel(&daemon, &id, TOKEN, r#"{"reason": "other", "why": 1}"#).await;
    assert_eq!(status, 400, "{error}");
    let long = format!(r#"{{"reason": "other", "note": "{}"}}"#, "x".repeat(1001));
    let (status, error) = cancel(&daemon, &id, TOKEN, &long).await;
    assert!(status == 400 && error["error"]["message"].as_str().unwrap().contains("note"));
    let (status, _) = cancel(&daemon, "ref_missing", TOKEN, r#"{"reason": "other"}"#).await;
    assert_eq!(status, 404);
    // Still live after all that: nothing was recorded.
    let (_, referral) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
    assert_eq!((referral["state"].as_str(), referral.get("cancellation")), (Some("draft"), None));
    // Cancelled, then nothing to cancel any more.
    let (status, _) = cancel(&daemon, &id, TOKEN, r#"{"reason": "sent_in_error"}"#).await;
    assert_eq!(status, 200);
    let second = daemon.one_food_referral("CNL-E2").await;
    let (status, _) = cancel(&daemon, &second, TOKEN, r#"{"reason": "other"}"#).await;
    assert_eq!(status, 200);
    sandbox.shutdown().await;
}
