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
