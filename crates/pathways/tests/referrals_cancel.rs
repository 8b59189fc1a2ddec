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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_referral_is_cancelled_at_the_food_bank_and_the_simulator_shows_it() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &sqlite(&dir), &sandbox, 5000).await;
    let id = daemon.one_food_referral("CNL-F").await;
    let settled = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    let voucher = settled[0]["partner_reference"].as_str().unwrap().to_string();
    let (status, referral) = cancel(&daemon, &id, TOKEN, r#"{"reason": "helped_elsewhere"}"#).await;
    assert_eq!(status, 202, "{referral}");
    assert_eq!(referral["cancellation"]["reason"], "helped_elsewhere");
    let referral = cancel_settled(&daemon, &id).await;
    assert_eq!(referral["cancellation"]["state"], "confirmed", "{referral:#}");
    assert_eq!(referral["state"], "cancelled");
    let (status, _) = sandbox.voucher_status(&voucher).expect("the voucher is known");
    assert_eq!(format!("{status:?}").to_lowercase(), "cancelled", "the food bank's own record");
    assert_eq!(sandbox.foodbank_stats().vouchers_cancelled, 1);
    assert_eq!(
        audit_outcomes(&daemon, &id).await,
        [
            ("pf".to_string(), "cancel_queued".to_string()),
            ("system:dispatch".to_string(), "cancel_confirmed".to_string())
        ]
    );
    // A later poll does not bring it back to life.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, referral) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
    assert_eq!(referral["state"], "cancelled");
    sandbox.shutdown().await;
}

