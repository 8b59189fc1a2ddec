//! The console in a real browser: Debian's Chromium, driven through chromedriver (WebDriver)
//! from Rust, against a real `pathways serve` and the sandbox on loopback.
//!
//! One pathfinder's day: set a password from the one-time link, sign in, take a case with
//! two needs (one of them housing, so the Duty to Refer questions come), watch the partners
//! answer live, change the plan with the client, check what each partner will receive, send,
//! see the food bank's referral reach `completed` when the sandbox's voucher is redeemed,
//! print the client's copy, sign out. Then partner staff see only what was sent to them, a
//! coordinator's dashboard counts the referral, an administrator sees the partners. Every
//! page is checked with axe-core (WCAG 2.2 A and AA, zero violations), keyboard use and
//! visible focus are checked, and each page is photographed (into `docs/console/` when
//! `PATHWAYS_UPDATE_SCREENSHOTS=1`, else into `target/console-screenshots/`).
//!
//! Without Chromium and chromedriver (`.ci/run` installs them) it prints a SKIPPED line.

mod console_util;
mod referrals_util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use console_util::{add_user, PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use pathways_sandbox::{Sandbox, SandboxConfig, VoucherStatus};
use pathways_testkit::workspace_root;
use referrals_util::{Daemon, ORG};
use serde_json::{json, Value};

/// Chromium and chromedriver, if this machine has them.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file())
            })
        })
    };
    Some((find(&["chromium", "chromium-browser", "google-chrome"])?, find(&["chromedriver"])?))
}

struct Browser {
    driver: Child,
    client: Client,
    base: String,
    shots: PathBuf,
    axe: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `javascript` off runs the pages
    /// as a browser without scripts would.
    async fn start(base: &str, javascript: bool) -> Option<Browser> {
        let Some((chromium, chromedriver)) = tools() else {
            println!(
                "SKIPPED: the console's browser tests need chromium and chromedriver on PATH \
                 (apt-get install chromium chromium-driver; .ci/run does this)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
            "--lang=en-GB",
        ];
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false");
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({ "binary": chromium, "args": args }));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) => {
                    assert!(Instant::now() < deadline, "chromedriver did not start: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let shots = if std::env::var_os("PATHWAYS_UPDATE_SCREENSHOTS").is_some() {
            workspace_root().join("docs/console")
        } else {
            workspace_root().join("target/console-screenshots")
        };
        std::fs::create_dir_all(&shots).unwrap();
        let axe = std::fs::read_to_string(
            workspace_root().join("crates/pathways-console/assets/axe/axe.min.js"),
        )
        .expect("the vendored axe-core");
        Some(Browser { driver, client, base: base.to_string(), shots, axe })
    }

