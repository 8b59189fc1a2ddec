//! Partner callbacks end to end: Standard Webhooks signatures over real HTTP against the real
//! binary. Each kind of bad callback is refused and changes nothing; a good one moves the
//! referral's state and is kept in its history.

mod referrals_util;

use std::time::Duration;

use pathways_daemon::WebhookSecret;
use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage, COORDINATOR, FOOD_SECRET, NHS_SECRET, TOKEN};
use serde_json::Value;

/// Posts one signed `referral.status_changed` event; returns the status and error code.
#[allow(clippy::too_many_arguments)]
async fn post_event(
    daemon: &Daemon,
    route_partner: &str,
    secret: &str,
    id: &str,
    timestamp: i64,
    reference: &str,
    state: &str,
) -> (u16, Value) {
    let body = serde_json::json!({
        "type": "referral.status_changed",
        "data": {"partner_reference": reference, "state": state, "reason": null,
                 "note": "collected", "occurred_at": chrono::Utc::now().to_rfc3339()}
    })
    .to_string();
    let ts = timestamp.to_string();
    let signature = WebhookSecret::parse(secret).unwrap().sign(id, &ts, body.as_bytes());
    let r = reqwest::Client::new()
        .post(format!("{}/v1/partners/{route_partner}/events", daemon.base))
        .header("webhook-id", id)
        .header("webhook-timestamp", ts)
        .header("webhook-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callbacks_are_refused_and_a_good_one_moves_the_referral() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    let daemon = Daemon::start(dir.path(), &storage, &sandbox, 5000).await;
    let id = daemon.one_food_referral("HOOK-1").await;
    let referral = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    let reference = referral[0]["partner_reference"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp();
    let code = |v: &Value| v["error"]["code"].as_str().map(str::to_string);

    let (status, e) =
        post_event(&daemon, "foodbank-test", NHS_SECRET, "evt-1", now, &reference, "completed")
            .await;
    assert_eq!((status, code(&e).as_deref()), (401, Some("bad_signature")), "wrong key");
    let (status, e) = post_event(
        &daemon,
        "foodbank-test",
        FOOD_SECRET,
        "evt-2",
        now - 600,
        &reference,
        "completed",
    )
    .await;
    assert_eq!((status, code(&e).as_deref()), (401, Some("stale_timestamp")));
    let (status, _) =
        post_event(&daemon, "nobody", FOOD_SECRET, "evt-3", now, &reference, "completed").await;
    assert_eq!(status, 404, "unknown partner");
    let (status, e) =
        post_event(&daemon, "nhs-test", NHS_SECRET, "evt-4", now, &reference, "completed").await;
    assert_eq!(status, 404, "the NHS partner cannot move the food bank's referral: {e}");
    let (_, unchanged) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
    assert_ne!(unchanged["state"], "completed", "no refused callback changed anything");
    // A partner acknowledging receipt (`requested`) is accepted, and tells nothing new.
    let (status, ack) =
        post_event(&daemon, "foodbank-test", FOOD_SECRET, "evt-ack", now, &reference, "requested")
            .await;
    assert_eq!((status, ack["status"].as_str()), (200, Some("unchanged")), "{ack}");
    let (status, e) =
        post_event(&daemon, "foodbank-test", FOOD_SECRET, "evt-draft", now, &reference, "draft")
            .await;
    assert_eq!((status, code(&e).as_deref()), (422, Some("invalid_state")), "only we draft");

    let (status, ok) =
        post_event(&daemon, "foodbank-test", FOOD_SECRET, "evt-5", now, &reference, "completed")
            .await;
    assert_eq!((status, ok["status"].as_str()), (200, Some("recorded")), "{ok}");
    let (_, moved) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
    assert_eq!(moved["state"], "completed", "{moved}");
    let last = moved["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["state"].as_str(), last["source"].as_str()),
        (Some("completed"), Some("partner_webhook"))
    );

    let (status, e) =
        post_event(&daemon, "foodbank-test", FOOD_SECRET, "evt-5", now, &reference, "completed")
            .await;
    assert_eq!((status, code(&e).as_deref()), (409, Some("replayed")), "a replay is refused");
    // The outcome is counted in the pathway report, for coordinators and admins only.
    let (status, _) = daemon.get("/v1/reports/pathways", TOKEN).await;
    assert_eq!(status, 403, "a pathfinder key does not read reports");
    let (status, report) = daemon.get("/v1/reports/pathways", COORDINATOR).await;
    assert_eq!(status, 200, "{report}");
    let row = &report["pathways"][0];
    assert_eq!(
        (row["partner_id"].as_str(), row["need"].as_str()),
        (Some("foodbank-test"), Some("food"))
    );
    assert_eq!((row["sent"].as_u64(), row["completed"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(row["completed_percent"].as_f64(), Some(100.0));
    let (status, _) = daemon.get("/v1/reports/pathways?from=yesterday", COORDINATOR).await;
    assert_eq!(status, 400, "a malformed range is refused");

    let log = daemon.stderr();
    assert!(!log.contains("Test Person") && !log.contains("07700"), "no personal data logged");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refused_callback_is_audited_under_its_partner_without_personal_data() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/pathways.db");
    let daemon = Daemon::start(dir.path(), &Storage::Sqlite(db.clone()), &sandbox, 5000).await;
    let id = daemon.one_food_referral("HOOK-2").await;
    let referral = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    let reference = referral[0]["partner_reference"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp();
    let food = "foodbank-test";

    let calls = [
        ("bad signature", food, NHS_SECRET, "evt-a", now, 401),
        ("stale timestamp", food, FOOD_SECRET, "evt-b", now - 600, 401),
        ("another partner's referral", "nhs-test", NHS_SECRET, "evt-c", now, 404),
        ("unknown partner", "nobody", FOOD_SECRET, "evt-d", now, 404),
        ("accepted", food, FOOD_SECRET, "evt-e", now, 200),
        ("replay", food, FOOD_SECRET, "evt-e", now, 409),
    ];
    for (what, partner, secret, event_id, at, expected) in calls {
        let (status, body) =
            post_event(&daemon, partner, secret, event_id, at, &reference, "completed").await;
        assert_eq!(status, expected, "{what}: {body}");
    }

    // No route reads the audit log: read it from the daemon's store file.
    let keys = referrals_util::data_keys(&daemon.dir);
    let store = pathways_store::SqliteStore::open(&db, keys).await.expect("the store opens");
    let filter = pathways_store::AuditFilter { limit: 1000, ..Default::default() };
    let log = pathways_store::Store::audit_entries(&store, &filter).await.unwrap();
    let events: Vec<_> = log
        .iter()
        .filter(|r| r.entry.action == pathways_store::AuditAction::PartnerEvent)
        .collect();
    let got: Vec<(&str, &str, Option<&str>)> = events
        .iter()
        .map(|r| {
            let e = &r.entry;
            (
                e.organisation.as_str(),
                e.outcome.as_str(),
                e.referral_id.as_ref().map(|r| r.as_str()),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (food, "bad_signature", None),
            (food, "stale_timestamp", None),
            ("nhs-test", "not_partners_referral", None),
            ("nobody", "unknown_partner", None),
            (food, "recorded", Some(id.as_str())),
            (food, "replayed", None),
        ]
    );
    assert!(events.iter().all(|r| r.entry.key_id == "webhook" && r.entry.case_id.is_none()));
    let text = serde_json::to_string(&log).unwrap();
    for personal in ["Test Person", "Person", "07700 900123", "07700900123", "W10 5AB", "W105AB"] {
        assert!(!text.contains(personal), "`{personal}` in the audit log: {text}");
    }
    assert!(!text.contains("1980-01-02") && !text.contains("collected"), "{text}");
    sandbox.shutdown().await;
}
