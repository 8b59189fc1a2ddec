//! The notifier against a receiver on 127.0.0.1 that checks every signature itself and with the
//! `standardwebhooks` reference crate: the events a referral's progress produces, their wire
//! format, and retries; and the signer against that crate for random keys and messages.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::sign::SigningKey;
use crate::{ClockConfig, Sandbox, SandboxConfig, WebhookConfig};

/// The receiver's secret, and the key it carries.
const SECRET: &str = "whsec_c2FuZGJveC13ZWJob29rLXRlc3Qta2V5";
const KEY: &[u8] = b"sandbox-webhook-test-key";

/// One event as the receiver saw it, its signature already checked.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    reference: String,
    state: String,
    reason: Value,
    body: Value,
    /// The path it was posted to.
    path: String,
    /// Whether the signature, content type and timestamp were right (a panic in the handler
    /// would only show as a missing event).
    valid: bool,
}

/// What the receiver saw, and the statuses it will answer with next (then 204).
#[derive(Debug, Default)]
struct Receiver {
    seen: Vec<Seen>,
    answers: VecDeque<StatusCode>,
}

async fn receive(
    State(receiver): State<Arc<Mutex<Receiver>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    };
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    // Checked here from the specification, not with the sandbox's own signing code.
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|sent| (chrono::Utc::now().timestamp() - sent).abs() <= 5);
    // And by the specification's reference library, on the headers as they arrived.
    let reference = standardwebhooks::Webhook::new(SECRET).unwrap().verify(&body, &headers);
    let valid = header("webhook-signature") == expected
        && reference.is_ok()
        && header("content-type") == "application/json"
        && fresh;
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let data = &body["data"];
    let mut receiver = receiver.lock().unwrap();
    receiver.seen.push(Seen {
        id,
        reference: data["partner_reference"].as_str().unwrap().to_string(),
        state: data["state"].as_str().unwrap().to_string(),
        reason: data["reason"].clone(),
        body: body.clone(),
        path: uri.path().to_string(),
        valid,
    });
    receiver.answers.pop_front().unwrap_or(StatusCode::NO_CONTENT)
}

