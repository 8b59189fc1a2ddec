//! A partner without an API (`kind = "inbox"`), end to end: real `pathways serve`, real HTTP on
//! loopback, a real SMTP sink. A pathfinder's referral reaches the partner's staff (and an
//! email without personal data tells them); they accept it, then complete it, and the
//! referrer sees each state; a move its state does not allow is refused on the page; another
//! partner's staff see nothing of it; and a capacity set to closed changes the next plan.

mod console_util;
mod referrals_util;

use std::time::Duration;

use console_util::{add_user, csrf, get, post, set_password_and_sign_in};
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_testkit::smtp::SmtpSink;
use referrals_util::{Daemon, ADMIN, TOKEN};
use serde_json::Value;

/// The inbox partners and the SMTP server of these tests.
fn extra(smtp_port: u16) -> String {
    format!(
        r#"
[email]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
from = "Pathways <pathways@council.example>"
tls = "off"

[[partners]]
id = "ludlow-befriending"
name = "Ludlow Good Neighbours"
kind = "inbox"
areas = ["E06000051"]
[partners.settings]
needs = ["social_isolation"]
shares = ["name", "phone", "postcode"]
notify_email = "referrals@ludlow-good-neighbours.example"
[[partners.settings.services]]
id = "befriending"
name = "Telephone befriending"
phone = "01632 960112"
channel = "phone"

[[partners]]
id = "lunch-club"
name = "Friday Lunch Club"
kind = "inbox"
areas = ["E06000051"]
[partners.settings]
needs = ["digital"]
shares = ["name"]
[[partners.settings.services]]
id = "lunch"
name = "Friday lunch and help getting online"
"#
    )
}

/// A case whose one need is loneliness, in Shropshire (where only the inbox partners serve).
fn lonely_case(reference: &str) -> String {
    referrals_util::case_json(reference, "planned_partners".into())
        .replace("\"code\":\"food\"", "\"code\":\"social_isolation\"")
        .replace("E09000020", "E06000051")
        .replace("W10 5AB", "SY8 1AA")
}

/// The step of `plan` for loneliness.
fn step(plan: &Value) -> &Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["need"] == "social_isolation")
        .unwrap_or_else(|| panic!("no loneliness step: {plan}"))
}

