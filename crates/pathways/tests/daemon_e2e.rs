//! `pathways serve` end to end: the real binary, the real plugin libraries, the simulated
//! partners in-process, SQLite in a temporary folder, over real HTTP on loopback.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pathways_daemon::hash_token;
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_testkit::{plugin_dir, workspace_root};
use serde_json::Value;

const TOKEN: &str = "pwk_e2e-test-token-0123456789abcdef0123456789abcdef";
const ORG: &str = "citizens-advice-kc";

/// Distinctive personal data: none of it may reach the daemon's logs.
const NAME: &str = "Zebedee Quillfeather-Marmalade";
const DOB: &str = "1977-07-13";
const PHONE: &str = "07700 900987";
const EMAIL: &str = "zq.marmalade@example.org";
const POSTCODE: &str = "W10 6QX";
const NOTES: &str = "sleeping in the blue van behind the laundrette";

fn case_json() -> String {
    serde_json::json!({
        "reference": "E2E-1",
        "channel": "phone",
        "referrer": {"organisation": ORG, "worker": "pf-17"},
        "client": {
            "name": NAME, "date_of_birth": DOB, "postcode": POSTCODE,
            "local_authority": "E09000020", "phone": PHONE, "email": EMAIL,
            "preferred_language": "en", "safe_contact": false,
            "household": {"adults": 1, "children_ages": [7]}
        },
        "needs": [
            {"code": "food", "urgency": "urgent", "notes": NOTES},
            {"code": "mental_health", "urgency": "soon"}
        ],
        "circumstances": ["children_in_household"],
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
                    "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}
    })
    .to_string()
}

/// Writes the configuration: the food bank and NHS partners, each enabled or not.
fn write_config(path: &Path, port: u16, db: &Path, sandbox: &Sandbox, food: bool, nhs: bool) {
    let key_file = path.with_file_name("data.key");
    if !key_file.exists() {
        std::fs::write(&key_file, pathways_store::DataKeys::generate_entry()).expect("key");
    }
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
shutdown_grace_ms = 5000
[storage]
url = "sqlite://{db}"
key_file = "{key_file}"
[orchestrator]
plan_deadline_ms = 8000
partner_timeout_ms = 6000
[plugins]
dir = "{plugins}"

[[api_keys]]
id = "e2e-pathfinder"
organisation = "{ORG}"
role = "pathfinder"
hash = "{hash}"

[[partners]]
id = "foodbank-test"
plugin = "foodbank"
enabled = {food}
areas = ["E09000020"]
[partners.settings]
base_url = "{food_url}"

[[partners]]
id = "nhs-test"
plugin = "nhs"
enabled = {nhs}
areas = ["E09000020"]
[partners.settings]
base_url = "{nhs_url}"
"#,
        db = db.display(),
        key_file = key_file.display(),
        plugins = plugin_dir().display(),
        hash = hash_token(TOKEN),
        food_url = sandbox.foodbank_url(),
        nhs_url = sandbox.nhs_url(),
    );
    std::fs::write(path, text).expect("config written");
}

/// A running `pathways serve`, killed if the test ends without stopping it.
struct Daemon {
    child: Child,
    base: String,
    config: PathBuf,
    log: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    async fn start(sandbox: &Sandbox, food: bool, nhs: bool) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.path().join("pathways.toml");
        write_config(&config, port, &dir.path().join("data/pathways.db"), sandbox, food, nhs);
        let log = dir.path().join("stderr.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_pathways"));
        command
            .current_dir(workspace_root())
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("PATHWAYS_CONFIG")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&log).unwrap()));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PATHWAYS__")) {
            command.env_remove(key);
        }
        let child = command.spawn().expect("pathways serve starts");
        let daemon =
            Daemon { child, base: format!("http://127.0.0.1:{port}"), config, log, dir, port };
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

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    async fn post(&self, path: &str, body: Option<String>) -> (u16, Value) {
        let mut req =
            reqwest::Client::new().post(format!("{}{path}", self.base)).bearer_auth(TOKEN);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let r = req.send().await.expect("request sent");
        (r.status().as_u16(), r.json().await.expect("JSON answer"))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request sent");
        (r.status().as_u16(), r.json().await.expect("JSON answer"))
    }

    async fn create_and_plan(&self) -> Value {
        let (status, created) = self.post("/v1/cases", Some(case_json())).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        let (status, plan) = self.post(&format!("/v1/cases/{id}/plan"), None).await;
        assert_eq!(status, 201, "{plan}");
        plan
    }
}

