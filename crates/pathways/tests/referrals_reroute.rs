//! Re-routing after a rejection, end to end: the real binary, the food bank plugin and its
//! simulator. The food bank declines the voucher (the simulator's voucher is moved to
//! `declined`, as the food bank would), the daemon's status poll records it as `rejected`, and the plan's next fallback is
//! proposed; accepting it refers the step there. With `reroute = "auto"` that happens without a
//! click, where the case's consent covers the fallback's partner.

mod referrals_util;

use std::time::{Duration, Instant};

use pathways_sandbox::{Sandbox, SandboxConfig, VoucherReason, VoucherStatus};
use referrals_util::{Daemon, Storage, TOKEN};
use serde_json::{json, Value};

fn sqlite(dir: &tempfile::TempDir) -> Storage {
    Storage::Sqlite(dir.path().join("data/pathways.db"))
}

/// A client who needs food, shared with `share_with`.
fn case(reference: &str, share_with: Value) -> String {
    referrals_util::case_json(reference, share_with)
}

/// Refers the case's one step and waits for it to be delivered; returns the referral.
async fn referred(daemon: &Daemon, case_id: &str, key: &str) -> Value {
    let (status, body) = daemon.refer(case_id, key, "{}").await;
    assert_eq!(status, 202, "{body}");
    let id = body["referrals"][0]["id"].as_str().unwrap().to_string();
    daemon.settled(&[id], Duration::from_secs(30)).await.remove(0)
}

