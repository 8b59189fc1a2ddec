//! Shared by the `referrals_*` tests: a real `pathways serve` over real HTTP with the food bank
//! sandbox, one store file (or PostgreSQL schema) that survives restarts, and helpers to refer.

#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pathways_daemon::hash_token;
use pathways_sandbox::Sandbox;
use pathways_testkit::{plugin_dir, workspace_root};
use serde_json::Value;

pub const TOKEN: &str = "pwk_referrals-test-token-0123456789abcdef0123456789ab";
pub const COORDINATOR: &str = "pwk_referrals-coord-token-0123456789abcdef0123456789ab";
pub const OTHER_ORG: &str = "pwk_referrals-other-token-0123456789abcdef0123456789ab";
pub const ORG: &str = "citizens-advice-kc";
/// A pathfinder key of the NHS partner's own organisation (its id is the partner id).
pub const NHS_STAFF: &str = "pwk_referrals-nhsst-token-0123456789abcdef0123456789ab";
/// A coordinator of `another-org`.
pub const OTHER_COORDINATOR: &str = "pwk_referrals-ocoor-token-0123456789abcdef0123456789ab";
/// An admin of `ORG`.
pub const ADMIN: &str = "pwk_referrals-admin-token-0123456789abcdef0123456789ab";
/// The food bank's callback secret (Standard Webhooks `whsec_` form) and its variable.
pub const FOOD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const NHS_SECRET: &str = "whsec_c2Vjb25kLXNlY3JldC1mb3ItdGhlLW5ocw==";

/// A case with one need, food, shared with `share_with` (a JSON value).
pub fn case_json(reference: &str, share_with: Value) -> String {
    serde_json::json!({
        "reference": reference,
        "channel": "phone",
        "referrer": {"organisation": ORG, "worker": "pf-17"},
        "client": {
            "name": "Test Person", "date_of_birth": "1980-01-02", "postcode": "W10 5AB",
            "local_authority": "E09000020", "phone": "07700 900123", "email": null,
            "preferred_language": "en", "safe_contact": false,
            "household": {"adults": 1, "children_ages": [7]}
        },
        "needs": [{"code": "food", "urgency": "urgent"}],
        "circumstances": [],
        "consent": {"lawful_basis": "consent", "share_with": share_with,
                    "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}
    })
    .to_string()
}

/// Where the daemon keeps its data.
#[derive(Debug, Clone)]
pub enum Storage {
    Sqlite(PathBuf),
    Postgres(String),
}

/// The data key file of the daemons keeping their files in `dir`, made on first use.
pub fn key_file(dir: &Path) -> PathBuf {
    let path = dir.join("data.key");
    if !path.exists() {
        std::fs::write(&path, pathways_store::DataKeys::generate_entry()).expect("key written");
    }
    path
}

/// The data keys those daemons seal with, for a test that opens their store itself.
pub fn data_keys(dir: &Path) -> pathways_store::DataKeys {
    let text = std::fs::read_to_string(key_file(dir)).expect("key file");
    pathways_store::DataKeys::parse(&text).expect("key parses")
}

fn write_config(
    path: &Path,
    port: u16,
    storage: &Storage,
    sandbox: &Sandbox,
    lease_ms: u64,
    extra: &str,
) {
    let key_file = key_file(path.parent().expect("config in a folder"));
    let url = match storage {
        Storage::Sqlite(db) => format!("sqlite://{}", db.display()),
        Storage::Postgres(url) => url.clone(),
    };
    let key = |id: &str, org: &str, role: &str, token: &str| {
        format!(
            "[[api_keys]]\nid = \"{id}\"\norganisation = \"{org}\"\nrole = \"{role}\"\nhash = \"{}\"\n",
            hash_token(token)
        )
    };
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
shutdown_grace_ms = 3000
[storage]
url = "{url}"
key_file = "{key_file}"
[orchestrator]
plan_deadline_ms = 8000
partner_timeout_ms = 6000
# Sends go through the partner's breaker too: its cool-down is compressed like the backoff.
breaker_cooldown_ms = 1000
[plugins]
dir = "{plugins}"
[dispatch]
poll_interval_ms = 50
concurrency = 8
lease_ms = {lease_ms}
send_timeout_ms = {send_timeout}
max_attempts = 10
backoff_base_ms = 100
backoff_cap_ms = 800
status_poll_base_ms = 200
status_poll_cap_ms = 1000
stats_refresh_ms = 500

{k1}
{k2}
{k3}
{k4}
{k5}
{k6}
[[partners]]
id = "foodbank-test"
plugin = "foodbank"
areas = ["E09000020"]
webhook_secret_env = "PATHWAYS_TEST_FOOD_WHSEC"
[partners.settings]
base_url = "{food_url}"

[[partners]]
id = "nhs-test"
plugin = "nhs"
areas = ["E09000020"]
webhook_secret_env = "PATHWAYS_TEST_NHS_WHSEC"
[partners.settings]
base_url = "{nhs_url}"

{extra}
"#,
        plugins = plugin_dir().display(),
        key_file = key_file.display(),
        send_timeout = lease_ms / 2,
        k1 = key("pf", ORG, "pathfinder", TOKEN),
        k2 = key("coord", ORG, "coordinator", COORDINATOR),
        k3 = key("other-pf", "another-org", "pathfinder", OTHER_ORG),
        k4 = key("nhs-staff", "nhs-test", "pathfinder", NHS_STAFF),
        k5 = key("other-coord", "another-org", "coordinator", OTHER_COORDINATOR),
        k6 = key("admin", ORG, "admin", ADMIN),
        food_url = sandbox.foodbank_url(),
        nhs_url = sandbox.nhs_url(),
    );
    std::fs::write(path, text).expect("config written");
}