async fn referral(daemon: &Daemon, id: &str) -> Value {
    let (status, body) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_partners_staff_answer_a_referral_the_referrer_follows_it_and_capacity_changes_plans(
) {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let sink = SmtpSink::start();
    let daemon = console_util::start(dir.path(), &sandbox, &extra(sink.port)).await;

    // The partners are listed as built in.
    let (status, partners) = daemon.get("/v1/partners", TOKEN).await;
    assert_eq!(status, 200);
    let ludlow = partners["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "ludlow-befriending")
        .cloned()
        .unwrap_or_else(|| panic!("not listed: {partners}"));
    assert_eq!(
        (ludlow["plugin"].as_str(), ludlow["kind"].as_str()),
        (Some("inbox"), Some("voluntary"))
    );

    // A pathfinder plans and refers: the step goes to the inbox partner, with its capacity
    // unknown (its staff have not said yet).
    let (case_id, plan) = daemon.plan_case(lonely_case("LB-0001")).await;
    let chosen = step(&plan);
    assert_eq!(
        (chosen["action"].as_str(), chosen["partner"]["id"].as_str()),
        (Some("refer"), Some("ludlow-befriending")),
        "{plan}"
    );
    let (status, accepted) = daemon.refer(&case_id, "key-LB-0001", "{}").await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["referrals"][0]["id"].as_str().unwrap().to_string();
    let settled = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    assert_eq!(settled[0]["state"], "requested", "{}", settled[0]);
    assert_eq!(settled[0]["partner_reference"].as_str(), Some(id.as_str()), "its own id");

    // The partner is emailed a link, and nothing about the client.
    let mail = sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(mail[0].to, ["referrals@ludlow-good-neighbours.example"]);
    let text = mail[0].unwrapped();
    assert!(text.contains(&format!("{}/referrals/{id}", daemon.base)), "{text}");
    for personal in ["Test Person", "07700", "SY8 1AA", "1980"] {
        assert!(!text.contains(personal), "{personal} emailed: {text}");
    }

    // Their staff see it on their home page and open it: exactly what was sent.
    let link = add_user(&daemon, "ludlow-befriending", "partner", "gn@ludlow.example", "Glen");
    let staff = set_password_and_sign_in(&daemon, &link, "gn@ludlow.example").await;
    let home = get(&staff, &daemon, "/").await;
    assert!(home.body.contains(&format!("/referrals/{id}")), "{}", home.body);
    assert!(home.body.contains("Change your capacity"), "{}", home.body);
    let page = get(&staff, &daemon, &format!("/referrals/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Test Person") && page.body.contains("Your answer"),
        "{}",
        page.body
    );
    let answer = |state: &'static str, reason: &'static str, note: &'static str| {
        let staff = staff.clone();
        let (daemon, id) = (&daemon, id.clone());
        async move {
            let page = get(&staff, daemon, &format!("/referrals/{id}")).await;
            let token = csrf(&page.body);
            let form =
                [("csrf", token.as_str()), ("state", state), ("reason", reason), ("note", note)];
            post(&staff, daemon, &format!("/referrals/{id}/answer"), &form).await
        }
    };

    // A move its state does not allow, and a decline without a reason: the error summary,
    // nothing recorded.
    let refused = answer("completed", "", "").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("There is a problem")
            && refused.body.contains("Select what has happened")
    );
    let no_reason = answer("rejected", "", "").await;
    assert_eq!(no_reason.status, 422);
    assert!(no_reason.body.contains("href=\"#reason\""), "{}", no_reason.body);
    assert_eq!(referral(&daemon, &id).await["state"], "requested");

    // Accepted, then completed: the referrer sees both, reported by the partner's staff.
    let done = answer("accepted", "", "We will ring on Monday").await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some(format!("/referrals/{id}").as_str()))
    );
    assert_eq!(referral(&daemon, &id).await["state"], "accepted");
    let done = answer("completed", "", "Matched with a volunteer").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let seen = referral(&daemon, &id).await;
    assert_eq!(seen["state"], "completed", "{seen}");
    let history: Vec<(&str, &str)> = seen["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["state"].as_str().unwrap(), h["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history[history.len() - 2..],
        [("accepted", "partner_inbox"), ("completed", "partner_inbox")],
        "{seen}"
    );
    assert!(seen.to_string().contains("Matched with a volunteer"), "the note reaches the referrer");
    // Finished: nothing more to record, and a late post changes nothing.
    let page = get(&staff, &daemon, &format!("/referrals/{id}")).await;
    assert!(page.body.contains("This referral has finished"), "{}", page.body);
    assert_eq!(answer("failed", "other", "").await.status, 422);
    assert_eq!(referral(&daemon, &id).await["state"], "completed");

    // Audited: each answer, and the refusals.
    let (status, audit) = daemon.get(&format!("/v1/audit?case={case_id}&limit=1000"), ADMIN).await;
    assert_eq!(status, 200, "{audit}");
    let outcomes: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "referral.partner_update")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.iter().filter(|o| **o == "recorded").count() == 2, "{outcomes:?}");

    // Another partner's staff (an inbox partner too) see nothing of it, nor of the case.
    let link = add_user(&daemon, "lunch-club", "partner", "lc@lunch.example", "Lou");
    let other = set_password_and_sign_in(&daemon, &link, "lc@lunch.example").await;
    assert_eq!(get(&other, &daemon, &format!("/referrals/{id}")).await.status, 404);
    assert!(!get(&other, &daemon, "/").await.body.contains(&id));
    let token = csrf(&get(&other, &daemon, "/").await.body);
    let forged = post(
        &other,
        &daemon,
        &format!("/referrals/{id}/answer"),
        &[("csrf", &token), ("state", "failed"), ("reason", "other")],
    )
    .await;
    assert_eq!(forged.status, 404);
    for staff in [&staff, &other] {
        let case = get(staff, &daemon, &format!("/cases/{case_id}")).await;
        assert_ne!(case.status, 200, "partner staff never read the case");
    }

    // Their staff close the service: the next plan does not refer to it, and says why.
    let form = get(&staff, &daemon, "/capacity").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let saved = post(
        &staff,
        &daemon,
        "/capacity",
        &[("csrf", &csrf(&form.body)), ("state", "closed"), ("note", "Open again in January")],
    )
    .await;
    assert_eq!((saved.status, saved.location.as_deref()), (303, Some("/")), "{}", saved.body);
    assert!(get(&staff, &daemon, "/").await.body.contains("Not taking new referrals"));
    let (_, plan) = daemon.plan_case(lonely_case("LB-0002")).await;
    let closed = step(&plan);
    assert!(
        !(closed["action"] == "refer" && closed["partner"]["id"] == "ludlow-befriending"),
        "a closed service is not referred to: {plan}"
    );
    let report = plan["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partner_id"] == "ludlow-befriending" || p["id"] == "ludlow-befriending")
        .cloned();
    assert!(report.is_some(), "the partner was asked: {plan}");
    // Places again: it is referred to once more.
    let form = get(&staff, &daemon, "/capacity").await;
    let saved = post(
        &staff,
        &daemon,
        "/capacity",
        &[("csrf", &csrf(&form.body)), ("state", "places"), ("places", "three")],
    )
    .await;
    assert_eq!(saved.status, 422, "not a number: {}", saved.body);
    let saved = post(
        &staff,
        &daemon,
        "/capacity",
        &[("csrf", &csrf(&form.body)), ("state", "places"), ("places", "3")],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, plan) = daemon.plan_case(lonely_case("LB-0003")).await;
    assert_eq!(step(&plan)["partner"]["id"], "ludlow-befriending", "{plan}");
    assert!(plan.to_string().contains("3 places free"), "the offer's wait says it: {plan}");

    // Nothing of the client reached the daemon's log through the notice.
    assert!(!daemon.stderr().contains("referrals@ludlow-good-neighbours.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referrer_withdraws_an_inbox_referral_and_its_staff_see_it_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let sink = SmtpSink::start();
    let daemon = console_util::start(dir.path(), &sandbox, &extra(sink.port)).await;
    let (case_id, _) = daemon.plan_case(lonely_case("LB-0101")).await;
    let (status, accepted) = daemon.refer(&case_id, "key-LB-0101", "{}").await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["referrals"][0]["id"].as_str().unwrap().to_string();
    daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    let (status, body) = daemon
        .request(
            reqwest::Method::POST,
            &format!("/v1/referrals/{id}/cancel"),
            TOKEN,
            &[],
            Some(r#"{"reason": "helped_elsewhere"}"#.into()),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = referral(&daemon, &id).await;
        if seen["state"] == "cancelled" {
            assert_eq!(seen["cancellation"]["state"], "confirmed", "{seen}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not cancelled: {seen}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let link = add_user(&daemon, "ludlow-befriending", "partner", "gn@ludlow.example", "Glen");
    let staff = set_password_and_sign_in(&daemon, &link, "gn@ludlow.example").await;
    let page = get(&staff, &daemon, &format!("/referrals/{id}")).await;
    assert!(
        page.body.contains("Cancelled") && page.body.contains("The referrer withdrew"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Your answer"));
}
