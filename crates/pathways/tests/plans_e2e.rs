//! Plans against the sandbox with the real plugins, through a real `pathways serve`: a council
//! service without an Open311 code is a `signpost` step with the phone number and opening
//! hours the council's HSDS directory publishes; a housing need without the Duty to Refer facts
//! is `blocked` with the three facts named, and the referral intake refuses it with the same
//! words; with the facts recorded, the housing step is a referral that reaches the simulator.

mod referrals_util;

use std::time::{Duration, Instant};

use pathways_core::Missing;
use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage, ORG};
use serde_json::{json, Value};

const SHROPSHIRE: &str = "E06000051";

fn extra(sandbox: &Sandbox) -> String {
    format!(
        r#"[[partners]]
id = "shropshire-council"
name = "Shropshire Council"
plugin = "council"
areas = ["{SHROPSHIRE}"]
[partners.settings]
base_url = "{council}"
jurisdiction_id = "{SHROPSHIRE}"

[[partners]]
id = "shropshire-housing"
name = "Shropshire Council housing options"
plugin = "housing"
areas = ["{SHROPSHIRE}"]
[partners.settings]
base_url = "{housing}"
authorities = ["{SHROPSHIRE}"]
agency_contact = "Citizens Advice, 0300 330 1188"

[organisations.{ORG}]
name = "Citizens Advice Shropshire"
network = "citizens-advice"
"#,
        council = sandbox.council_url(),
        housing = sandbox.housing_url(),
    )
}

/// A Shropshire client who needs help getting online and is threatened with homelessness.
fn case(reference: &str, duty_to_refer: Option<Value>) -> String {
    let mut case = json!({
        "reference": reference,
        "channel": "walk_in",
        "referrer": {"organisation": ORG, "worker": "pf-17"},
        "client": {
            "name": "Test Person", "date_of_birth": "1958-03-02", "postcode": "SY8 1AA",
            "local_authority": SHROPSHIRE, "phone": "07700 900123", "email": null,
            "preferred_language": "en", "safe_contact": false,
            "household": {"adults": 1, "children_ages": []}
        },
        "needs": [
            {"id": "online", "code": "digital", "urgency": "routine"},
            {"id": "home", "code": "housing_homelessness", "urgency": "urgent"}
        ],
        "circumstances": ["private_rented_tenant"],
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
                    "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}
    });
    if let Some(dtr) = duty_to_refer {
        case["consent"]["duty_to_refer"] = dtr;
    }
    case.to_string()
}

fn entry<'a>(plan: &'a Value, need_id: &str) -> &'a Value {
    let steps = plan["steps"].as_array().expect("steps");
    steps.iter().find(|s| s["need_id"] == need_id).unwrap_or_else(|| panic!("{need_id}: {plan}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signposts_carry_published_contact_and_blocked_steps_are_refused_with_the_same_words() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("pathways.db"));
    let daemon = Daemon::start_with_config(dir.path(), &storage, &sandbox, &extra(&sandbox)).await;

    // Without the Duty to Refer facts.
    let (case_id, plan) = daemon.plan_case(case("PLAN-E2E-1", None)).await;
    assert_eq!(plan["complete"], true, "{plan}");

    let online = entry(&plan, "online");
    assert_eq!(online["action"], "signpost", "no Open311 code: the client contacts it: {online}");
    assert_eq!(online["partner"]["name"], "Shropshire Council");
    assert_eq!(online["service"]["name"], "Digital Skills at Ludlow Library");
    assert_eq!(online["contact"]["phone"], "0306 999 0106", "{online}");
    assert_eq!(
        online["contact"]["opening_hours"],
        json!([{"days": ["mon", "thu"], "opens": "10:00:00", "closes": "16:00:00"}]),
        "{online}"
    );
    let why = online["why"].as_str().unwrap();
    assert!(
        why.contains("Call them on 0306 999 0106 (Monday and Thursday, 10am to 4pm)."),
        "{why}"
    );
    assert!(online.get("shares").is_none(), "a signpost shares nothing: {online}");

    let home = entry(&plan, "home");
    assert_eq!(home["action"], "blocked", "{home}");
    assert_eq!(home["partner"]["id"], "shropshire-housing");
    let missing: Vec<Missing> = serde_json::from_value(home["missing"].clone()).unwrap();
    assert_eq!(
        missing,
        [Missing::ConsentToRefer, Missing::ConsentToShareContact, Missing::ChosenAuthority]
    );
    let ask = pathways_core::what_to_ask(&missing);
    let note = home["note"].as_str().unwrap();
    assert!(note.contains(&ask), "the note says what to ask: {note}");
    assert!(!home["why"].as_str().unwrap().contains("Duty to Refer"), "plain words for the client");

    // The intake refuses the blocked step with the same words, and sends nothing.
    let order = home["order"].to_string();
    let (status, refused) =
        daemon.refer(&case_id, "plan-e2e-blocked", &format!(r#"{{"steps": [{order}]}}"#)).await;
    assert_eq!(status, 422, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains(&ask), "{message}");
    // Referring every `refer` step: there is none (the signpost is not one, the blocked one
    // cannot be).
    let (status, nothing) = daemon.refer(&case_id, "plan-e2e-all", "{}").await;
    assert_eq!(status, 422, "{nothing}");
    assert_eq!(sandbox.housing_stats().total_posts, 0, "nothing reached the housing authority");

    // With the facts recorded, the housing step is a referral, and it reaches the simulator.
    let facts = json!({"consent_to_refer": true, "consent_to_share_contact": true,
        "chosen_authority": SHROPSHIRE});
    let (case_id, plan) = daemon.plan_case(case("PLAN-E2E-2", Some(facts))).await;
    let home = entry(&plan, "home");
    assert_eq!(home["action"], "refer", "{home}");
    let (status, accepted) = daemon.refer(&case_id, "plan-e2e-sent", "{}").await;
    assert_eq!(status, 202, "{accepted}");
    let referrals = accepted["referrals"].as_array().unwrap();
    assert_eq!(referrals.len(), 1, "only the housing step is a referral: {accepted}");
    assert_eq!(referrals[0]["partner_id"], "shropshire-housing");
    let deadline = Instant::now() + Duration::from_secs(30);
    while sandbox.housing_stats().referrals_created == 0 {
        assert!(Instant::now() < deadline, "not delivered; log:\n{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sandbox.housing_stats().referrals_created, 1);
    sandbox.shutdown().await;
}