fn partner_ids(plan: &Value) -> Vec<String> {
    let mut ids: Vec<String> = plan["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["partner_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_plan_and_read_over_real_http_without_personal_data_in_the_logs() {
    let sandbox = sandbox().await;
    let daemon = Daemon::start(&sandbox, true, true).await;
    let (status, created) = daemon.post("/v1/cases", Some(case_json())).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, case) = daemon.get(&format!("/v1/cases/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(case["case"]["client"]["name"], NAME);
    let (status, plan) = daemon.post(&format!("/v1/cases/{id}/plan"), None).await;
    assert_eq!(status, 201, "{plan}");
    assert_eq!(partner_ids(&plan), ["foodbank-test", "nhs-test"]);
    assert!(
        plan["partners"].as_array().unwrap().iter().all(|p| p["outcome"] == "answered"),
        "{plan}"
    );
    let (status, read) = daemon.get(&format!("/v1/cases/{id}/plan")).await;
    assert_eq!(status, 200);
    assert_eq!(read, plan);
    let (status, error) = daemon.post("/v1/cases", Some("{\"reference\": 1".into())).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "invalid_case");

    let log = daemon.stderr();
    assert!(log.contains("plan stored"), "the log test saw the request cycle:\n{log}");
    assert!(log.contains(id), "log lines name the case id");
    for secret in
        [NAME, "Zebedee", "Marmalade", DOB, PHONE, "900987", EMAIL, POSTCODE, NOTES, "laundrette"]
    {
        assert!(!log.contains(secret), "`{secret}` reached the daemon's log:\n{log}");
    }
    let _ = daemon.dir.path();
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_daemon_cleanly() {
    let sandbox = sandbox().await;
    let mut daemon = Daemon::start(&sandbox, true, false).await;
    daemon.create_and_plan().await;
    daemon.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", daemon.port)).is_err(),
        "no longer listening"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_the_partner_set_while_plans_run_and_refuses_a_bad_file() {
    let sandbox = sandbox().await;
    let daemon = std::sync::Arc::new(Daemon::start(&sandbox, true, false).await);
    assert_eq!(partner_ids(&daemon.create_and_plan().await), ["foodbank-test"]);

    // Plans keep running, back to back, while the configuration changes under them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..3 {
        let (daemon, stop) = (daemon.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seen.push(partner_ids(&daemon.create_and_plan().await));
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = daemon.dir.path().join("data/pathways.db");
    write_config(&daemon.config, daemon.port, &db, &sandbox, false, true);
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, list) = daemon.get("/v1/partners").await;
        if list["partners"][0]["id"] == "nhs-test" {
            break;
        }
        assert!(Instant::now() < deadline, "reload not applied:\n{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("no plan failed"));
    }
    for ids in &all {
        assert!(ids == &["foodbank-test"] || ids == &["nhs-test"], "a plan mixed sets: {ids:?}");
    }
    assert!(all.iter().any(|ids| ids == &["nhs-test"]), "plans after the reload use the new set");
    assert_eq!(partner_ids(&daemon.create_and_plan().await), ["nhs-test"]);

    // A broken file is refused; the daemon keeps the set it has.
    std::fs::write(&daemon.config, "[server]\nlisten = 'nowhere'\n").unwrap();
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !daemon.stderr().contains("reload refused") {
        assert!(Instant::now() < deadline, "no refusal logged:\n{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(partner_ids(&daemon.create_and_plan().await), ["nhs-test"]);
    sandbox.shutdown().await;
}
