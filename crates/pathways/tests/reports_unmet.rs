//! Evidence for commissioning, end to end: the sample cases (several needs each, some of
//! which no partner in the sandbox can meet) and variants that leave a step blocked are
//! planned through the real daemon and connectors; `GET /v1/reports/unmet` then counts
//! exactly what those plans left open, by need, area and reason, as JSON and as CSV.

mod referrals_util;

use std::collections::BTreeMap;

use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage, COORDINATOR, ORG, TOKEN};
use serde_json::{json, Value};

/// Kensington and Chelsea, where the sandbox's partners serve.
const KC: &str = "E09000020";

/// The repository's sample cases.
const SAMPLES: [&str; 4] =
    ["debt-food-eviction", "fleeing-abuse-housing", "older-person-care", "single-need-food"];

fn sample(name: &str) -> Value {
    let path = format!("{}/../../examples/cases/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut case: Value = serde_json::from_str(&text).unwrap();
    // Every case is this test's organisation's (the key's), in the sandbox's council area.
    case["referrer"]["organisation"] = ORG.into();
    case["client"]["local_authority"] = KC.into();
    case
}

/// (status, need, reason) → cases, as the plans themselves say.
type Expected = BTreeMap<(String, String, String), u64>;

/// What one plan leaves open, added to `expected`; and each status × need counted per case.
fn count_plan(plan: &Value, expected: &mut Expected, totals: &mut BTreeMap<(String, String), u64>) {
    let mut seen_reasons = std::collections::BTreeSet::new();
    let mut seen_needs = std::collections::BTreeSet::new();
    for step in plan["steps"].as_array().expect("steps") {
        let need = step["need"].as_str().unwrap().to_string();
        let (status, reasons): (&str, Vec<String>) = match step["action"].as_str().unwrap() {
            "unmet" => (
                "unmet",
                step["reasons"]
                    .as_array()
                    .expect("an unmet step says why as codes")
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect(),
            ),
            "blocked" => (
                "blocked",
                step["missing"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["kind"].as_str().unwrap().to_string())
                    .collect(),
            ),
            _ => continue,
        };
        assert!(!reasons.is_empty(), "every open step has a reason: {step}");
        seen_needs.insert((status.to_string(), need.clone()));
        for reason in reasons {
            seen_reasons.insert((status.to_string(), need.clone(), reason));
        }
    }
    for key in seen_reasons {
        *expected.entry(key).or_default() += 1;
    }
    for key in seen_needs {
        *totals.entry(key).or_default() += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unmet_report_counts_what_the_sample_plans_left_open_and_why() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    // Beside the food bank and the NHS: the housing authority (Duty to Refer) and the council.
    let extra = format!(
        r#"[[partners]]
id = "kc-housing"
name = "Kensington and Chelsea housing options"
plugin = "housing"
areas = ["{KC}"]
[partners.settings]
base_url = "{housing}"
authorities = ["{KC}"]
agency_contact = "Citizens Advice, 0300 330 1188"

[[partners]]
id = "kc-council"
name = "Kensington and Chelsea Council"
plugin = "council"
areas = ["{KC}"]
[partners.settings]
base_url = "{council}"
jurisdiction_id = "{KC}"
"#,
        housing = sandbox.housing_url(),
        council = sandbox.council_url(),
    );
    let daemon = Daemon::start_with_config(dir.path(), &storage, &sandbox, &extra).await;

    let mut cases: Vec<Value> = SAMPLES.iter().map(|name| sample(name)).collect();
    // The eviction case again, without the Duty to Refer facts: housing is blocked, not met.
    let mut no_duty = sample("debt-food-eviction");
    no_duty["reference"] = "CAKC-NODTR".into();
    no_duty["consent"].as_object_mut().unwrap().remove("duty_to_refer");
    cases.push(no_duty);
    // Needs nothing in the sandbox serves (a hidden need that surfaced at the appointment).
    let mut hidden = sample("single-need-food");
    hidden["reference"] = "CAKC-HIDDEN".into();
    hidden["needs"] = json!([
        {"code": "food", "urgency": "urgent"},
        {"code": "transport", "urgency": "soon", "notes": "cannot get to the food bank"},
        {"code": "legal_immigration", "urgency": "routine"}
    ]);
    cases.push(hidden);

    let (mut expected, mut totals) = (Expected::new(), BTreeMap::new());
    for case in &cases {
        let (_, plan) = daemon.plan_case(case.to_string()).await;
        count_plan(&plan, &mut expected, &mut totals);
    }
    assert!(
        totals.keys().any(|(status, _)| status == "unmet")
            && totals.keys().any(|(status, _)| status == "blocked"),
        "the samples leave needs both unmet and blocked: {totals:?}"
    );
    assert!(
        expected.contains_key(&(
            "blocked".into(),
            "housing_homelessness".into(),
            "consent_to_refer".into()
        )),
        "{expected:?}"
    );
    assert!(
        expected.contains_key(&(
            "unmet".into(),
            "legal_immigration".into(),
            "no_service_in_area".into()
        )),
        "{expected:?}"
    );
    assert!(
        expected.contains_key(&("unmet".into(), "transport".into(), "no_offer".into())),
        "the council answered, without a service for it: {expected:?}"
    );

    // JSON: every line is the plans' count, and nothing else is counted.
    let (status, report) = daemon.get("/v1/reports/unmet", COORDINATOR).await;
    assert_eq!(status, 200, "{report}");
    let (mut reported, mut reported_totals) = (Expected::new(), BTreeMap::new());
    for status in ["unmet", "blocked"] {
        for row in report[status].as_array().unwrap() {
            assert_eq!(row["area"], "E09000020", "{row}");
            let need = row["need"].as_str().unwrap().to_string();
            reported_totals
                .insert((status.to_string(), need.clone()), row["cases"].as_u64().unwrap());
            for reason in row["reasons"].as_array().unwrap() {
                let key =
                    (status.to_string(), need.clone(), reason["reason"].as_str().unwrap().into());
                reported.insert(key, reason["cases"].as_u64().unwrap());
            }
        }
    }
    assert_eq!(reported, expected);
    assert_eq!(reported_totals, totals);

    // CSV from the API itself: one line per status, need, area and reason.
    let csv = reqwest::Client::new()
        .get(format!("{}/v1/reports/unmet?format=csv", daemon.base))
        .bearer_auth(COORDINATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains(".csv"));
    let body = csv.text().await.unwrap();
    let mut lines = body.split("\r\n");
    assert_eq!(lines.next(), Some("status,need,area,cases,reason,reason_cases"));
    let mut from_csv = Expected::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 6, "{line}");
        let total = totals[&(cells[0].to_string(), cells[1].to_string())];
        assert_eq!(cells[3].parse::<u64>().unwrap(), total, "{line}");
        from_csv
            .insert((cells[0].into(), cells[1].into(), cells[4].into()), cells[5].parse().unwrap());
    }
    assert_eq!(from_csv, expected);

    // A format it does not know is the caller's mistake; a pathfinder reads no report.
    let (status, error) = daemon.get("/v1/reports/unmet?format=xlsx", COORDINATOR).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(daemon.get("/v1/reports/unmet?format=csv", TOKEN).await.0, 403);
    sandbox.shutdown().await;
}
