//! Outcomes that matter to the client, end to end: ONS4 wellbeing at intake, a follow-up with
//! the client's own account of their needs, and the outcomes report by pathway with small
//! groups suppressed.

mod referrals_util;

use std::time::Duration;

use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage, COORDINATOR, TOKEN};
use serde_json::{json, Value};

/// A food case whose client answered the ONS4 questions at intake.
fn case(reference: &str, anxiety: u8) -> String {
    let mut case: Value =
        serde_json::from_str(&referrals_util::case_json(reference, "planned_partners".into()))
            .unwrap();
    case["wellbeing"] =
        json!({"life_satisfaction": 3, "worthwhile": 4, "happiness": 3, "anxiety": anxiety});
    case.to_string()
}

async fn follow_up(daemon: &Daemon, case_id: &str, body: Value) -> (u16, Value) {
    let path = format!("/v1/cases/{case_id}/follow-ups");
    daemon.request(reqwest::Method::POST, &path, TOKEN, &[], Some(body.to_string())).await
}

async fn report(daemon: &Daemon) -> Value {
    let (status, report) = daemon.get("/v1/reports/outcomes", COORDINATOR).await;
    assert_eq!(status, 200, "{report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wellbeing_change_and_needs_met_are_reported_by_pathway_with_small_groups_suppressed() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    let daemon = Daemon::start(dir.path(), &storage, &sandbox, 5000).await;

    // Bad answers are named.
    let post = reqwest::Method::POST;
    let (status, error) =
        daemon.request(post.clone(), "/v1/cases", TOKEN, &[], Some(case("OUT-X", 11))).await;
    assert_eq!(status, 400, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("wellbeing.anxiety"), "{error}");

    let mut cases = Vec::new();
    for i in 0..5 {
        let (case_id, _) = daemon.plan_case(case(&format!("OUT-{i}"), 8)).await;
        let (status, body) = daemon.refer(&case_id, &format!("out-{i}"), "{}").await;
        assert_eq!(status, 202, "{body}");
        let id = body["referrals"][0]["id"].as_str().unwrap().to_string();
        daemon.settled(&[id], Duration::from_secs(30)).await;
        cases.push(case_id);
    }
    // Four followed up: too few to show.
    for case_id in &cases[..4] {
        let body = json!({
            "wellbeing": {"life_satisfaction": 6, "worthwhile": 6, "happiness": 5, "anxiety": 4},
            "needs": [{"need_id": "n1", "met": "met"}]
        });
        let (status, recorded) = follow_up(&daemon, case_id, body).await;
        assert_eq!(status, 201, "{recorded}");
        assert_eq!(recorded["recorded_by"], "pf");
    }
    let four = report(&daemon).await;
    let row = &four["pathways"][0];
    assert_eq!(
        (row["partner_id"].as_str(), row["need"].as_str()),
        (Some("foodbank-test"), Some("food"))
    );
    assert_eq!((row["cases"].as_u64(), row["suppressed"].as_bool()), (Some(4), Some(true)));
    assert!(row.get("wellbeing_change").is_none() && row.get("needs_met").is_none(), "{row}");

    // The fifth: partly met, and no wellbeing answers this time.
    let (status, _) =
        follow_up(&daemon, &cases[4], json!({"needs": [{"need_id": "n1", "met": "partly"}]})).await;
    assert_eq!(status, 201);
    let five = report(&daemon).await;
    let row = &five["pathways"][0];
    assert_eq!((row["cases"].as_u64(), row["suppressed"].as_bool()), (Some(5), Some(false)));
    assert_eq!(
        row["needs_met"],
        json!({"met": 4, "partly": 1, "not_met": 0, "no_longer_needed": 0})
    );
    assert!(
        row.get("wellbeing_change").is_none(),
        "only four answered both times: too few to show: {row}"
    );

    // Bad follow-ups are named and recorded nowhere.
    // Out of range is a malformed body (400); well-formed but not for this case is 422.
    for (body, needle, expected) in [
        (json!({}), "wellbeing", 422),
        (json!({"needs": [{"need_id": "n9", "met": "met"}]}), "n9", 422),
        (
            json!({"needs": [{"need_id": "n1", "met": "met"}, {"need_id": "n1", "met": "partly"}]}),
            "twice",
            422,
        ),
        (
            json!({"wellbeing": {"life_satisfaction": 12, "worthwhile": 1, "happiness": 1, "anxiety": 1}}),
            "life_satisfaction",
            400,
        ),
    ] {
        let (status, error) = follow_up(&daemon, &cases[0], body).await;
        assert_eq!(status, expected, "{error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(needle), "{error}");
    }
    let (status, _) = daemon.get("/v1/reports/outcomes", TOKEN).await;
    assert_eq!(status, 403, "a pathfinder does not read the reports");
    sandbox.shutdown().await;
}

/// Moves every referral of the SQLite database `db` `days` into the past, as if that long had
/// passed since they last changed.
fn backdate_referrals(db: &std::path::Path, days: i64) {
    let conn = rusqlite::Connection::open(db).expect("the daemon's database opens");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let micros = days * 86_400 * 1_000_000;
    conn.execute("UPDATE referrals SET state_changed_at = state_changed_at - ?1", [micros])
        .expect("backdated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_due_a_follow_up_on_the_schedule_their_coordinators_set() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/pathways.db");
    let storage = Storage::Sqlite(db.clone());
    let daemon = Daemon::start(dir.path(), &storage, &sandbox, 5000).await;
    let put = |token: &'static str, body: Value| {
        let daemon = &daemon;
        async move {
            daemon
                .request(
                    reqwest::Method::PUT,
                    "/v1/follow-ups/schedule",
                    token,
                    &[],
                    Some(body.to_string()),
                )
                .await
        }
    };

    // Until a coordinator sets one: 8 weeks, for the pathfinders to read too.
    let (status, schedule) = daemon.get("/v1/follow-ups/schedule", TOKEN).await;
    assert_eq!(status, 200, "{schedule}");
    assert_eq!(
        (schedule["after_days"].as_u64(), schedule["default"].as_bool()),
        (Some(56), Some(true))
    );

    let (case_id, _) = daemon.plan_case(case("DUE-1", 7)).await;
    let (status, body) = daemon.refer(&case_id, "due-1", "{}").await;
    assert_eq!(status, 202, "{body}");
    let id = body["referrals"][0]["id"].as_str().unwrap().to_string();
    let settled = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    // The client collects the food: the voucher is redeemed, and the referral completes.
    let voucher = settled[0]["partner_reference"].as_str().expect("a voucher").to_string();
    sandbox.set_voucher_status(&voucher, pathways_sandbox::VoucherStatus::Redeemed, None).unwrap();
    let path = format!("/v1/referrals/{id}");
    let completed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (_, referral) = daemon.get(&path, TOKEN).await;
            if referral["state"] == "completed" {
                return referral;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(completed.is_ok(), "the referral completes once the voucher is redeemed");
    let daemon = &daemon;
    let due = |token: &'static str| async move {
        let (status, list) = daemon.get("/v1/follow-ups/due", token).await;
        assert_eq!(status, 200, "{list}");
        list
    };
    assert_eq!(due(TOKEN).await["due"], json!([]), "the referral ended just now");

    // Eight weeks and a day later, the client is due.
    backdate_referrals(&db, 57);
    let list = due(TOKEN).await;
    let due_case = &list["due"][0];
    assert_eq!(due_case["case_id"], case_id.as_str(), "{list}");
    assert_eq!(due_case["reference"], "DUE-1");
    assert_eq!(due_case["href"], format!("/v1/cases/{case_id}/follow-ups"));
    let ended: chrono::DateTime<chrono::Utc> =
        due_case["last_referral_ended_at"].as_str().unwrap().parse().unwrap();
    let due_on = (ended + chrono::Duration::days(56)).date_naive().to_string();
    assert_eq!(due_case["due_on"], due_on.as_str());
    let (status, _) = daemon.get("/v1/follow-ups/due", referrals_util::OTHER_ORG).await;
    assert_eq!(status, 200);
    assert_eq!(due(referrals_util::OTHER_ORG).await["due"], json!([]), "another organisation's");

    // The coordinator sets the schedule; a pathfinder may not, and bad values are named.
    let (status, _) = put(TOKEN, json!({"after_days": 28})).await;
    assert_eq!(status, 403);
    for (body, needle) in [
        (json!({"after_days": 367}), "after_days"),
        (json!({"after_days": -1}), "after_days"),
        (json!({"after_days": 2.5}), "after_days"),
        (json!({"weeks": 8}), "weeks"),
        (json!({}), "after_days"),
    ] {
        let (status, error) = put(COORDINATOR, body.clone()).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(needle), "{error}");
    }
    let (status, set) = put(COORDINATOR, json!({"after_days": 90.0})).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!((set["after_days"].as_u64(), set["default"].as_bool()), (Some(90), Some(false)));
    assert_eq!(set["set_by"], "coord");
    assert_eq!(due(TOKEN).await["due"], json!([]), "90 days have not passed");
    assert_eq!(due(COORDINATOR).await["schedule"]["after_days"], 90);
    let (status, _) = put(COORDINATOR, json!({"after_days": 0})).await;
    assert_eq!(status, 200);
    assert_eq!(due(TOKEN).await["due"], json!([]), "no follow-ups scheduled");
    put(COORDINATOR, json!({"after_days": 56})).await;
    assert_eq!(due(TOKEN).await["due"].as_array().unwrap().len(), 1);

    // Once the follow-up is recorded, the client is no longer due.
    let body = json!({"needs": [{"need_id": "n1", "met": "met"}]});
    assert_eq!(follow_up(daemon, &case_id, body).await.0, 201);
    assert_eq!(due(TOKEN).await["due"], json!([]));
    let (status, _) = daemon.get("/v1/follow-ups/due?limit=0", TOKEN).await;
    assert_eq!(status, 400);
    sandbox.shutdown().await;
}
