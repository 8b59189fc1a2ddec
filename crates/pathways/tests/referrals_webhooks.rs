//! Partner callbacks end to end: Standard Webhooks signatures over real HTTP against the real
//! binary. Each kind of bad callback is refused and changes nothing; a good one moves the
//! referral's state and is kept in its history.

mod referrals_util;

use std::time::Duration;

use pathways_daemon::{WebhookRefusal, WebhookSecret};
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_store::{AuditAction, AuditOutcome};
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
    let body = event_body("referral.status_changed", reference, state);
    post_signed(daemon, route_partner, secret, id, &timestamp.to_string(), &body, None).await
}

/// An event of type `kind` about the referral with `reference`.
fn event_body(kind: &str, reference: &str, state: &str) -> String {
    serde_json::json!({
        "type": kind,
        "data": {"partner_reference": reference, "state": state, "reason": null,
                 "note": "collected", "occurred_at": chrono::Utc::now().to_rfc3339()}
    })
    .to_string()
}

/// Posts `body` signed with `secret`, without the header `leave_out` if one is named.
async fn post_signed(
    daemon: &Daemon,
    route_partner: &str,
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &str,
    leave_out: Option<&str>,
) -> (u16, Value) {
    let signature = WebhookSecret::parse(secret).unwrap().sign(id, timestamp, body.as_bytes());
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/partners/{route_partner}/events", daemon.base))
        .header("content-type", "application/json");
    for (name, value) in
        [("webhook-id", id), ("webhook-timestamp", timestamp), ("webhook-signature", &signature)]
    {
        if leave_out != Some(name) {
            request = request.header(name, value);
        }
    }
    let r = request.body(body.to_string()).send().await.expect("sent");
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

/// A callback to send and what should come of it: (partner, secret, webhook-id, timestamp,
/// body, header left out, the refusal or None for accepted).
type Call<'a> =
    (&'a str, &'a str, &'a str, &'a str, &'a str, Option<&'a str>, Option<WebhookRefusal>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refused_callback_is_audited_under_its_partner_without_personal_data() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/pathways.db");
    let daemon = Daemon::start(dir.path(), &Storage::Sqlite(db.clone()), &sandbox, 5000).await;
    let id = daemon.one_food_referral("HOOK-2").await;
    let referral = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    let reference = referral[0]["partner_reference"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().timestamp().to_string();
    let stale = (chrono::Utc::now().timestamp() - 600).to_string();
    let food = "foodbank-test";
    let completed = event_body("referral.status_changed", &reference, "completed");
    let draft = event_body("referral.status_changed", &reference, "draft");
    let created = event_body("referral.created", &reference, "completed");

    // Every refusal once, then an accepted callback and its replay.
    use WebhookRefusal as R;
    let calls: [Call; 11] = [
        ("nobody", FOOD_SECRET, "evt-a", &now, &completed, None, Some(R::UnknownPartner)),
        (
            food,
            FOOD_SECRET,
            "evt-b",
            &now,
            &completed,
            Some("webhook-signature"),
            Some(R::MissingHeader),
        ),
        (food, FOOD_SECRET, "evt-c", "soon", &completed, None, Some(R::BadTimestamp)),
        (food, FOOD_SECRET, "evt-d", &stale, &completed, None, Some(R::StaleTimestamp)),
        (food, NHS_SECRET, "evt-e", &now, &completed, None, Some(R::BadSignature)),
        (food, FOOD_SECRET, "evt-f", &now, "{\"type\": 1}", None, Some(R::InvalidEvent)),
        (food, FOOD_SECRET, "evt-g", &now, &created, None, Some(R::UnsupportedEvent)),
        (food, FOOD_SECRET, "evt-h", &now, &draft, None, Some(R::InvalidState)),
        ("nhs-test", NHS_SECRET, "evt-i", &now, &completed, None, Some(R::NotPartnersReferral)),
        (food, FOOD_SECRET, "evt-j", &now, &completed, None, None),
        (food, FOOD_SECRET, "evt-j", &now, &completed, None, Some(R::Replayed)),
    ];
    let refusals: std::collections::HashSet<_> = calls.iter().filter_map(|c| c.6).collect();
    assert_eq!(refusals.len(), WebhookRefusal::ALL.len(), "each refusal is tried");
    let mut answered = Vec::new();
    for (partner, secret, event_id, at, body, leave_out, refusal) in calls {
        let (status, answer) =
            post_signed(&daemon, partner, secret, event_id, at, body, leave_out).await;
        match refusal {
            Some(refusal) => {
                let code = answer["error"]["code"].as_str();
                assert_eq!((status, code), (refusal.status().as_u16(), Some(refusal.code())));
            }
            None => assert_eq!((status, answer["status"].as_str()), (200, Some("recorded"))),
        }
        answered.push((partner, refusal, answer));
    }

    // No route reads the audit log: read it from the daemon's store file.
    let keys = referrals_util::data_keys(&daemon.dir);
    let store = pathways_store::SqliteStore::open(&db, keys).await.expect("the store opens");
    let filter = pathways_store::AuditFilter { limit: 1000, ..Default::default() };
    let log = pathways_store::Store::audit_entries(&store, &filter).await.unwrap();
    let events: Vec<_> =
        log.iter().filter(|r| r.entry.action == AuditAction::PartnerEvent).collect();
    assert_eq!(events.len(), answered.len(), "every callback is audited once");
    for (entry, (partner, refusal, answer)) in events.iter().map(|r| &r.entry).zip(&answered) {
        assert_eq!(entry.organisation, *partner);
        assert!(entry.key_id == "webhook" && entry.case_id.is_none(), "{entry:?}");
        match refusal {
            // The API's code and the log's outcome are the same refusal's, and one spelling
            // except where a 404 must not tell why.
            Some(refusal) => {
                assert_eq!(entry.outcome, refusal.outcome());
                assert_eq!(entry.referral_id, None);
                if refusal.status() != 404 {
                    assert_eq!(answer["error"]["code"].as_str(), Some(entry.outcome.as_str()));
                }
            }
            None => {
                assert_eq!(entry.outcome, AuditOutcome::Recorded);
                assert_eq!(answer["status"].as_str(), Some(entry.outcome.as_str()));
                assert_eq!(entry.referral_id.as_ref().map(|r| r.as_str()), Some(id.as_str()));
            }
        }
    }
    let text = serde_json::to_string(&log).unwrap();
    for personal in ["Test Person", "Person", "07700 900123", "07700900123", "W10 5AB", "W105AB"] {
        assert!(!text.contains(personal), "`{personal}` in the audit log: {text}");
    }
    assert!(!text.contains("1980-01-02") && !text.contains("collected"), "{text}");
    sandbox.shutdown().await;
}
