//! Shared by the console tests: a real `pathways serve` with the console on plain HTTP on
//! loopback, people added with the real `pathways users add`, and a cookie-keeping client that
//! signs in through the real forms.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use pathways_testkit::workspace_root;

use crate::referrals_util::{Daemon, Storage};

/// The console's settings for tests: plain HTTP on loopback, a low lockout.
pub const CONSOLE: &str = r#"
[console]
secure_cookies = false
lock_after = 3
lock_minutes = 15
address_attempts = 12
"#;

/// A good password.
pub const PASSWORD: &str = "correct horse battery staple";

/// Starts a daemon with the console and `extra` configuration.
pub async fn start(dir: &Path, sandbox: &pathways_sandbox::Sandbox, extra: &str) -> Daemon {
    let db = Storage::Sqlite(dir.join("pathways.db"));
    Daemon::start_with_config(dir, &db, sandbox, &format!("{CONSOLE}\n{extra}")).await
}

/// Runs `pathways users …` against the daemon's configuration; returns stdout, stderr and the
/// exit code.
pub fn users(daemon: &Daemon, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_pathways"))
        .current_dir(workspace_root())
        .arg("users")
        .args(args)
        .arg("--config")
        .arg(&daemon.config)
        .env_remove("PATHWAYS_CONFIG")
        .output()
        .expect("pathways users runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Adds an account with the CLI; returns its one-time link's path and query (`/set-password?…`).
pub fn add_user(
    daemon: &Daemon,
    organisation: &str,
    role: &str,
    email: &str,
    name: &str,
) -> String {
    let (out, err, code) = users(
        daemon,
        &["add", "--organisation", organisation, "--role", role, "--email", email, "--name", name],
    );
    assert_eq!(code, 0, "users add failed: {err}");
    link_path(&out)
}

/// The path of the link a `users` command printed.
pub fn link_path(out: &str) -> String {
    let url = out.split_whitespace().find(|w| w.contains("/set-password?token=")).expect("a link");
    url[url.find("/set-password").unwrap()..].to_string()
}

/// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the first `csrf` field in `html`.
pub fn csrf(html: &str) -> String {
    field_value(html, "csrf").expect("the page has a CSRF field")
}

/// The value of the first hidden or text input named `name`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

/// A page: status, location header, body.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

pub async fn get(client: &reqwest::Client, daemon: &Daemon, path: &str) -> Page {
    page(client.get(format!("{}{path}", daemon.base)).send().await.expect("GET")).await
}

pub async fn post(
    client: &reqwest::Client,
    daemon: &Daemon,
    path: &str,
    form: &[(&str, &str)],
) -> Page {
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let response = client
        .post(format!("{}{path}", daemon.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST");
    page(response).await
}

async fn page(response: reqwest::Response) -> Page {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let location = headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    Page { status, location, body: response.text().await.unwrap_or_default(), headers }
}

/// Sets the password from `link` and signs in; returns the signed-in client.
pub async fn set_password_and_sign_in(daemon: &Daemon, link: &str, email: &str) -> reqwest::Client {
    let client = client();
    let form = get(&client, daemon, link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = field_value(&form.body, "token").expect("token field");
    let csrf = csrf(&form.body);
    let done = post(
        &client,
        daemon,
        "/set-password",
        &[("csrf", &csrf), ("token", &token), ("password", PASSWORD), ("confirm", PASSWORD)],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    sign_in(&client, daemon, email, PASSWORD).await;
    client
}

/// Signs `client` in; panics unless it lands on the home page.
pub async fn sign_in(client: &reqwest::Client, daemon: &Daemon, email: &str, password: &str) {
    let page = try_sign_in(client, daemon, email, password).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/")), "{}", page.body);
}

/// Posts the sign-in form.
pub async fn try_sign_in(
    client: &reqwest::Client,
    daemon: &Daemon,
    email: &str,
    password: &str,
) -> Page {
    let form = get(client, daemon, "/sign-in").await;
    let csrf = csrf(&form.body);
    post(client, daemon, "/sign-in", &[("csrf", &csrf), ("email", email), ("password", password)])
        .await
}

/// The id in a `/cases/{id}` location.
pub fn case_id(location: &str) -> String {
    location.trim_start_matches("/cases/").split('/').next().unwrap().to_string()
}