/// A receiver on a free loopback port: its URL and what it sees.
async fn receiver(answers: &[StatusCode]) -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver {
        seen: Vec::new(),
        answers: answers.iter().copied().collect(),
    }));
    let app = Router::new()
        .route("/events", post(receive))
        .route("/kensington-chelsea/events", post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

fn config(url: &str, reject_rate: f64) -> SandboxConfig {
    let mut webhook = WebhookConfig::new(url, SECRET);
    webhook.retry_ms = 20;
    let mut config = SandboxConfig {
        clock: ClockConfig { step_ms: 50, reject_rate },
        ..SandboxConfig::default()
    };
    config.foodbank.webhook = Some(webhook.clone());
    // The council simulator plays every council; Kensington and Chelsea has its own endpoint.
    let kc = url.replace("/events", "/kensington-chelsea/events");
    webhook.urls_by_area.insert("E09000020".into(), kc);
    config.council.webhook = Some(webhook);
    config
}

/// Posts a food bank referral; the voucher id.
async fn voucher(sandbox: &Sandbox, key: &str) -> String {
    let body = json!({
        "foodbank": "north-kensington",
        "agency": {"organisation": "citizens-advice-kc", "reference": "CAKC-000123"},
        "client": {"full_name": "Test Person", "phone": "07700 900123"},
        "referral_reasons": ["food_insecurity"]
    });
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/evoucher/v1/referrals", sandbox.foodbank_url()))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["voucher_id"].as_str().unwrap().to_string()
}

/// The events seen for `reference` once `done` holds of them (or after three seconds).
async fn events_for(
    receiver: &Mutex<Receiver>,
    reference: &str,
    done: impl Fn(&[Seen]) -> bool,
) -> Vec<Seen> {
    let started = Instant::now();
    loop {
        let seen: Vec<Seen> = receiver
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.reference == reference)
            .cloned()
            .collect();
        if done(&seen) || started.elapsed() > Duration::from_secs(3) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The states told, in order, after checking every event was correctly signed.
fn states(seen: &[Seen]) -> Vec<&str> {
    assert!(seen.iter().all(|s| s.valid), "every event verifies: {seen:?}");
    seen.iter().map(|s| s.state.as_str()).collect()
}

#[tokio::test]
async fn an_accepted_referral_is_told_each_state_once_signed() {
    let (url, received) = receiver(&[]).await;
    let sandbox = Sandbox::start(config(&url, 0.0)).await.unwrap();
    let reference = voucher(&sandbox, "key-accepted").await;
    let seen =
        events_for(&received, &reference, |s| s.iter().any(|e| e.state == "completed")).await;
    assert_eq!(states(&seen), ["requested", "accepted", "in-progress", "completed"]);
    assert_eq!(seen[0].id, format!("evt_{reference}_requested"));
    assert!(seen.iter().all(|s| s.path == "/events"), "the food bank has one endpoint");
    let data = &seen[3].body["data"];
    assert_eq!(seen[3].body["type"], "referral.status_changed");
    assert_eq!((&data["reason"], &data["note"]), (&Value::Null, &Value::Null));
    let at = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(seen[i].body["data"]["occurred_at"].as_str().unwrap())
            .unwrap()
    };
    assert!(at(0) < at(1) && at(1) < at(2) && at(2) < at(3), "told in the order reached");

    // Several more ticks of a finished referral tell nothing new.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(events_for(&received, &reference, |_| true).await.len(), 4, "no duplicates");
    let stats = sandbox.webhook_stats()["foodbank"].clone();
    assert_eq!((stats.delivered, stats.failed_attempts, stats.given_up), (4, 0, 0));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_rejected_referral_is_told_with_its_reason() {
    let (url, received) = receiver(&[]).await;
    let sandbox = Sandbox::start(config(&url, 1.0)).await.unwrap();
    let reference = voucher(&sandbox, "key-rejected").await;
    let seen = events_for(&received, &reference, |s| s.iter().any(|e| e.state == "rejected")).await;
    assert_eq!(states(&seen), ["requested", "rejected"]);
    let reason = seen[1].reason.as_str().unwrap();
    assert!(["no_capacity", "not_eligible", "could_not_contact"].contains(&reason), "{reason}");

    // An Open311 request to a full service is declined on arrival: told once, as rejected,
    // to the endpoint of the council that holds it.
    let form = [
        ("service_code", "RBKC-BEFRIENDING"),
        ("first_name", "Test"),
        ("last_name", "Person"),
        ("phone", "07700 900123"),
        ("description", "Referral from citizens-advice-kc: loneliness."),
    ];
    let created: Value = reqwest::Client::new()
        .post(format!("{}/open311/v2/requests.json", sandbox.council_url()))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created[0]["service_request_id"].as_str().unwrap().to_string();
    let seen = events_for(&received, &id, |s| !s.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen_later = events_for(&received, &id, |_| true).await;
    assert_eq!(states(&seen), ["rejected"]);
    assert_eq!(seen[0].reason, "no_capacity");
    assert_eq!(seen[0].path, "/kensington-chelsea/events");
    assert_eq!(seen_later.len(), 1, "told once");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_refused_delivery_is_retried_with_the_same_id_then_given_up() {
    let fail = StatusCode::INTERNAL_SERVER_ERROR;
    let (url, received) = receiver(&[fail, fail]).await;
    let mut config = config(&url, 0.0);
    config.clock.step_ms = 0; // referrals stay requested: one event each.
    let sandbox = Sandbox::start(config).await.unwrap();
    let reference = voucher(&sandbox, "key-retried").await;
    let seen = events_for(&received, &reference, |s| s.len() >= 3).await;
    assert_eq!(states(&seen), ["requested", "requested", "requested"], "two 500s, then 204");
    assert!(seen.iter().all(|s| s.id == seen[0].id), "a retry keeps its webhook-id");
    tokio::time::sleep(Duration::from_millis(100)).await; // the 204 reaches the notifier
    let stats = sandbox.webhook_stats()["foodbank"].clone();
    assert_eq!((stats.delivered, stats.failed_attempts, stats.given_up), (1, 2, 0));

    // A receiver that always refuses: the event is given up after `max_attempts`.
    received.lock().unwrap().answers = [fail; 10].into_iter().collect();
    let other = voucher(&sandbox, "key-given-up").await;
    let seen = events_for(&received, &other, |s| s.len() >= 4).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(seen.len(), 4, "max_attempts is 4 by default");
    let stats = sandbox.webhook_stats()["foodbank"].clone();
    assert_eq!((stats.failed_attempts, stats.given_up), (6, 1));
    assert_eq!(events_for(&received, &other, |_| true).await.len(), 4, "not tried again");
    sandbox.shutdown().await;
}

#[test]
fn webhook_settings_are_checked_by_name() {
    let bad_secret =
        "[foodbank.webhook]\nurl = \"http://127.0.0.1:8080/e\"\nsecret = \"hunter2\"\n";
    let err = SandboxConfig::from_toml_str(bad_secret).unwrap_err().to_string();
    assert!(err.contains("foodbank.webhook.secret") && err.contains("whsec_"), "{err}");
    assert!(!err.contains("hunter2"), "never quotes the secret: {err}");
    let both = format!("[nhs.webhook]\nurl = \"http://127.0.0.1:8080/e\"\nsecret = \"{SECRET}\"\nsecret_env = \"X\"\n");
    let err = SandboxConfig::from_toml_str(&both).unwrap_err().to_string();
    assert!(err.contains("exactly one"), "{err}");
    let not_http =
        format!("[council.webhook]\nurl = \"ftp://127.0.0.1/e\"\nsecret = \"{SECRET}\"\n");
    assert!(SandboxConfig::from_toml_str(&not_http)
        .unwrap_err()
        .to_string()
        .contains("council.webhook.url"));
    let good = format!("[housing.webhook]\nurl = \"http://127.0.0.1:8080/v1/partners/x/events\"\nsecret = \"{SECRET}\"\n");
    assert!(SandboxConfig::from_toml_str(&good).unwrap().housing.webhook.is_some());
}

#[tokio::test]
async fn a_missing_secret_variable_stops_the_sandbox_from_starting() {
    let mut config = SandboxConfig::default();
    config.nhs.webhook = Some(WebhookConfig {
        secret: None,
        secret_env: Some("PATHWAYS_SANDBOX_TEST_UNSET_SECRET".into()),
        ..WebhookConfig::new("http://127.0.0.1:9/e", SECRET)
    });
    let err = Sandbox::start(config).await.unwrap_err().to_string();
    assert!(
        err.contains("PATHWAYS_SANDBOX_TEST_UNSET_SECRET") && err.contains("nhs.webhook"),
        "{err}"
    );
}

#[test]
fn the_signer_agrees_with_the_reference_crate_for_random_keys_and_messages() {
    // Fixed seed: a failure names a case that can be run again.
    let mut rng = fastrand::Rng::with_seed(11);
    let now = chrono::Utc::now().timestamp();
    for n in 0..200 {
        // 24 to 64 bytes, the specification's range for HMAC keys.
        let key: Vec<u8> = (0..rng.usize(24..=64)).map(|_| rng.u8(..)).collect();
        let secret = format!("whsec_{}", STANDARD.encode(&key));
        let id = format!(
            "evt_{}",
            (0..rng.usize(1..=32)).map(|_| rng.alphanumeric()).collect::<String>()
        );
        // JSON-like text with any Unicode now and then: the crate signs UTF-8 bodies only.
        let body: String = (0..rng.usize(0..=300))
            .map(|_| if rng.u8(..5) == 0 { rng.char(..) } else { rng.char(' '..='~') })
            .collect();
        let ours = SigningKey::from_secret(&secret).unwrap();
        let theirs = standardwebhooks::Webhook::new(&secret).unwrap();
        // The same bytes at any instant (the crate signs without reading the clock) ...
        let at = rng.i64(0..=4_000_000_000);
        assert_eq!(
            ours.sign(&id, at, body.as_bytes()),
            theirs.sign(&id, at, body.as_bytes()).unwrap(),
            "case {n}: id {id}, at {at}, body {body:?}"
        );
        // ... and the crate's verify, which reads the clock, accepts ours signed now.
        let signature = ours.sign(&id, now, body.as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", id.parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        let verdict = theirs.verify(body.as_bytes(), &headers);
        assert!(verdict.is_ok(), "case {n}: id {id}, body {body:?}: {verdict:?}");
    }
}