/// Waits until `check` holds of the case's referrals (the owner's case view's `referrals`).
async fn referrals_until(
    daemon: &Daemon,
    case_id: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, view) = daemon.get(&format!("/v1/cases/{case_id}"), TOKEN).await;
        assert_eq!(status, 200, "{view}");
        let referrals = view["referrals"].as_array().unwrap().clone();
        if check(&referrals) {
            return referrals;
        }
        assert!(Instant::now() < deadline, "not reached: {referrals:#?}\n{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn reject_at_the_service(sandbox: &Sandbox, referral: &Value) {
    let voucher = referral["partner_reference"].as_str().unwrap();
    sandbox
        .set_voucher_status(voucher, VoucherStatus::Declined, Some(VoucherReason::NoCapacity))
        .expect("the simulator knows the voucher");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_is_proposed_a_fallback_that_one_action_refers() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &sqlite(&dir), &sandbox, 5000).await;
    let (case_id, plan) = daemon.plan_case(case("RR-1", "planned_partners".into())).await;
    let step = &plan["steps"][0];
    let fallback = step["fallbacks"][0].clone();
    assert!(fallback.is_object(), "the plan keeps a fallback: {plan:#}");
    let first = referred(&daemon, &case_id, "rr-1").await;
    let first_id = first["id"].as_str().unwrap().to_string();

    let (_, none) = daemon.get(&format!("/v1/cases/{case_id}/reroutes"), TOKEN).await;
    assert_eq!(none["proposals"], json!([]), "nothing refused yet");
    reject_at_the_service(&sandbox, &first);
    referrals_until(&daemon, &case_id, |r| r[0]["state"] == "rejected").await;

    let (status, reroutes) = daemon.get(&format!("/v1/cases/{case_id}/reroutes"), TOKEN).await;
    assert_eq!(status, 200, "{reroutes}");
    let proposal = &reroutes["proposals"][0];
    assert_eq!(proposal["referral_id"], first_id.as_str());
    assert_eq!(
        (proposal["state"].as_str(), proposal["reason"].as_str()),
        (Some("rejected"), Some("no_capacity"))
    );
    assert_eq!(proposal["to"]["service"], fallback["service"], "{proposal:#}");
    assert_eq!(proposal["consent_covers"], true);

    // One action: the plan chooses the fallback and the step is referred there.
    let post = reqwest::Method::POST;
    let path = format!("/v1/referrals/{first_id}/reroute");
    let (status, accepted) = daemon.request(post.clone(), &path, TOKEN, &[], None).await;
    assert_eq!(status, 202, "{accepted}");
    let second_id = accepted["referrals"][0]["id"].as_str().unwrap().to_string();
    assert_ne!(second_id, first_id);
    let second =
        daemon.settled(std::slice::from_ref(&second_id), Duration::from_secs(30)).await.remove(0);
    assert_eq!(second["dispatch"]["state"], "delivered", "{second}");
    let (_, plan) = daemon.get(&format!("/v1/cases/{case_id}/plan"), TOKEN).await;
    assert_eq!(plan["version"], 2);
    assert_eq!(plan["steps"][0]["service"], fallback["service"], "{plan:#}");
    assert!(plan["amendments"].to_string().contains("re-routed"), "{plan:#}");
    let (_, sent) = daemon.get(&format!("/v1/referrals/{second_id}"), TOKEN).await;
    assert_eq!(sent["partner_id"], fallback["partner"]["id"]);
    assert_eq!(sandbox.foodbank_stats().distinct_keys, 2, "two referrals, one per service");

    // Again: already re-routed, nothing more is sent.
    let (status, again) = daemon.request(post, &path, TOKEN, &[], None).await;
    assert_eq!((status, again["error"]["code"].as_str()), (409, Some("nothing_to_reroute")));
    let (_, after) = daemon.get(&format!("/v1/cases/{case_id}/reroutes"), TOKEN).await;
    assert_eq!(after["proposals"], json!([]));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_the_fallback_is_referred_without_a_click() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let auto = [("PATHWAYS__DISPATCH__REROUTE", "auto")];
    let daemon = Daemon::start_with_env(dir.path(), &sqlite(&dir), &sandbox, 5000, &auto).await;
    let (case_id, plan) = daemon.plan_case(case("RR-2", "planned_partners".into())).await;
    let fallback = plan["steps"][0]["fallbacks"][0].clone();
    let first = referred(&daemon, &case_id, "rr-2").await;
    reject_at_the_service(&sandbox, &first);
    let referrals = referrals_until(&daemon, &case_id, |r| r.len() == 2).await;
    let second = referrals.iter().find(|r| r["id"] != first["id"]).unwrap();
    let id = second["id"].as_str().unwrap().to_string();
    let second = daemon.settled(&[id], Duration::from_secs(30)).await.remove(0);
    assert_eq!(second["dispatch"]["state"], "delivered", "{second}");
    let (_, plan) = daemon.get(&format!("/v1/cases/{case_id}/plan"), TOKEN).await;
    assert_eq!(plan["steps"][0]["service"], fallback["service"], "{plan:#}");
    // Looking again changes nothing: still two referrals.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, view) = daemon.get(&format!("/v1/cases/{case_id}"), TOKEN).await;
    assert_eq!(view["referrals"].as_array().unwrap().len(), 2);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_a_fallback_the_consent_does_not_cover_waits_for_the_pathfinder() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    // A second food partner (the same network's API, under another id) whose services the plan
    // may keep as fallbacks; the client agreed to the first only.
    let extra = format!(
        "[[partners]]\nid = \"foodbank-two\"\nname = \"Food bank two\"\nplugin = \"foodbank\"\nareas = [\"E09000020\"]\n[partners.settings]\nbase_url = \"{}\"\n",
        sandbox.foodbank_url()
    );
    let auto = [("PATHWAYS__DISPATCH__REROUTE", "auto")];
    let daemon = Daemon::start_with(dir.path(), &sqlite(&dir), &sandbox, &auto, &extra).await;
    let (case_id, plan) = daemon.plan_case(case("RR-3", json!(["foodbank-test"]))).await;
    let step = &plan["steps"][0];
    assert_eq!(step["partner"]["id"], "foodbank-test", "{plan:#}");
    let fallbacks = step["fallbacks"].as_array().cloned().unwrap_or_default();
    let Some(first) = fallbacks.first() else { panic!("no fallback: {plan:#}") };
    assert_eq!(
        first["partner"]["id"], "foodbank-two",
        "the same services under the second partner rank next: {plan:#}"
    );
    let referral = referred(&daemon, &case_id, "rr-3").await;
    reject_at_the_service(&sandbox, &referral);
    referrals_until(&daemon, &case_id, |r| r[0]["state"] == "rejected").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, view) = daemon.get(&format!("/v1/cases/{case_id}"), TOKEN).await;
    assert_eq!(view["referrals"].as_array().unwrap().len(), 1, "nothing sent without consent");
    let (_, reroutes) = daemon.get(&format!("/v1/cases/{case_id}/reroutes"), TOKEN).await;
    assert_eq!(reroutes["proposals"][0]["consent_covers"], false, "{reroutes:#}");
    assert!(daemon.stderr().contains("re-route proposed, not made"));
    sandbox.shutdown().await;
}