/// A client with food and mental-health needs, their details shared with the planned partners.
fn two_needs_case(reference: &str) -> String {
    let mut case: Value =
        serde_json::from_str(&referrals_util::case_json(reference, "planned_partners".into()))
            .unwrap();
    case["needs"] = serde_json::json!([
        {"code": "food", "urgency": "urgent"},
        {"code": "mental_health", "urgency": "soon"}
    ]);
    case.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_narrowed_after_two_referrals_cancels_only_the_one_no_longer_covered() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &sqlite(&dir), &sandbox, 5000).await;
    let (case_id, _) = daemon.plan_case(two_needs_case("CNS-1")).await;
    let (status, body) = daemon.refer(&case_id, "cns-1", "{}").await;
    assert_eq!(status, 202, "{body}");
    let ids: Vec<String> = body["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let settled = daemon.settled(&ids, Duration::from_secs(30)).await;
    let by_partner = |p: &str| settled.iter().find(|r| r["partner_id"] == p).unwrap().clone();
    let (food, nhs) = (by_partner("foodbank-test"), by_partner("nhs-test"));
    let (food_id, nhs_id) = (food["id"].as_str().unwrap(), nhs["id"].as_str().unwrap());

    // The client now agrees to the food bank only. (An empty list is refused: "none" says it.)
    let path = format!("/v1/cases/{case_id}/consent");
    let put = reqwest::Method::PUT;
    let empty = r#"{"lawful_basis": "consent", "share_with": []}"#;
    let (status, error) = daemon.request(put.clone(), &path, TOKEN, &[], Some(empty.into())).await;
    assert_eq!(status, 400, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("share_with"), "{error}");
    // A misspelt field is refused at any depth, though plugins read the same type tolerantly.
    let typo = r#"{"lawful_basis": "consent", "share_with": ["foodbank-test"], "duty_to_refer":
        {"consent_to_refer": true, "consent_to_share_contact": true,
         "chosen_authority": "E09000020", "chosen_authorty": "E09000020"}}"#;
    let (status, error) = daemon.request(put.clone(), &path, TOKEN, &[], Some(typo.into())).await;
    assert_eq!(status, 400, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("duty_to_refer") && message.contains("unknown field `chosen_authorty`"),
        "{error}"
    );
    let body = r#"{"lawful_basis": "consent", "share_with": ["foodbank-test"]}"#;
    let (status, changed) = daemon.request(put.clone(), &path, TOKEN, &[], Some(body.into())).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["cancelled"],
        serde_json::json!([{"id": nhs_id, "partner_id": "nhs-test", "outcome": "cancel_queued"}])
    );
    assert_eq!(
        changed["case"]["case"]["consent"]["share_with"],
        serde_json::json!(["foodbank-test"])
    );
    assert_eq!(changed["case"]["case"]["consent"]["recorded_by"], "pf");
    let history = changed["case"]["consent_history"].as_array().unwrap();
    assert_eq!((history.len(), &history[0]["share_with"]), (1, &Value::from("planned_partners")));

    let nhs_now = cancel_settled(&daemon, nhs_id).await;
    assert_eq!(nhs_now["state"], "cancelled", "{nhs_now:#}");
    assert_eq!(nhs_now["cancellation"]["reason"], "consent_withdrawn");
    assert_eq!(nhs_now["cancellation"]["state"], "confirmed");
    let task = nhs_now["partner_reference"].as_str().unwrap();
    let record = sandbox.nhs_referral(task).expect("the NHS service knows it");
    assert_eq!(record.service_request_status, "revoked", "{record:?}");
    assert_eq!(format!("{:?}", record.task_status).to_lowercase(), "cancelled", "{record:?}");
    let (_, food_now) = daemon.get(&format!("/v1/referrals/{food_id}"), TOKEN).await;
    assert!(food_now.get("cancellation").is_none(), "untouched: {food_now}");
    assert!(["requested", "accepted"].contains(&food_now["state"].as_str().unwrap()));
    assert_eq!(sandbox.foodbank_stats().vouchers_cancelled, 0);

    // The audit log shows the consent change and the one cancel, by the pathfinder and by the
    // dispatcher when the NHS service confirmed it; nothing for the food bank's referral.
    assert_eq!(
        audit_outcomes(&daemon, nhs_id).await,
        [
            ("pf".to_string(), "cancel_queued".to_string()),
            ("system:dispatch".to_string(), "cancel_confirmed".to_string())
        ]
    );
    assert!(audit_outcomes(&daemon, food_id).await.is_empty());
    let (_, log) = daemon.get(&format!("/v1/audit?case={case_id}"), referrals_util::ADMIN).await;
    assert!(log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "case.consent" && e["outcome"] == "ok"));

    // Later referrals respect it: the mental-health step is refused.
    let post = reqwest::Method::POST;
    let (status, _) =
        daemon.request(post, &format!("/v1/cases/{case_id}/plan"), TOKEN, &[], None).await;
    assert_eq!(status, 201);
    let (status, refused) =
        daemon.refer(&case_id, "cns-2", r#"{"needs": ["mental_health"]}"#).await;
    assert_eq!(status, 422, "{refused}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_council_that_cannot_cancel_leaves_the_referral_cancelled_here_to_be_phoned() {
    const SHROPSHIRE: &str = "E06000051";
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[[partners]]\nid = \"shropshire-council\"\nname = \"Shropshire Council\"\nplugin = \"council\"\nareas = [\"{SHROPSHIRE}\"]\n[partners.settings]\nbase_url = \"{}\"\njurisdiction_id = \"{SHROPSHIRE}\"\n",
        sandbox.council_url()
    );
    let daemon = Daemon::start_with_config(dir.path(), &sqlite(&dir), &sandbox, &extra).await;
    let mut case: Value =
        serde_json::from_str(&referrals_util::case_json("CNL-C", "planned_partners".into()))
            .unwrap();
    case["client"]["postcode"] = "SY8 1AA".into();
    case["client"]["local_authority"] = SHROPSHIRE.into();
    case["needs"] = serde_json::json!([{"code": "fuel_utilities", "urgency": "soon"}]);
    let (case_id, plan) = daemon.plan_case(case.to_string()).await;
    let step = &plan["steps"][0];
    assert_eq!(
        (step["action"].as_str(), step["partner"]["id"].as_str()),
        (Some("refer"), Some("shropshire-council")),
        "{plan}"
    );
    let (status, body) = daemon.refer(&case_id, "cnl-c", "{}").await;
    assert_eq!(status, 202, "{body}");
    let id = body["referrals"][0]["id"].as_str().unwrap().to_string();
    daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    let (status, _) = cancel(&daemon, &id, TOKEN, r#"{"reason": "no_longer_needed"}"#).await;
    assert_eq!(status, 202);
    let referral = cancel_settled(&daemon, &id).await;
    assert_eq!(referral["cancellation"]["state"], "unsupported", "{referral:#}");
    assert!(referral["cancellation"]["last_error"].as_str().unwrap().contains("cannot withdraw"));
    assert_eq!(referral["state"], "cancelled");
    let note = referral["history"].as_array().unwrap().last().unwrap()["note"].as_str().unwrap();
    assert!(note.contains("by phone"), "{note}");
    assert_eq!(
        audit_outcomes(&daemon, &id).await,
        [
            ("pf".to_string(), "cancel_queued".to_string()),
            ("system:dispatch".to_string(), "cancel_unsupported".to_string())
        ]
    );
    sandbox.shutdown().await;
}