    async fn go(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("page opens");
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    async fn body(&self) -> String {
        self.client.source().await.unwrap()
    }

    async fn fill(&self, id: &str, text: &str) {
        let field =
            self.client.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("#{id}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Ticks a radio or checkbox by clicking its label, as a person would.
    async fn tick(&self, id: &str) {
        let label = format!("label[for='{id}']");
        self.client
            .find(Locator::Css(&label))
            .await
            .unwrap_or_else(|e| panic!("{label}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn select(&self, id: &str, value: &str) {
        self.client.find(Locator::Id(id)).await.unwrap().select_by_value(value).await.unwrap();
    }

    /// Presses the button whose text is `text`.
    async fn press(&self, text: &str) {
        let xpath = format!("//button[normalize-space()='{text}'] | //a[@role='button' and normalize-space()='{text}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("button {text}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn link(&self, text: &str) {
        self.client
            .find(Locator::LinkText(text))
            .await
            .unwrap_or_else(|e| panic!("link {text}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Waits until the page's path is `path`.
    /// Waits for the page to show `text` (a form answered at its own address).
    async fn wait_text(&self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let body = self.body().await;
            if body.contains(text) {
                return body;
            }
            assert!(Instant::now() < deadline, "no `{text}` in:\n{body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_path(&self, path: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.path().await != path {
            assert!(
                Instant::now() < deadline,
                "not at {path} but {}:\n{}",
                self.path().await,
                self.body().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// axe-core on the page: WCAG 2.0, 2.1 and 2.2, A and AA; no violation allowed.
    async fn axe(&self, page: &str) {
        self.client.execute(&self.axe, vec![]).await.expect("axe loads");
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
              .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.failureSummary) }))))
              .catch(e => done([{ id: 'axe-error', help: String(e) }]));";
        let violations = self.client.execute_async(script, vec![]).await.expect("axe runs");
        let list = violations.as_array().cloned().unwrap_or_default();
        assert!(
            list.is_empty(),
            "axe found WCAG violations on {page}: {}",
            serde_json::to_string_pretty(&violations).unwrap()
        );
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Checks the page with axe and photographs it.
    async fn check(&self, name: &str) {
        self.axe(name).await;
        self.shot(name).await;
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("script runs")
    }

    async fn sign_in(&self, email: &str) {
        self.go("/sign-in").await;
        self.fill("email", email).await;
        self.fill("password", PASSWORD).await;
        self.press("Sign in").await;
        self.wait_path("/", Duration::from_secs(10)).await;
    }

    async fn sign_out(&self) {
        let Ok(button) = self.client.find(Locator::Css("form[action='/sign-out'] button")).await
        else {
            panic!("no sign-out button at {}:\n{}", self.path().await, self.body().await);
        };
        button.click().await.unwrap();
        self.wait_path("/sign-in", Duration::from_secs(10)).await;
    }

    async fn set_password(&self, link: &str) {
        self.go(link).await;
        self.fill("password", PASSWORD).await;
        self.fill("confirm", PASSWORD).await;
        self.press("Set password").await;
        self.wait_path("/sign-in", Duration::from_secs(10)).await;
    }
}

const EXTRA: &str = r#"
[organisations.citizens-advice-kc]
name = "Citizens Advice Kensington and Chelsea"
network = "citizens-advice"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pathfinders_day_in_a_real_browser_with_every_page_accessible() {
    if tools().is_none() {
        println!("SKIPPED: a_pathfinders_day_in_a_real_browser_with_every_page_accessible needs chromium and chromedriver");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let daemon = console_util::start(dir.path(), &sandbox, EXTRA).await;
    let pathfinder = add_user(&daemon, ORG, "pathfinder", "pat@ca.example", "Pat Pathfinder");
    let Some(b) = Browser::start(&daemon.base, true).await else { return };

    // Set a password from the one-time link; sign in.
    b.go(&pathfinder).await;
    b.check("set-password").await;
    b.set_password(&pathfinder).await;
    b.check("sign-in").await;
    b.sign_in("pat@ca.example").await;

    // Keyboard: the first Tab reaches the skip link, which is visibly focused.
    b.js("document.activeElement.blur(); window.scrollTo(0, 0);").await;
    b.client.find(Locator::Css("body")).await.unwrap().send_keys("\u{E004}").await.unwrap();
    let focused = b.js("const e = document.activeElement; return [e.className, getComputedStyle(e).backgroundColor, getComputedStyle(e).outlineStyle];").await;
    assert!(focused[0].as_str().unwrap().contains("govuk-skip-link"), "first Tab: {focused}");
    assert!(
        focused[1] == "rgb(255, 221, 0)" || focused[2] != "none",
        "focus is visible: {focused}"
    );
    // Enter follows the skip link to the main content.
    b.client
        .find(Locator::Css(".govuk-skip-link"))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    let active = b.js("return document.activeElement.id").await;
    assert_eq!(active, "main-content", "the skip link moves focus to the main content");
    b.js("document.activeElement.blur()").await;
    b.check("home").await;

    // A new case: nothing filled in first, so the error summary shows, takes focus and links
    // to the fields.
    b.link("New case").await;
    b.wait_path("/cases/new", Duration::from_secs(5)).await;
    b.check("new-case").await;
    b.press("Continue").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let active = b.js("return document.activeElement.className").await;
        if active.as_str().unwrap_or("").contains("govuk-error-summary") {
            break;
        }
        assert!(Instant::now() < deadline, "the error summary did not take focus: {active}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(b.body().await.contains("Enter the client's full name"));
    b.check("new-case-errors").await;

    b.fill("reference", "WEB-0001").await;
    b.tick("channel").await;
    b.fill("name", "Grace Hopper").await;
    b.fill("dob-day", "9").await;
    b.fill("dob-month", "12").await;
    b.fill("dob-year", "1976").await;
    b.fill("postcode", "W10 5AB").await;
    b.fill("local_authority", "E09000020").await;
    b.fill("phone", "07700 900456").await;
    b.fill("adults", "1").await;
    b.select("need-1", "food").await;
    b.select("urgency-1", "urgent").await;
    b.fill("notes-1", "cupboards empty").await;
    b.select("need-2", "housing_homelessness").await;
    b.select("urgency-2", "soon").await;
    b.tick("basis").await;
    b.tick("share").await;
    b.press("Continue").await;
    // A housing need: the Duty to Refer questions, on their own page.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.body().await.contains("Duty to Refer") {
        assert!(Instant::now() < deadline, "no Duty to Refer page:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.check("duty-to-refer").await;
    b.tick("refer").await;
    b.tick("share_contact").await;
    b.press("Save the case").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.path().await.starts_with("/cases/") || b.path().await == "/cases/new" {
        assert!(Instant::now() < deadline, "the case was not saved:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let case_path = b.path().await;
    let case_id = case_path.trim_start_matches("/cases/").to_string();
    b.check("case-new").await;

    // Make the plan: partners' answers arrive live, then the plan.
    b.press("Make the plan").await;
    b.wait_path(&format!("{case_path}/plan"), Duration::from_secs(5)).await;
    b.check("planning").await;
    b.press("Ask the partners and make the plan").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !b.body().await.contains("Version 1") {
        assert!(Instant::now() < deadline, "no plan:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.check("plan").await;

    // Change the plan with the client: their own action.
    b.fill("client-action", "take the voucher to the church hall").await;
    b.press("Add to their plan").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.body().await.contains("Version 2") {
        assert!(Instant::now() < deadline, "not amended:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Check what the food bank will receive, and send.
    b.press("Check and send referrals").await;
    b.wait_path(&format!("{case_path}/plan/check"), Duration::from_secs(5)).await;
    let check = b.body().await;
    assert!(check.contains("Grace Hopper") && check.contains("W10 5AB"), "{check}");
    b.check("check").await;
    b.press("Send referrals").await;
    b.wait_path(&format!("{case_path}/sent"), Duration::from_secs(10)).await;
    b.check("sent").await;

    // The food bank's referral is delivered; when the client redeems the voucher it is
    // completed, and the case page shows it.
    let (status, view) = daemon.get(&format!("/v1/cases/{case_id}"), referrals_util::TOKEN).await;
    assert_eq!(status, 200, "{view}");
    let food = view["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["partner_id"] == "foodbank-test")
        .cloned()
        .expect("a food referral");
    let food_id = food["id"].as_str().unwrap().to_string();
    let settled = daemon.settled(std::slice::from_ref(&food_id), Duration::from_secs(30)).await;
    let voucher =
        settled[0]["partner_reference"].as_str().expect("the food bank's voucher").to_string();
    sandbox.set_voucher_status(&voucher, VoucherStatus::Redeemed, None).unwrap();
    b.go(&case_path).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !b.body().await.contains("Completed") {
        assert!(
            Instant::now() < deadline,
            "the referral did not reach completed:\n{}",
            b.body().await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.go(&case_path).await;
    }
    b.check("case").await;

    // The client's copy, printed on A4: the plan, without the console around it.
    b.go(&format!("{case_path}/copy")).await;
    b.check("client-copy").await;
    let pdf = b
        .client
        .print(
            fantoccini::wd::PrintConfiguration::builder()
                .size(fantoccini::wd::PrintSize { width: 21.0, height: 29.7 })
                .build()
                .unwrap(),
        )
        .await
        .expect("the copy prints");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    print_has_only_the_plan(&pdf, dir.path());
    b.sign_out().await;

    // Partner staff of the food bank: the referral as sent to them, nothing else.
    let staff =
        add_user(&daemon, "foodbank-test", "partner", "staff@foodbank.example", "Sam Staff");
    b.set_password(&staff).await;
    b.sign_in("staff@foodbank.example").await;
    let home = b.body().await;
    assert!(home.contains("Referrals sent to you") && home.contains("Food"), "{home}");
    b.check("partner-home").await;
    b.go(&format!("/referrals/{food_id}")).await;
    let referral = b.body().await;
    assert!(
        referral.contains("What was sent to you") && referral.contains("Grace Hopper"),
        "{referral}"
    );
    assert!(!referral.contains("housing"), "the housing need was not sent to the food bank");
    b.check("partner-referral").await;
    b.go(&case_path).await;
    assert!(b.body().await.contains("You cannot use this page"), "partner staff do not read cases");
    b.check("error-403").await;
    // The error page keeps the header: they sign out from it.
    b.sign_out().await;

    // A coordinator's dashboard counts the referral.
    let coordinator = add_user(&daemon, ORG, "coordinator", "cora@ca.example", "Cora Coordinator");
    b.set_password(&coordinator).await;
    b.sign_in("cora@ca.example").await;
    b.link("Dashboard").await;
    b.wait_path("/dashboard", Duration::from_secs(5)).await;
    let dashboard = b.body().await;
    assert!(dashboard.contains("foodbank-test") || dashboard.contains("Food"), "{dashboard}");
    b.check("dashboard").await;
    // ...and sets when clients are due a follow-up: a wrong number is named on the page.
    b.link("Change when to follow up").await;
    b.wait_path("/follow-up-schedule", Duration::from_secs(5)).await;
    b.check("follow-up-schedule").await;
    b.fill("weeks", "six").await;
    b.press("Save").await;
    let refused = b.wait_text("There is a problem", Duration::from_secs(5)).await;
    assert!(refused.contains("Enter a whole number of weeks"), "{refused}");
    b.check("follow-up-schedule-errors").await;
    b.fill("weeks", "6").await;
    b.press("Save").await;
    b.wait_path("/dashboard", Duration::from_secs(5)).await;
    let dashboard = b.body().await;
    assert!(dashboard.contains("6 weeks after their last referral ends"), "{dashboard}");
    b.sign_out().await;

    // An administrator sees the partners.
    let admin = add_user(&daemon, ORG, "admin", "ash@ca.example", "Ash Admin");
    b.set_password(&admin).await;
    b.sign_in("ash@ca.example").await;
    b.link("Partners").await;
    b.wait_path("/partners", Duration::from_secs(5)).await;
    assert!(b.body().await.contains("Answering"));
    b.check("partners").await;
    b.sign_out().await;
    b.client.clone().close().await.ok();
}

/// The printed copy holds the plan and none of the console's navigation, when pdftotext is
/// here to read it (poppler-utils; `.ci/run` installs it).
fn print_has_only_the_plan(pdf: &[u8], dir: &Path) {
    let file = dir.join("copy.pdf");
    std::fs::write(&file, pdf).unwrap();
    let Ok(out) = Command::new("pdftotext").arg(&file).arg("-").output() else {
        println!(
            "SKIPPED (part): pdftotext is not installed, so the printed copy's text is not checked"
        );
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Your plan"), "the printed copy: {text}");
    assert!(
        !text.contains("Sign out") && !text.contains("Back to the plan"),
        "navigation printed: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_a_case_is_taken_and_planned_with_forms_and_redirects() {
    if tools().is_none() {
        println!("SKIPPED: without_javascript_a_case_is_taken_and_planned_with_forms_and_redirects needs chromium and chromedriver");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let daemon: Daemon = console_util::start(dir.path(), &sandbox, EXTRA).await;
    let link = add_user(&daemon, ORG, "pathfinder", "nojs@ca.example", "No Script");
    let Some(b) = Browser::start(&daemon.base, false).await else { return };
    b.set_password(&link).await;
    b.sign_in("nojs@ca.example").await;
    b.go("/cases/new").await;
    b.fill("reference", "NOJS-1").await;
    b.tick("channel").await;
    b.fill("name", "Alan Turing").await;
    b.fill("dob-day", "23").await;
    b.fill("dob-month", "6").await;
    b.fill("dob-year", "1980").await;
    b.fill("postcode", "W10 5AB").await;
    b.fill("local_authority", "E09000020").await;
    b.select("need-1", "food").await;
    b.select("urgency-1", "urgent").await;
    b.press("Add another need").await;
    assert!(b.body().await.contains("id=\"need-4\""), "a fourth need row without JavaScript");
    b.tick("basis").await;
    b.tick("share").await;
    b.press("Continue").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.path().await == "/cases/new" {
        assert!(Instant::now() < deadline, "not saved:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.press("Make the plan").await;
    b.press("Ask the partners and make the plan").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !b.body().await.contains("Version 1") {
        assert!(Instant::now() < deadline, "no plan:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // (axe needs JavaScript; the pages are the same ones the other test checks with it.)
    assert!(b.body().await.contains("Say to the client"));
    b.client.clone().close().await.ok();
}

/// A partner without an API (`kind = "inbox"`) in Shropshire, where only it serves loneliness.
const INBOX: &str = r#"
[[partners]]
id = "ludlow-befriending"
name = "Ludlow Good Neighbours"
kind = "inbox"
areas = ["E06000051"]
[partners.settings]
needs = ["social_isolation"]
shares = ["name", "phone", "postcode"]
[[partners.settings.services]]
id = "befriending"
name = "Telephone befriending"
phone = "01632 960112"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_partners_staff_accept_and_complete_a_referral_in_a_real_browser() {
    if tools().is_none() {
        println!("SKIPPED: an_inbox_partners_staff_accept_and_complete_a_referral_in_a_real_browser needs chromium and chromedriver");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let daemon = console_util::start(dir.path(), &sandbox, &format!("{EXTRA}{INBOX}")).await;
    // A pathfinder refers a lonely client in Shropshire through the API.
    let case = referrals_util::case_json("WEB-LB-1", "planned_partners".into())
        .replace("\"code\":\"food\"", "\"code\":\"social_isolation\"")
        .replace("E09000020", "E06000051")
        .replace("W10 5AB", "SY8 1AA");
    let (case_id, _) = daemon.plan_case(case).await;
    let (status, accepted) = daemon.refer(&case_id, "key-WEB-LB-1", "{}").await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["referrals"][0]["id"].as_str().unwrap().to_string();
    daemon.settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;

    let staff = add_user(&daemon, "ludlow-befriending", "partner", "gn@ludlow.example", "Glen");
    let Some(b) = Browser::start(&daemon.base, true).await else { return };
    b.set_password(&staff).await;
    b.sign_in("gn@ludlow.example").await;
    assert!(b.body().await.contains("Change your capacity"));
    b.check("inbox-home").await;

    // The referral as it was sent; the answer form. Saving nothing shows the error summary.
    let href = format!("a[href='/referrals/{id}']");
    b.client
        .find(Locator::Css(&href))
        .await
        .expect("the referral is listed")
        .click()
        .await
        .unwrap();
    b.wait_path(&format!("/referrals/{id}"), Duration::from_secs(5)).await;
    assert!(b.body().await.contains("Test Person"));
    b.check("inbox-referral").await;
    b.press("Save your answer").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.body().await.contains("There is a problem") {
        assert!(Instant::now() < deadline, "no error summary:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.check("inbox-referral-errors").await;

    // Accept it (the first move offered), then complete it (the third from accepted).
    b.tick("state").await;
    b.fill("note", "We will ring on Monday").await;
    b.press("Save your answer").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.get(&format!("/v1/referrals/{id}"), referrals_util::TOKEN).await.1["state"]
        != "accepted"
    {
        assert!(Instant::now() < deadline, "not accepted:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.wait_path(&format!("/referrals/{id}"), Duration::from_secs(5)).await;
    assert!(b.body().await.contains("Completed: the client was helped"));
    b.check("inbox-referral-accepted").await;
    b.tick("state-3").await;
    b.press("Save your answer").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.body().await.contains("This referral has finished") {
        assert!(Instant::now() < deadline, "not completed:\n{}", b.body().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, seen) = daemon.get(&format!("/v1/referrals/{id}"), referrals_util::TOKEN).await;
    assert_eq!(seen["state"], "completed", "{seen}");
    b.check("inbox-referral-completed").await;

    // Their capacity: closed, with a note.
    b.go("/capacity").await;
    b.check("inbox-capacity").await;
    b.tick("state-3").await;
    b.fill("note", "Open again in January").await;
    b.press("Save your capacity").await;
    b.wait_path("/", Duration::from_secs(5)).await;
    assert!(b.body().await.contains("Not taking new referrals"));
    b.sign_out().await;
    b.client.clone().close().await.ok();
}
