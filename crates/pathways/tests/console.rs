//! The web console without a browser: real `pathways serve`, real HTTP on loopback, real
//! plugins against the sandbox, people added with `pathways users add`. Sign-in and its
//! limits, sessions, CSRF, security headers, taking a case through the forms to referrals
//! sent, what partner staff may see, the dashboard and its CSV, and the live plan events.

mod console_util;
mod referrals_util;

use console_util::{
    add_user, case_id, client, csrf, get, post, set_password_and_sign_in, try_sign_in, PASSWORD,
};
use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::ORG;

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts")
}

/// The details page of a two-need case (food, and a mental-health need with private notes).
fn case_form<'a>(csrf: &'a str, reference: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("step", "details"),
        ("rows", "3"),
        ("reference", reference),
        ("channel", "phone"),
        ("name", "Ada Lovelace"),
        ("dob-day", "10"),
        ("dob-month", "12"),
        ("dob-year", "1985"),
        ("postcode", "W10 5AB"),
        ("local_authority", "E09000020"),
        ("phone", "07700 900123"),
        ("email", ""),
        ("language", "en"),
        ("adults", "1"),
        ("children", "7"),
        ("need-1", "food"),
        ("urgency-1", "urgent"),
        ("notes-1", "nothing in since Friday"),
        ("need-2", "mental_health"),
        ("urgency-2", "soon"),
        ("notes-2", "PRIVATE-MH-NOTE low mood"),
        ("need-3", ""),
        ("urgency-3", "routine"),
        ("notes-3", ""),
        ("circumstances", "children_in_household"),
        ("basis", "consent"),
        ("share", "planned_partners"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sets_a_password_from_a_one_time_link_signs_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "ada@ca.example", "Ada Worker");

    // A weak password is refused with the error summary, naming the field.
    let c = client();
    let form = get(&c, &daemon, &link).await;
    assert_eq!(form.status, 200);
    let token = console_util::field_value(&form.body, "token").unwrap();
    let weak = post(
        &c,
        &daemon,
        "/set-password",
        &[
            ("csrf", &csrf(&form.body)),
            ("token", &token),
            ("password", "short"),
            ("confirm", "short"),
        ],
    )
    .await;
    assert_eq!(weak.status, 400);
    assert!(
        weak.body.contains("govuk-error-summary") && weak.body.contains("href=\"#password\""),
        "{}",
        weak.body
    );
    assert!(weak.body.contains("<title>Error: "), "the title says there is an error");

    let signed = set_password_and_sign_in(&daemon, &link, "ada@ca.example").await;
    // The link worked once.
    let again = get(&client(), &daemon, &link).await;
    assert_eq!(again.status, 404);
    assert!(again.body.contains("This link has expired"));

    let home = get(&signed, &daemon, "/").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Signed in as Ada Worker"), "{}", home.body);

    // Wrong password: one message, not saying which was wrong.
    let wrong = try_sign_in(&client(), &daemon, "ada@ca.example", "not the password at all").await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("Enter a correct email address and password"));
    let unknown = try_sign_in(&client(), &daemon, "nobody@ca.example", PASSWORD).await;
    assert!(unknown.body.contains("Enter a correct email address and password"));

    // Sign out ends the session in the database: the old cookie no longer works.
    let home = get(&signed, &daemon, "/").await;
    let out = post(&signed, &daemon, "/sign-out", &[("csrf", &csrf(&home.body))]).await;
    assert_eq!(out.status, 303);
    let after = get(&signed, &daemon, "/").await;
    assert_eq!((after.status, after.location.as_deref()), (303, Some("/sign-in")));

    // A disabled account cannot sign in; a reset gives a new link and the old password stops.
    let (_, _, code) = console_util::users(&daemon, &["reset", "--email", "ada@ca.example"]);
    assert_eq!(code, 0);
    let refused = try_sign_in(&client(), &daemon, "ada@ca.example", PASSWORD).await;
    assert_eq!(refused.status, 400);
    let (_, err, code) = console_util::users(
        &daemon,
        &["add", "--organisation", ORG, "--role", "chief", "--email", "x@ca.example"],
    );
    assert_eq!(code, 2, "a bad role is the operator's input to fix");
    assert!(err.contains("role"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_limited_per_account_and_per_address_and_forms_need_their_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "bo@ca.example", "Bo");
    let signed = set_password_and_sign_in(&daemon, &link, "bo@ca.example").await;

    // A form without its token, or with another session's, is refused and changes nothing.
    let no_token = post(&signed, &daemon, "/cases/new", &[("reference", "X-1")]).await;
    assert_eq!(no_token.status, 403);
    assert!(no_token.body.contains("Your form has expired"), "{}", no_token.body);
    let other = client();
    let other_form = get(&other, &daemon, "/sign-in").await;
    let stolen = post(&signed, &daemon, "/sign-out", &[("csrf", &csrf(&other_form.body))]).await;
    assert_eq!(stolen.status, 403);
    assert_eq!(get(&signed, &daemon, "/").await.status, 200, "still signed in");

    // Three wrong passwords lock the account: even the right one is refused for a while.
    for _ in 0..3 {
        let wrong = try_sign_in(&client(), &daemon, "bo@ca.example", "wrong password 123").await;
        assert_eq!(wrong.status, 400);
    }
    let locked = try_sign_in(&client(), &daemon, "bo@ca.example", PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("Too many attempts"), "{}", locked.body);

    // Twelve attempts from one address: the thirteenth is refused whoever it is for.
    let link = add_user(&daemon, ORG, "pathfinder", "cy@ca.example", "Cy");
    let cy = set_password_and_sign_in(&daemon, &link, "cy@ca.example").await;
    drop(cy);
    let mut last = 0;
    for _ in 0..12 {
        last =
            try_sign_in(&client(), &daemon, "nobody@ca.example", "whatever it is 1").await.status;
    }
    assert_eq!(last, 429, "the address limit counts every attempt");
    let blocked = try_sign_in(&client(), &daemon, "cy@ca.example", PASSWORD).await;
    assert_eq!(blocked.status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_has_the_security_headers_and_the_api_keeps_its_json() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let c = client();
    for path in ["/sign-in", "/no-such-page", "/assets/console.css"] {
        let page = get(&c, &daemon, path).await;
        let header = |name: &str| {
            page.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
        };
        let csp = header("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        if !path.starts_with("/assets/") {
            assert_eq!(header("cache-control"), "no-store", "{path}");
        }
    }
    let missing = get(&c, &daemon, "/no-such-page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found") && missing.body.contains("<html"));
    // The API keeps its own answers: JSON errors, no console in the way.
    let api = get(&c, &daemon, "/v1/no-such-route").await;
    assert_eq!(api.status, 401);
    assert!(api.body.starts_with('{'), "{}", api.body);
    let health = get(&c, &daemon, "/healthz").await;
    assert_eq!(health.status, 200);
    // Pages need a session: home sends a visitor to sign in.
    let home = get(&c, &daemon, "/").await;
    assert_eq!((home.status, home.location.as_deref()), (303, Some("/sign-in")));
    // The sign-in cookie is HttpOnly and SameSite=Lax.
    let sign_in = get(&client(), &daemon, "/sign-in").await;
    let cookie = sign_in.headers.get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_taken_in_the_console_is_planned_amended_checked_and_referred_as_the_person() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "di@ca.example", "Di");
    let c = set_password_and_sign_in(&daemon, &link, "di@ca.example").await;

    // Missing answers: the error summary names each field and links to it; nothing is stored.
    let form = get(&c, &daemon, "/cases/new").await;
    assert_eq!(form.status, 200);
    let token = csrf(&form.body);
    let empty =
        post(&c, &daemon, "/cases/new", &[("csrf", &token), ("step", "details"), ("rows", "3")])
            .await;
    assert_eq!(empty.status, 400);
    for field in
        ["#reference", "#channel", "#name", "#dob-day", "#postcode", "#need-1", "#basis", "#share"]
    {
        assert!(
            empty.body.contains(&format!("href=\"{field}\"")),
            "{field} missing from the summary"
        );
    }

    // "Add another need" works without JavaScript: one more row.
    let more =
        post(&c, &daemon, "/cases/new", &[("csrf", &token), ("rows", "3"), ("action", "add-need")])
            .await;
    assert!(more.body.contains("id=\"need-4\""));

    let created = post(&c, &daemon, "/cases/new", &case_form(&token, "CON-0001")).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let id = case_id(created.location.as_deref().unwrap());
    let case = get(&c, &daemon, &format!("/cases/{id}")).await;
    assert!(case.body.contains("CON-0001") && case.body.contains("Ada Lovelace"));

    // The plan, made by the daemon's own planner, shows the steps with what to say.
    let plan_page = get(&c, &daemon, &format!("/cases/{id}/plan")).await;
    let made =
        post(&c, &daemon, &format!("/cases/{id}/plan"), &[("csrf", &csrf(&plan_page.body))]).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let plan = get(&c, &daemon, &format!("/cases/{id}/plan")).await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert!(
        plan.body.contains("Version 1") && plan.body.contains("Say to the client"),
        "{}",
        plan.body
    );

    // Add the client's own action, through the plan's amendments.
    let version = console_util::field_value(&plan.body, "version").unwrap();
    let amended = post(
        &c,
        &daemon,
        &format!("/cases/{id}/plan/amend"),
        &[
            ("csrf", &csrf(&plan.body)),
            ("version", &version),
            ("op", "client_action"),
            ("text", "ring the landlord on Monday"),
        ],
    )
    .await;
    assert_eq!(amended.status, 303, "{}", amended.body);
    let plan = get(&c, &daemon, &format!("/cases/{id}/plan")).await;
    assert!(plan.body.contains("Version 2") && plan.body.contains("ring the landlord on Monday"));
    // A stale version is refused with the summary, not a lost change.
    let stale = post(
        &c,
        &daemon,
        &format!("/cases/{id}/plan/amend"),
        &[
            ("csrf", &csrf(&plan.body)),
            ("version", &version),
            ("op", "goal"),
            ("text", "keep my flat"),
        ],
    )
    .await;
    assert_eq!(stale.status, 422);
    assert!(stale.body.contains("Someone else changed this plan"), "{}", stale.body);

    // Check your answers shows exactly what the food bank would receive, value by value, and
    // not the mental-health notes.
    let check = get(&c, &daemon, &format!("/cases/{id}/plan/check")).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert!(
        check.body.contains("Ada Lovelace") && check.body.contains("W10 5AB"),
        "{}",
        check.body
    );
    let sections: Vec<&str> = check.body.split("<h2 class=\"govuk-heading-s").skip(1).collect();
    let food = sections.iter().find(|s| s.contains(">Food:")).expect("a food step");
    assert!(
        !food.contains("PRIVATE-MH-NOTE"),
        "a food referral never carries mental-health notes: {food}"
    );
    assert!(
        food.contains("nothing in since Friday") || food.contains("Not shared: no notes"),
        "{food}"
    );
    let health = sections.iter().find(|s| s.contains(">Mental health:"));
    if let Some(health) = health {
        // The NHS service declares the notes, and the client agreed: only it receives them.
        assert!(!health.contains("nothing in since Friday"), "{health}");
    }
    let key = console_util::field_value(&check.body, "key").unwrap();
    let step = food
        .split("name=\"step\" type=\"checkbox\" value=\"")
        .nth(1)
        .expect("food can be sent")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let form = [("csrf", csrf(&check.body)), ("key", key.clone()), ("step", step.clone())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = post(&c, &daemon, &format!("/cases/{id}/referrals"), &form).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    // The same form posted again (a double click) refers once.
    let again = post(&c, &daemon, &format!("/cases/{id}/referrals"), &form).await;
    assert_eq!(again.status, 303);
    let confirmation = get(&c, &daemon, &format!("/cases/{id}/sent")).await;
    assert!(confirmation.body.contains("Referrals sent"));

    // Through the API: one referral, and the audit log names the person, not a key.
    let (status, view) = daemon.get(&format!("/v1/cases/{id}"), referrals_util::TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(view["referrals"].as_array().unwrap().len(), 1, "{view}");
    assert!(view["case"]["consent"]["recorded_by"].as_str().unwrap().starts_with("usr_"), "{view}");
    let (_, audit) = daemon.get(&format!("/v1/audit?case={id}"), referrals_util::ADMIN).await;
    let entries = audit["entries"].as_array().expect("audit entries");
    assert!(
        entries.iter().any(|e| e["action"] == "referral.create"
            && e["key_id"].as_str().unwrap().starts_with("usr_")),
        "{audit}"
    );

    // The client's copy: their words, the service's contact, no one else's data.
    let copy = get(&c, &daemon, &format!("/cases/{id}/copy")).await;
    assert_eq!(copy.status, 200);
    assert!(
        copy.body.contains("Your plan, Ada") && copy.body.contains("ring the landlord on Monday"),
        "{}",
        copy.body
    );
    assert!(!copy.body.contains("PRIVATE-MH-NOTE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_after_its_idle_time_and_when_the_account_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "ed@ca.example", "Ed");
    let c = set_password_and_sign_in(&daemon, &link, "ed@ca.example").await;
    assert_eq!(get(&c, &daemon, "/").await.status, 200);

    // An hour without use (the idle limit is 30 minutes): the next page signs the person out
    // and says why. The database is the daemons' shared record, so it is aged there.
    let db = rusqlite::Connection::open(dir.path().join("pathways.db")).unwrap();
    let aged =
        db.execute("UPDATE sessions SET last_seen_at = last_seen_at - 3600000000", []).unwrap();
    assert_eq!(aged, 1);
    let home = get(&c, &daemon, "/").await;
    assert_eq!((home.status, home.location.as_deref()), (303, Some("/sign-in?signed-out=timeout")));
    let sign_in = get(&c, &daemon, "/sign-in?signed-out=timeout").await;
    assert!(sign_in.body.contains("because you had not used Pathways for a while"));
    let left: i64 = db.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0, "the expired session is deleted");

    // Signed in again, then disabled by an administrator: the session ends at once.
    console_util::sign_in(&c, &daemon, "ed@ca.example", PASSWORD).await;
    assert_eq!(get(&c, &daemon, "/").await.status, 200);
    let (_, _, code) = console_util::users(&daemon, &["disable", "--email", "ed@ca.example"]);
    assert_eq!(code, 0);
    let after = get(&c, &daemon, "/").await;
    assert_eq!((after.status, after.location.as_deref()), (303, Some("/sign-in")));
    let again = try_sign_in(&client(), &daemon, "ed@ca.example", PASSWORD).await;
    assert_eq!(again.status, 400, "a disabled account cannot sign in");
}

/// Takes a one-need food case through the console and sends it; returns the case id and the
/// food referral's id once delivered.
async fn referred_food_case(
    daemon: &referrals_util::Daemon,
    c: &reqwest::Client,
    reference: &str,
) -> (String, String) {
    let form = get(c, daemon, "/cases/new").await;
    let token = csrf(&form.body);
    let mut fields = case_form(&token, reference);
    fields.retain(|(k, _)| !k.ends_with("-2"));
    let created = post(c, daemon, "/cases/new", &fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let id = case_id(created.location.as_deref().unwrap());
    let plan_page = get(c, daemon, &format!("/cases/{id}/plan")).await;
    let made =
        post(c, daemon, &format!("/cases/{id}/plan"), &[("csrf", &csrf(&plan_page.body))]).await;
    assert_eq!(made.status, 303);
    let check = get(c, daemon, &format!("/cases/{id}/plan/check")).await;
    let key = console_util::field_value(&check.body, "key").unwrap();
    let step = check
        .body
        .split("name=\"step\" type=\"checkbox\" value=\"")
        .nth(1)
        .expect("a step to send")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let sent = post(
        c,
        daemon,
        &format!("/cases/{id}/referrals"),
        &[("csrf", &csrf(&check.body)), ("key", &key), ("step", &step)],
    )
    .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let (_, view) = daemon.get(&format!("/v1/cases/{id}"), referrals_util::TOKEN).await;
    let referral = view["referrals"][0]["id"].as_str().unwrap().to_string();
    daemon.settled(std::slice::from_ref(&referral), std::time::Duration::from_secs(30)).await;
    (id, referral)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_staff_see_only_the_referrals_sent_to_them_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "fi@ca.example", "Fi");
    let pathfinder = set_password_and_sign_in(&daemon, &link, "fi@ca.example").await;
    let (case, food) = referred_food_case(&daemon, &pathfinder, "PS-0001").await;

    let link = add_user(&daemon, "foodbank-test", "partner", "sam@food.example", "Sam");
    let staff = set_password_and_sign_in(&daemon, &link, "sam@food.example").await;
    let home = get(&staff, &daemon, "/").await;
    assert!(home.body.contains(&format!("/referrals/{food}")), "{}", home.body);
    assert!(!home.body.contains("PS-0001"), "partner staff are not shown the referrer's case list");
    let referral = get(&staff, &daemon, &format!("/referrals/{food}")).await;
    assert_eq!(referral.status, 200, "{}", referral.body);
    assert!(
        referral.body.contains("What was sent to you") && referral.body.contains("Ada Lovelace")
    );
    assert!(
        !referral.body.contains("10 December 1985"),
        "the food bank was sent the year of birth only"
    );
    for (path, status) in [
        (format!("/cases/{case}"), 403),
        ("/cases/new".to_string(), 403),
        ("/dashboard".to_string(), 403),
    ] {
        assert_eq!(get(&staff, &daemon, &path).await.status, status, "{path}");
    }
    // Another partner's staff: the same referral is "not found".
    let link = add_user(&daemon, "nhs-test", "partner", "nia@nhs.example", "Nia");
    let other = set_password_and_sign_in(&daemon, &link, "nia@nhs.example").await;
    assert_eq!(get(&other, &daemon, &format!("/referrals/{food}")).await.status, 404);
    assert!(!get(&other, &daemon, "/").await.body.contains(&food));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_counts_referrals_and_each_table_downloads_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "gu@ca.example", "Gu");
    let pathfinder = set_password_and_sign_in(&daemon, &link, "gu@ca.example").await;
    referred_food_case(&daemon, &pathfinder, "DB-0001").await;
    assert_eq!(
        get(&pathfinder, &daemon, "/dashboard").await.status,
        403,
        "pathfinders have no dashboard"
    );

    let link = add_user(&daemon, ORG, "coordinator", "co@ca.example", "Co");
    let coordinator = set_password_and_sign_in(&daemon, &link, "co@ca.example").await;
    let dashboard = get(&coordinator, &daemon, "/dashboard?days=30").await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(
        dashboard.body.contains("foodbank-test")
            && dashboard.body.contains("<svg class=\"app-chart\""),
        "{}",
        dashboard.body
    );
    let csv = get(&coordinator, &daemon, "/dashboard/acceptance.csv?days=30").await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let mut lines = csv.body.lines();
    assert_eq!(
        lines.next(),
        Some("partner,need,sent,accepted,accepted_percent,completed,median_time_to_acceptance")
    );
    let row = lines.next().expect("a row for the food bank");
    assert!(row.starts_with("foodbank-test,Food,1,"), "{row}");
    // A need no partner here serves (transport) is counted as unmet for the client's council
    // area: on the dashboard, in its CSV, and in the API's report.
    let mut body: serde_json::Value =
        serde_json::from_str(&referrals_util::case_json("UN-0001", "planned_partners".into()))
            .unwrap();
    body["needs"] = serde_json::json!([{"code": "transport", "urgency": "soon"}]);
    daemon.plan_case(body.to_string()).await;
    let dashboard = get(&coordinator, &daemon, "/dashboard?days=30").await;
    assert!(
        dashboard.body.contains("Needs no service could meet")
            && dashboard.body.contains("Transport"),
        "{}",
        dashboard.body
    );
    let unmet = get(&coordinator, &daemon, "/dashboard/unmet.csv?days=30").await;
    assert_eq!(unmet.status, 200);
    assert!(
        unmet.body.starts_with("status,need,area,cases,reason,reason_cases\r\n"),
        "{}",
        unmet.body
    );
    assert!(
        unmet.body.contains("unmet,transport,E09000020,1,no_service_in_area,1\r\n"),
        "{}",
        unmet.body
    );
    assert!(dashboard.body.contains("No partner offers it in the area (1)"), "{}", dashboard.body);
    let (status, report) = daemon.get("/v1/reports/unmet", referrals_util::COORDINATOR).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["unmet"][0],
        serde_json::json!({"need": "transport", "area": "E09000020", "cases": 1,
                           "reasons": [{"reason": "no_service_in_area", "cases": 1}]}),
        "{report}"
    );
    assert_eq!(
        daemon.get("/v1/reports/unmet", referrals_util::TOKEN).await.0,
        403,
        "pathfinders do not read reports"
    );
    assert_eq!(get(&coordinator, &daemon, "/dashboard?days=13").await.status, 400);
    assert_eq!(get(&coordinator, &daemon, "/dashboard/secrets.csv").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_plan_sends_each_partners_answer_as_it_arrives_then_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "hu@ca.example", "Hu");
    let c = set_password_and_sign_in(&daemon, &link, "hu@ca.example").await;
    let form = get(&c, &daemon, "/cases/new").await;
    let created = post(&c, &daemon, "/cases/new", &case_form(&csrf(&form.body), "LIVE-1")).await;
    let id = case_id(created.location.as_deref().unwrap());
    let page = get(&c, &daemon, &format!("/cases/{id}/plan")).await;
    assert!(page.body.contains(&format!("data-live-plan=\"/cases/{id}/plan/start\"")));
    let started =
        post(&c, &daemon, &format!("/cases/{id}/plan/start"), &[("csrf", &csrf(&page.body))]).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let events: serde_json::Value = serde_json::from_str(&started.body).unwrap();
    let path = events["events"].as_str().unwrap().to_string();

    // Someone else cannot listen to this person's plan.
    let link = add_user(&daemon, ORG, "pathfinder", "iv@ca.example", "Iv");
    let other = set_password_and_sign_in(&daemon, &link, "iv@ca.example").await;
    assert_eq!(get(&other, &daemon, &path).await.status, 404);

    let stream = get(&c, &daemon, &path).await;
    assert_eq!(stream.status, 200);
    assert!(stream.headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let answers: Vec<&str> =
        stream.body.split("\n\n").filter(|f| f.contains("event: answer")).collect();
    assert_eq!(answers.len(), 2, "one event per partner asked: {}", stream.body);
    assert!(
        answers.iter().any(|a| a.contains("foodbank-test"))
            && answers.iter().any(|a| a.contains("nhs-test"))
    );
    assert!(answers.iter().all(|a| a.contains("\"latency_ms\":")), "{answers:?}");
    let done = stream.body.find("event: done").expect("the plan is announced");
    assert!(stream.body.rfind("event: answer").unwrap() < done, "answers come before the plan");
    assert!(stream.body.contains(&format!("/cases/{id}/plan")));
    // The plan it announced is stored, as the person.
    let plan = get(&c, &daemon, &format!("/cases/{id}/plan")).await;
    assert!(plan.body.contains("Version 1"));
    // The job is heard once.
    assert_eq!(get(&c, &daemon, &path).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_page_hears_when_a_referral_changes_state() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "jo@ca.example", "Jo");
    let c = set_password_and_sign_in(&daemon, &link, "jo@ca.example").await;
    let (case, food) = referred_food_case(&daemon, &c, "LS-0001").await;
    let page = get(&c, &daemon, &format!("/cases/{case}")).await;
    assert!(
        page.body.contains(&format!("data-live-states=\"/cases/{case}/states\"")),
        "{}",
        page.body
    );

    let mut stream = c.get(format!("{}/cases/{case}/states", daemon.base)).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    // The food bank's client redeems the voucher: the referral completes, and the open page
    // is told.
    let (_, referral) = daemon.get(&format!("/v1/referrals/{food}"), referrals_util::TOKEN).await;
    let voucher = referral["partner_reference"].as_str().expect("a voucher").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sandbox.set_voucher_status(&voucher, pathways_sandbox::VoucherStatus::Redeemed, None).unwrap();
    let heard = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut text = String::new();
        while let Some(chunk) = stream.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("event: state") && text.contains("Completed") {
                return text;
            }
        }
        text
    })
    .await
    .expect("a state event within 30 s");
    assert!(heard.contains(&food), "{heard}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_may_agree_to_share_with_some_organisations_only() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "ka@ca.example", "Ka");
    let c = set_password_and_sign_in(&daemon, &link, "ka@ca.example").await;
    let form = get(&c, &daemon, "/cases/new").await;
    assert!(form.body.contains("value=\"foodbank-test\""), "the enabled partners are offered");
    let token = csrf(&form.body);
    let mut fields = case_form(&token, "SOME-1");
    fields.retain(|(k, _)| *k != "share");
    fields.push(("share", "some"));
    // "Only some" with none ticked: the summary names the missing choice.
    let none = post(&c, &daemon, "/cases/new", &fields).await;
    assert_eq!(none.status, 400);
    assert!(none.body.contains("href=\"#share_partner\""), "{}", none.body);
    fields.push(("share_partner", "foodbank-test"));
    let created = post(&c, &daemon, "/cases/new", &fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let id = case_id(created.location.as_deref().unwrap());
    let (_, view) = daemon.get(&format!("/v1/cases/{id}"), referrals_util::TOKEN).await;
    assert_eq!(
        view["case"]["consent"]["share_with"],
        serde_json::json!(["foodbank-test"]),
        "{view}"
    );
    let case = get(&c, &daemon, &format!("/cases/{id}")).await;
    assert!(case.body.contains("only with foodbank-test"), "{}", case.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partners_page_shows_health_last_answers_and_how_the_last_reload_ended() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "admin", "ad@ca.example", "Ad");
    let admin = set_password_and_sign_in(&daemon, &link, "ad@ca.example").await;
    let page = get(&admin, &daemon, "/partners").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("has not been reloaded since the daemon started"), "{}", page.body);
    assert!(page.body.contains("Not asked since the configuration was loaded"));

    // A plan asks the food bank: its last answer shows.
    daemon.planned_case("PP-0001", "planned_partners".into()).await;
    let page = get(&admin, &daemon, "/partners").await;
    assert!(page.body.contains("Answered in"), "{}", page.body);

    // A reload that applies, then one that is refused (a broken file): the page says which,
    // and why.
    daemon.reload().await;
    let page = get(&admin, &daemon, "/partners").await;
    assert!(page.body.contains("The configuration was last reloaded"), "{}", page.body);
    let good = std::fs::read_to_string(&daemon.config).unwrap();
    std::fs::write(&daemon.config, format!("{good}\n[server]\nlisten = 12\n")).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = get(&admin, &daemon, "/partners").await;
        if page.body.contains("was refused") {
            assert!(page.body.contains("the previous configuration still serves"), "{}", page.body);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refused reload is not shown:\n{}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    std::fs::write(&daemon.config, good).unwrap();
    // Pathfinders have no partners page.
    let link = add_user(&daemon, ORG, "pathfinder", "pf@ca.example", "Pf");
    let pathfinder = set_password_and_sign_in(&daemon, &link, "pf@ca.example").await;
    assert_eq!(get(&pathfinder, &daemon, "/partners").await.status, 403);
}

/// An administrator sees where each partner's plugin runs, and a plugin host that crashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partners_page_says_where_each_plugin_runs_and_when_its_host_died() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let library = pathways_testkit::plugin_library("pathways_test_misbehaving_partner");
    let isolated = |id: &str, settings: &str| {
        format!(
            "[[partners]]\nid = \"{id}\"\nplugin = \"misbehaving\"\nlibrary = \"{}\"\n\
             isolation = \"process\"\nareas = [\"E06000051\"]\n[partners.settings]\n{settings}\n",
            library.display()
        )
    };
    let extra = [
        isolated("steady-host", "label = \"steady\""),
        isolated("crashing-host", "segfault_on = \"check_availability\""),
    ]
    .concat();
    let daemon = console_util::start(dir.path(), &sandbox, &extra).await;
    let link = add_user(&daemon, ORG, "admin", "ad@ca.example", "Ad");
    let admin = set_password_and_sign_in(&daemon, &link, "ad@ca.example").await;
    let row = |body: &str, id: &str| {
        let start = body.find(id).unwrap_or_else(|| panic!("{id} not on the page: {body}"));
        let end = body[start..].find("</tr>").map_or(body.len(), |e| start + e);
        body[start..end].to_string()
    };
    let page = get(&admin, &daemon, "/partners").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(row(&page.body, "foodbank-test").contains("In the daemon"), "{}", page.body);
    assert!(row(&page.body, "steady-host").contains("In a process of its own (process "));

    // A plan in Shropshire asks both; the crashing one's host dies of it and is restarted.
    let mut case: serde_json::Value =
        serde_json::from_str(&referrals_util::case_json("HOST-1", "planned_partners".into()))
            .unwrap();
    case["client"]["postcode"] = "SY8 1AA".into();
    case["client"]["local_authority"] = "E06000051".into();
    daemon.plan_case(case.to_string()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = get(&admin, &daemon, "/partners").await;
        let crashed = row(&page.body, "crashing-host");
        if crashed.contains("It stopped once: killed by signal 11") {
            assert!(!row(&page.body, "steady-host").contains("stopped"), "{}", page.body);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no crash shown: {crashed}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The same for a monitoring system.
    let metrics = reqwest::get(format!("{}/metrics", daemon.base)).await.unwrap().text().await;
    let metrics = metrics.unwrap();
    assert!(
        metrics.contains("pathways_plugin_host_deaths_total{partner=\"crashing-host\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("pathways_plugin_host_up{partner=\"steady-host\"} 1"), "{metrics}");
    assert!(!metrics.contains("pathways_plugin_host_up{partner=\"foodbank-test\"}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_copy_speaks_the_clients_language_from_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    // A Welsh catalogue with a few of the copy's words; the rest fall back to English.
    let messages = dir.path().join("messages");
    std::fs::create_dir_all(&messages).unwrap();
    std::fs::copy(
        pathways_testkit::workspace_root().join("crates/pathways-orchestrator/messages/en.ftl"),
        messages.join("en.ftl"),
    )
    .unwrap();
    std::fs::write(
        messages.join("cy.ftl"),
        "copy-title-named = Eich cynllun, { $name }\ncopy-steps = Eich camau\n",
    )
    .unwrap();
    let storage = referrals_util::Storage::Sqlite(dir.path().join("pathways.db"));
    let messages_dir = messages.display().to_string();
    let env = [("PATHWAYS__ORCHESTRATOR__MESSAGES_DIR", messages_dir.as_str())];
    let daemon = referrals_util::Daemon::start_with(
        dir.path(),
        &storage,
        &sandbox,
        &env,
        console_util::CONSOLE,
    )
    .await;
    let link = add_user(&daemon, ORG, "pathfinder", "cy@ca.example", "Cy");
    let c = set_password_and_sign_in(&daemon, &link, "cy@ca.example").await;
    let form = get(&c, &daemon, "/cases/new").await;
    let token = csrf(&form.body);
    let mut fields = case_form(&token, "CY-0001");
    fields.retain(|(k, _)| *k != "language");
    fields.push(("language", "cy"));
    let created = post(&c, &daemon, "/cases/new", &fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let id = case_id(created.location.as_deref().unwrap());
    let plan_page = get(&c, &daemon, &format!("/cases/{id}/plan")).await;
    post(&c, &daemon, &format!("/cases/{id}/plan"), &[("csrf", &csrf(&plan_page.body))]).await;
    let copy = get(&c, &daemon, &format!("/cases/{id}/copy")).await;
    assert_eq!(copy.status, 200, "{}", copy.body);
    assert!(
        copy.body.contains("Eich cynllun, Ada") && copy.body.contains("Eich camau"),
        "{}",
        copy.body
    );
    // A message the Welsh catalogue lacks is the English one.
    assert!(
        copy.body.contains("What you will do") || !copy.body.contains("copy-actions"),
        "{}",
        copy.body
    );
    assert!(copy.body.contains("lang=\"cy\""), "the copy is marked as Welsh for screen readers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pathfinder_re_routes_a_refusal_changes_consent_and_cancels_from_the_pages() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "fi@ca.example", "Fi");
    let c = set_password_and_sign_in(&daemon, &link, "fi@ca.example").await;
    let (case, food) = referred_food_case(&daemon, &c, "LC-0001").await;

    // The food bank declines: the case page proposes the plan's next food bank.
    let (_, referral) = daemon.get(&format!("/v1/referrals/{food}"), referrals_util::TOKEN).await;
    let voucher = referral["partner_reference"].as_str().unwrap();
    sandbox
        .set_voucher_status(
            voucher,
            pathways_sandbox::VoucherStatus::Declined,
            Some(pathways_sandbox::VoucherReason::NoCapacity),
        )
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let page = loop {
        let page = get(&c, &daemon, &format!("/cases/{case}")).await;
        if page.body.contains("what to try next") {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "no proposal: {}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(page.body.contains("no capacity"), "{}", page.body);
    let form = [("csrf", csrf(&page.body)), ("referral", food.clone())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let rerouted = post(&c, &daemon, &format!("/cases/{case}/reroute"), &form).await;
    assert_eq!(rerouted.status, 303, "{}", rerouted.body);
    let again = post(&c, &daemon, &format!("/cases/{case}/reroute"), &form).await;
    assert_eq!(again.status, 303, "a second click finds it done");
    let (_, view) = daemon.get(&format!("/v1/cases/{case}"), referrals_util::TOKEN).await;
    let referrals = view["referrals"].as_array().unwrap();
    assert_eq!(referrals.len(), 2, "one new referral: {view}");
    let second = referrals.iter().find(|r| r["id"] != food.as_str()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The client now agrees to no one: the new referral is cancelled, the history kept.
    let consent = get(&c, &daemon, &format!("/cases/{case}/consent")).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains("Live referrals"), "{}", consent.body);
    let token = csrf(&consent.body);
    let bad = post(&c, &daemon, &format!("/cases/{case}/consent"), &[("csrf", &token)]).await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("govuk-error-summary") && bad.body.contains("#basis"),
        "{}",
        bad.body
    );
    let changed = post(
        &c,
        &daemon,
        &format!("/cases/{case}/consent"),
        &[("csrf", &token), ("basis", "consent"), ("share", "none")],
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let (_, second_now) =
        daemon.get(&format!("/v1/referrals/{second}"), referrals_util::TOKEN).await;
    assert_eq!(second_now["cancellation"]["reason"], "consent_withdrawn", "{second_now}");
    let case_page = get(&c, &daemon, &format!("/cases/{case}")).await;
    assert!(case_page.body.contains("What the client agreed before"), "{}", case_page.body);
    assert!(case_page.body.contains("share their details with no one"));

    // A referral page offers the cancel form only while there is something to cancel.
    let page = get(&c, &daemon, &format!("/referrals/{second}")).await;
    assert!(page.body.contains("Cancelled by your organisation"), "{}", page.body);
    assert!(!page.body.contains("Cancel the referral"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pathfinder_cancels_a_referral_with_a_reason_and_a_missing_reason_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "fi@ca.example", "Fi");
    let c = set_password_and_sign_in(&daemon, &link, "fi@ca.example").await;
    let (_, food) = referred_food_case(&daemon, &c, "LC-0002").await;
    let page = get(&c, &daemon, &format!("/referrals/{food}")).await;
    assert!(page.body.contains("Cancel the referral"), "{}", page.body);
    let token = csrf(&page.body);
    let path = format!("/referrals/{food}/cancel");
    let missing = post(&c, &daemon, &path, &[("csrf", &token), ("note", "moved away")]).await;
    assert_eq!(missing.status, 422);
    assert!(missing.body.contains("Select why the referral is being cancelled"));
    assert!(missing.body.contains("moved away"), "what was typed is kept");
    let done = post(
        &c,
        &daemon,
        &path,
        &[("csrf", &token), ("reason", "helped_elsewhere"), ("note", "moved away")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let page = get(&c, &daemon, &format!("/referrals/{food}")).await;
        if page.body.contains("Confirmed the cancellation") {
            assert!(page.body.contains("The need is being met elsewhere"), "{}", page.body);
            assert!(page.body.contains("moved away"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Partner staff never see the pathfinder's note.
    let link = add_user(&daemon, "foodbank-test", "partner", "sam@food.example", "Sam");
    let staff = set_password_and_sign_in(&daemon, &link, "sam@food.example").await;
    let seen = get(&staff, &daemon, &format!("/referrals/{food}")).await;
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains("moved away") && !seen.body.contains("Cancel the referral"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wellbeing_is_asked_at_intake_and_at_a_follow_up_and_small_groups_stay_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "fi@ca.example", "Fi");
    let c = set_password_and_sign_in(&daemon, &link, "fi@ca.example").await;

    // Intake: one answer given without the others is named; all four are kept.
    let form = get(&c, &daemon, "/cases/new").await;
    assert!(form.body.contains("How the client feels (optional)"), "{}", form.body);
    let token = csrf(&form.body);
    let mut fields = case_form(&token, "WB-0001");
    fields.retain(|(k, _)| !k.ends_with("-2"));
    let mut partial = fields.clone();
    partial.push(("wb-life_satisfaction", "3"));
    let refused = post(&c, &daemon, "/cases/new", &partial).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("#wb-anxiety"), "the summary links to each missing answer");
    assert!(refused.body.contains("id=\"wb-anxiety-error\""), "and the field shows it too");
    for (k, v) in [
        ("wb-life_satisfaction", "3"),
        ("wb-worthwhile", "4"),
        ("wb-happiness", "2"),
        ("wb-anxiety", "9"),
    ] {
        fields.push((k, v));
    }
    let created = post(&c, &daemon, "/cases/new", &fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let case = case_id(created.location.as_deref().unwrap());
    let (_, view) = daemon.get(&format!("/v1/cases/{case}"), referrals_util::TOKEN).await;
    assert_eq!(
        view["case"]["wellbeing"],
        serde_json::json!({"life_satisfaction": 3, "worthwhile": 4, "happiness": 2, "anxiety": 9})
    );

    // The follow-up: nothing answered is named; then the need and the four questions.
    let page = get(&c, &daemon, &format!("/cases/{case}/follow-up")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf(&page.body);
    let path = format!("/cases/{case}/follow-up");
    let empty = post(&c, &daemon, &path, &[("csrf", &token), ("met-n1", "")]).await;
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("Record at least one answer"), "{}", empty.body);
    let done = post(
        &c,
        &daemon,
        &path,
        &[
            ("csrf", &token),
            ("met-n1", "met"),
            ("wb-life_satisfaction", "6"),
            ("wb-worthwhile", "6"),
            ("wb-happiness", "6"),
            ("wb-anxiety", "4"),
        ],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let case_page = get(&c, &daemon, &format!("/cases/{case}")).await;
    assert!(case_page.body.contains("Food: yes, it was met"), "{}", case_page.body);
    assert!(case_page.body.contains("wellbeing questions answered"));

    // One client is too few to report on: the dashboard says so, without figures.
    let link = add_user(&daemon, ORG, "coordinator", "co@ca.example", "Co");
    let coordinator = set_password_and_sign_in(&daemon, &link, "co@ca.example").await;
    let plan_page = get(&c, &daemon, &format!("/cases/{case}/plan")).await;
    post(&c, &daemon, &format!("/cases/{case}/plan"), &[("csrf", &csrf(&plan_page.body))]).await;
    let (status, body) = daemon.refer(&case, "wb-1", "{}").await;
    assert_eq!(status, 202, "{body}");
    let id = body["referrals"][0]["id"].as_str().unwrap().to_string();
    daemon.settled(&[id], std::time::Duration::from_secs(30)).await;
    let dashboard = get(&coordinator, &daemon, "/dashboard").await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains("What changed for clients"), "{}", dashboard.body);
    assert!(dashboard.body.contains("Not shown: too few to keep anonymous"), "{}", dashboard.body);
    assert!(!dashboard.body.contains("Met 1,"), "no figures for a group of one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_sets_when_to_follow_up_and_pathfinders_see_who_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox().await;
    let daemon = console_util::start(dir.path(), &sandbox, "").await;
    let link = add_user(&daemon, ORG, "pathfinder", "fu@ca.example", "Fu");
    let pathfinder = set_password_and_sign_in(&daemon, &link, "fu@ca.example").await;
    let (case, food) = referred_food_case(&daemon, &pathfinder, "FU-0001").await;
    let (_, referral) = daemon.get(&format!("/v1/referrals/{food}"), referrals_util::TOKEN).await;
    let voucher = referral["partner_reference"].as_str().expect("a voucher").to_string();
    sandbox.set_voucher_status(&voucher, pathways_sandbox::VoucherStatus::Redeemed, None).unwrap();
    let completed = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let (_, r) = daemon.get(&format!("/v1/referrals/{food}"), referrals_util::TOKEN).await;
            if r["state"] == "completed" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(completed.is_ok(), "the referral completes");
    let record = format!("/cases/{case}/follow-up");
    let home = get(&pathfinder, &daemon, "/").await;
    assert!(
        home.body.contains("Clients due a follow-up")
            && home.body.contains("No client is due a follow-up")
            && home.body.contains("8 weeks after"),
        "{}",
        home.body
    );

    // Eight weeks and a day on (the referral's end moved back), the client is due.
    let db = rusqlite::Connection::open(dir.path().join("pathways.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute(
        "UPDATE referrals SET state_changed_at = state_changed_at - ?1",
        [57_i64 * 86_400 * 1_000_000],
    )
    .unwrap();
    let home = get(&pathfinder, &daemon, "/").await;
    assert!(home.body.contains(&record) && home.body.contains("FU-0001"), "{}", home.body);

    // Only coordinators change the schedule; a bad number is named on the page.
    assert_eq!(get(&pathfinder, &daemon, "/follow-up-schedule").await.status, 403);
    let link = add_user(&daemon, ORG, "coordinator", "fc@ca.example", "Fc");
    let coordinator = set_password_and_sign_in(&daemon, &link, "fc@ca.example").await;
    let form = get(&coordinator, &daemon, "/follow-up-schedule").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("(the default)"), "{}", form.body);
    assert!(form.body.contains(r#"name="weeks" type="text" value="8""#), "{}", form.body);
    let token = csrf(&form.body);
    for bad in ["", "abc", "53", "-1", "2.5"] {
        let page =
            post(&coordinator, &daemon, "/follow-up-schedule", &[("csrf", &token), ("weeks", bad)])
                .await;
        assert_eq!(page.status, 422, "{bad}: {}", page.body);
        assert!(
            page.body.contains("govuk-error-summary") && page.body.contains("#weeks"),
            "{bad}: {}",
            page.body
        );
    }
    let saved =
        post(&coordinator, &daemon, "/follow-up-schedule", &[("csrf", &token), ("weeks", "10")])
            .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some("/dashboard#follow-ups"));
    let dashboard = get(&coordinator, &daemon, "/dashboard").await;
    assert!(
        dashboard.body.contains("10 weeks after their last referral ends"),
        "{}",
        dashboard.body
    );
    let (_, schedule) = daemon.get("/v1/follow-ups/schedule", referrals_util::TOKEN).await;
    assert_eq!(schedule["after_days"], 70, "{schedule}");
    let home = get(&pathfinder, &daemon, "/").await;
    assert!(!home.body.contains(&record), "ten weeks have not passed: {}", home.body);
    post(&coordinator, &daemon, "/follow-up-schedule", &[("csrf", &token), ("weeks", "0")]).await;
    let home = get(&pathfinder, &daemon, "/").await;
    assert!(!home.body.contains("Clients due a follow-up"), "none scheduled: {}", home.body);
}