/// A running `pathways serve`, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Starts a daemon keeping its files in `dir` (reused across restarts).
    pub async fn start(dir: &Path, storage: &Storage, sandbox: &Sandbox, lease_ms: u64) -> Daemon {
        Self::start_with_env(dir, storage, sandbox, lease_ms, &[]).await
    }

    /// The same, with `extra` appended to the configuration (more partners, organisations).
    pub async fn start_with_config(
        dir: &Path,
        storage: &Storage,
        sandbox: &Sandbox,
        extra: &str,
    ) -> Daemon {
        Self::launch(dir, storage, sandbox, 2000, &[], extra).await
    }

    /// The same, with extra environment (e.g. `PATHWAYS__DISPATCH__ENABLED`).
    pub async fn start_with_env(
        dir: &Path,
        storage: &Storage,
        sandbox: &Sandbox,
        lease_ms: u64,
        env: &[(&str, &str)],
    ) -> Daemon {
        Self::launch(dir, storage, sandbox, lease_ms, env, "").await
    }

    /// The same, with `extra` configuration and extra environment.
    pub async fn start_with(
        dir: &Path,
        storage: &Storage,
        sandbox: &Sandbox,
        env: &[(&str, &str)],
        extra: &str,
    ) -> Daemon {
        Self::launch(dir, storage, sandbox, 2000, env, extra).await
    }

    async fn launch(
        dir: &Path,
        storage: &Storage,
        sandbox: &Sandbox,
        lease_ms: u64,
        env: &[(&str, &str)],
        extra: &str,
    ) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.join(format!("pathways-{port}.toml"));
        write_config(&config, port, storage, sandbox, lease_ms, extra);
        let log = dir.join(format!("stderr-{port}.log"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_pathways"));
        command
            .current_dir(workspace_root())
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("PATHWAYS_CONFIG")
            .env("RUST_LOG", "info")
            .env("PATHWAYS_TEST_FOOD_WHSEC", FOOD_SECRET)
            .env("PATHWAYS_TEST_NHS_WHSEC", NHS_SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&log).unwrap()));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PATHWAYS__")) {
            command.env_remove(key);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("pathways serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let daemon = Daemon { child, base, dir: dir.to_path_buf(), log, config };
        daemon.wait_ready().await;
        daemon
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", self.base)).await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "not ready in time; log:\n{}", self.stderr());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGHUP and waits until the reload is logged as applied.
    pub async fn reload(&self) {
        let before = self.stderr().matches("configuration reloaded").count();
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.stderr().matches("configuration reloaded").count() == before {
            assert!(Instant::now() < deadline, "reload not applied:\n{}", self.stderr());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no flush, leases left behind.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("reaped");
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.request(reqwest::Method::GET, path, token, &[], None).await
    }

    /// Creates and plans a case; returns its id and plan.
    pub async fn planned_case(&self, reference: &str, share_with: Value) -> (String, Value) {
        self.plan_case(case_json(reference, share_with)).await
    }

    /// Creates the case `body` and plans it; returns its id and plan.
    pub async fn plan_case(&self, body: String) -> (String, Value) {
        let post = reqwest::Method::POST;
        let (status, created) =
            self.request(post.clone(), "/v1/cases", TOKEN, &[], Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        let (status, plan) =
            self.request(post, &format!("/v1/cases/{id}/plan"), TOKEN, &[], None).await;
        assert_eq!(status, 201, "{plan}");
        (id, plan)
    }

    /// Refers every `refer` step of a case under `key`.
    pub async fn refer(&self, case_id: &str, key: &str, body: &str) -> (u16, Value) {
        let path = format!("/v1/cases/{case_id}/referrals");
        let headers = [("idempotency-key", key)];
        self.request(reqwest::Method::POST, &path, TOKEN, &headers, Some(body.into())).await
    }

    /// A planned food case referred to the food bank; returns the referral id.
    pub async fn one_food_referral(&self, reference: &str) -> String {
        let (case_id, plan) = self.planned_case(reference, "planned_partners".into()).await;
        let step = &plan["steps"][0];
        assert_eq!(
            (step["action"].as_str(), step["partner"]["id"].as_str()),
            (Some("refer"), Some("foodbank-test")),
            "{plan}"
        );
        let (status, body) = self.refer(&case_id, &format!("key-{reference}"), "{}").await;
        assert_eq!(status, 202, "{body}");
        body["referrals"][0]["id"].as_str().unwrap().to_string()
    }

    /// Waits until every referral has left `draft` (delivered or failed); returns them.
    pub async fn settled(&self, ids: &[String], within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let mut all = Vec::new();
            for id in ids {
                let (status, referral) = self.get(&format!("/v1/referrals/{id}"), TOKEN).await;
                assert_eq!(status, 200, "{referral}");
                all.push(referral);
            }
            if all.iter().all(|r| r["dispatch"]["state"] != "pending") {
                return all;
            }
            let pending: Vec<&Value> =
                all.iter().filter(|r| r["dispatch"]["state"] == "pending").collect();
            assert!(
                Instant::now() < deadline,
                "still pending: {pending:#?}\nlog:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A PostgreSQL schema of one test's own, dropped when this is dropped.
pub struct PgSchema {
    /// The server's URL, as `PATHWAYS_TEST_POSTGRES_URL` gives it.
    pub admin: String,
    /// The schema's name.
    pub schema: String,
    /// The daemon's storage: the server, with the schema first on the search path.
    pub storage: Storage,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        psql(
            &self.admin,
            &format!(
                "SET client_min_messages = warning; DROP SCHEMA IF EXISTS {} CASCADE",
                self.schema
            ),
        );
    }
}

/// A fresh schema for `test`, or `None`, said loudly, when `PATHWAYS_TEST_POSTGRES_URL` is
/// not set.
pub fn postgres_schema(test: &str) -> Option<PgSchema> {
    let Ok(admin) = std::env::var("PATHWAYS_TEST_POSTGRES_URL") else {
        use std::io::Write;
        let line = format!("SKIPPED: {test} (set PATHWAYS_TEST_POSTGRES_URL)\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let schema = format!("pathways_test_{:x}{:x}", nanos % (1 << 40), std::process::id());
    psql(&admin, &format!("CREATE SCHEMA {schema}"));
    let sep = if admin.contains('?') { '&' } else { '?' };
    let storage = Storage::Postgres(format!("{admin}{sep}options=-c%20search_path%3D{schema}"));
    Some(PgSchema { admin, schema, storage })
}

/// Runs SQL with `psql`; panics naming it when it fails.
pub fn psql(url: &str, sql: &str) {
    let status = Command::new("psql").arg(url).args(["-q", "-c", sql]).status().expect("psql runs");
    assert!(status.success(), "psql failed: {sql}");
}

/// Runs a query with `psql` and returns its unaligned output.
pub fn psql_output(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-q", "-t", "-A", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "psql failed: {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
