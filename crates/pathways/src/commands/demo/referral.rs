//! The second half of `pathways demo`: one referral followed from the pathfinder's request to
//! the partner's outcome, through the real daemon.
//!
//! The daemon runs in this process on a loopback port with a throw-away SQLite store: a case
//! is posted, planned and one of its `refer` steps referred, exactly through the API routes
//! (`Daemon::request` runs the whole middleware stack). The dispatcher sends the referral
//! through the partner's plugin; the simulator's clock then moves it on and calls the daemon
//! back with signed `referral.status_changed` events (food bank and NHS simulators), while the
//! dispatcher's status polling covers the others. Each state is printed as the referral
//! reaches it, with who reported it.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use pathways_core::Case;
use pathways_daemon::{
    hash_token, new_token, ApiKey, Daemon, DispatchSettings, KeyRing, Limits, Live, Role,
    WebhookSecret,
};
use pathways_orchestrator::Orchestrator;
use pathways_sandbox::{SandboxConfig, WebhookConfig};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::super::CliError;
use crate::settings::Settings;

/// The callback secret the demo's simulators sign with and its daemon checks.
const DEMO_SECRET: &str = "whsec_ZGVtby1jYWxsYmFjay1zZWNyZXQtb2YtcGF0aHdheXM=";

/// States after which a referral moves no more.
const FINAL: [&str; 5] = ["completed", "rejected", "failed", "cancelled", "entered-in-error"];

/// The daemon's listener, bound before the simulators start so they know where to call back.
pub(super) struct Prepared {
    listener: TcpListener,
    /// Partners whose simulator calls back, by id.
    callbacks: BTreeSet<String>,
}

/// Binds the daemon's loopback listener and points the food bank and NHS simulators'
/// callbacks at it (unless the sandbox configuration already sends them somewhere).
pub(super) async fn prepare(
    settings: &Settings,
    sandbox: &mut SandboxConfig,
) -> Result<Prepared, CliError> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| CliError::Failed(anyhow!("cannot listen on loopback for the demo: {e}")))?;
    let addr = listener.local_addr().map_err(|e| CliError::Failed(e.into()))?;
    let mut callbacks = BTreeSet::new();
    for (_, partner) in settings.enabled_partners() {
        let slot = match partner.connector() {
            "foodbank" => &mut sandbox.foodbank.webhook,
            "nhs" => &mut sandbox.nhs.webhook,
            _ => continue,
        };
        if slot.is_none() {
            let url = format!("http://{addr}/v1/partners/{}/events", partner.id);
            *slot = Some(WebhookConfig::new(url, DEMO_SECRET));
            callbacks.insert(partner.id.clone());
        }
    }
    Ok(Prepared { listener, callbacks })
}

/// Refers one step of the first sample case that has one the simulators can follow, and
/// prints the referral's states until it settles. Returns what it printed.
pub(super) async fn follow(
    prepared: Prepared,
    orchestrator: Orchestrator,
    cases: &[(PathBuf, Case)],
    step_ms: u64,
    wait: bool,
) -> Result<String, CliError> {
    let Prepared { listener, callbacks } = prepared;
    // One pathfinder key per referring organisation of the samples.
    let mut tokens: HashMap<String, String> = HashMap::new();
    let mut keys = Vec::new();
    for (_, case) in cases {
        let organisation = &case.referrer.organisation;
        if tokens.contains_key(organisation) {
            continue;
        }
        let token = new_token();
        let id = format!("demo-{}", tokens.len() + 1);
        keys.push(
            ApiKey::new(&id, organisation, Role::Pathfinder, &hash_token(&token))
                .map_err(|e| CliError::Failed(e.into()))?,
        );
        tokens.insert(organisation.clone(), token);
    }
    let keys = KeyRing::new(keys).map_err(|e| CliError::Failed(e.into()))?;
    let secret = WebhookSecret::parse(DEMO_SECRET).expect("the demo secret is valid");
    let secrets = callbacks.iter().map(|id| (id.clone(), secret.clone())).collect();
    let live = Live::new(orchestrator, keys).with_webhook_secrets(secrets);

    let dir = std::env::temp_dir().join(format!("pathways-demo-{}", std::process::id()));
    // A throw-away data key: the demo's data is gone when it ends.
    let keys = pathways_store::DataKeys::ephemeral();
    let store = pathways_store::open(&format!("sqlite://{}", dir.join("demo.db").display()), keys)
        .await
        .map_err(|e| CliError::Failed(anyhow!("the demo's store: {e}")))?;
    let dispatch = DispatchSettings {
        poll_interval: Duration::from_millis(100),
        status_poll_base: Duration::from_millis(500),
        status_poll_cap: Duration::from_secs(2),
        backoff_base: Duration::from_millis(200),
        backoff_cap: Duration::from_secs(2),
        ..DispatchSettings::default()
    };
    let console_address = listener.local_addr().map_err(|e| CliError::Failed(e.into()))?;
    let console_settings = pathways_console::ConsoleSettings {
        public_url: format!("http://{console_address}"),
        // Plain HTTP on loopback, for this process's lifetime only.
        secure_cookies: false,
        ..pathways_console::ConsoleSettings::default()
    };
    let daemon = Daemon::with_dispatch(store.clone(), live, Limits::default(), dispatch);
    let console = pathways_console::Console::new(daemon.handle(), console_settings.clone())
        .map_err(|e| CliError::Failed(e.into()))?;
    let daemon = Arc::new(daemon.with_front(console.router()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = {
        let daemon = Arc::clone(&daemon);
        tokio::spawn(async move {
            let _ = daemon.serve(listener, async move { drop(stopped.await) }).await;
        })
    };
    let dispatcher = daemon.start_dispatcher();
    let mut result = refer_and_follow(&daemon, cases, &tokens, &callbacks, step_ms).await;
    if result.is_ok() && wait {
        let organisations: BTreeSet<&String> = tokens.keys().collect();
        match demo_users(store.as_ref(), &console_settings, &organisations).await {
            Ok(emails) => {
                let text = format!(
                    "\n== The console ==\nOpen http://{console_address}/ and sign in as {} with the password `{DEMO_PASSWORD}`:\nthe sample cases are there with their plans, and the followed referral with its timeline.\n",
                    emails.join(" or ")
                );
                super::super::print_out(&text)?;
            }
            Err(e) => result = Err(e),
        }
        super::super::print_out(
            "The console and the simulated partners keep serving until you press Ctrl-C.\n",
        )?;
        super::super::sandbox::wait_for_ctrl_c().await?;
    }
    let _ = stop.send(());
    dispatcher.shutdown(Duration::from_secs(1)).await;
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The password of the demo's console accounts (a throw-away store, on loopback).
const DEMO_PASSWORD: &str = "pathways-demo-password";

/// One pathfinder account per referring organisation of the samples, with a known password.
async fn demo_users(
    store: &dyn pathways_store::Store,
    settings: &pathways_console::ConsoleSettings,
    organisations: &BTreeSet<&String>,
) -> Result<Vec<String>, CliError> {
    let hash = pathways_console::password::hash(DEMO_PASSWORD.into())
        .await
        .map_err(|e| CliError::Failed(anyhow!("cannot hash the demo password: {e}")))?;
    let mut emails = Vec::new();
    for organisation in organisations {
        let email = format!("demo@{organisation}.example");
        let (id, _) = pathways_console::accounts::add(
            store,
            settings,
            organisation,
            "pathfinder",
            &email,
            Some("Demo pathfinder"),
        )
        .await
        .map_err(|e| CliError::Failed(e.into()))?;
        store
            .set_password(&id, &hash, chrono::Utc::now())
            .await
            .map_err(|e| CliError::Failed(e.into()))?;
        emails.push(email);
    }
    Ok(emails)
}

async fn refer_and_follow(
    daemon: &Daemon,
    cases: &[(PathBuf, Case)],
    tokens: &HashMap<String, String>,
    callbacks: &BTreeSet<String>,
    step_ms: u64,
) -> Result<String, CliError> {
    let call = |method: &'static str,
                path: String,
                token: String,
                headers: Vec<(&'static str, String)>,
                body: Option<String>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        daemon
            .request(method, &path, &token, &headers, body)
            .await
            .map_err(|e| CliError::Failed(e.into()))
    };
    // Every sample case is stored and planned (the console shows them all); the first with a
    // step the simulators can follow is referred and followed.
    let mut planned = Vec::new();
    for (path, case) in cases {
        let token = tokens[&case.referrer.organisation].clone();
        let body = serde_json::to_string(case).map_err(|e| CliError::Failed(e.into()))?;
        let (status, created) =
            call("POST", "/v1/cases".into(), token.clone(), vec![], Some(body)).await?;
        let Some(case_id) = created["id"].as_str().filter(|_| status == 201) else {
            return Err(CliError::Failed(anyhow!(
                "the daemon refused {}: {created}",
                path.display()
            )));
        };
        let case_id = case_id.to_string();
        let (_, plan) =
            call("POST", format!("/v1/cases/{case_id}/plan"), token.clone(), vec![], None).await?;
        planned.push((path, case, token, case_id, plan));
    }
    for (path, case, token, case_id, plan) in planned {
        let steps = plan["steps"].as_array().cloned().unwrap_or_default();
        let referable: Vec<&Value> = steps
            .iter()
            .filter(|s| {
                s["action"] == "refer"
                    && s["needs_consent"] != true
                    && s["partner"]["id"].is_string()
            })
            .collect();
        // A partner whose simulator calls back shows the whole loop; any other is polled.
        let calls_back =
            |s: &&&Value| s["partner"]["id"].as_str().is_some_and(|p| callbacks.contains(p));
        let Some(step) = referable.iter().find(calls_back).or(referable.first()) else {
            continue;
        };
        let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        let (order, need, partner) =
            (&step["order"], text(&step["need"]), text(&step["partner"]["id"]));
        let request = json!({ "steps": [order] }).to_string();
        let key = vec![("idempotency-key", format!("demo-{case_id}"))];
        let (status, referred) = call(
            "POST",
            format!("/v1/cases/{case_id}/referrals"),
            token.clone(),
            key,
            Some(request),
        )
        .await?;
        let Some(id) = referred["referrals"][0]["id"].as_str().filter(|_| status == 202) else {
            return Err(CliError::Failed(anyhow!("the daemon refused the referral: {referred}")));
        };
        let how = if step_ms == 0 {
            "the sandbox's clock is stopped (`clock.step_ms = 0`), so it stays where it arrives"
                .to_string()
        } else {
            format!("the simulated partner moves it on every {step_ms} ms; the daemon hears by signed callback or by polling")
        };
        let mut out = format!(
            "== Following one referral through the daemon ==\nCase {} ({}): step {order}, {need} → {partner}; {how}.\n",
            case.reference,
            path.display(),
        );
        super::print_out(&out)?;
        let deadline =
            Instant::now() + Duration::from_millis(step_ms * 5) + Duration::from_secs(15);
        let mut shown = 0;
        loop {
            let (_, referral) =
                call("GET", format!("/v1/referrals/{id}"), token.clone(), vec![], None).await?;
            let history = referral["history"].as_array().cloned().unwrap_or_default();
            for entry in history.iter().skip(shown) {
                let line = format!(
                    "  {}  {:<12} reported by {}{}\n",
                    clock_time(entry["at"].as_str().unwrap_or("")),
                    entry["state"].as_str().unwrap_or(""),
                    entry["source"].as_str().unwrap_or(""),
                    entry["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default(),
                );
                super::print_out(&line)?;
                out.push_str(&line);
            }
            shown = history.len();
            let state = referral["state"].as_str().unwrap_or("");
            if FINAL.contains(&state) {
                return Ok(out);
            }
            if Instant::now() > deadline {
                let line = format!("  (still `{state}` after the demo's wait; `GET /v1/referrals/{id}` follows it further)\n");
                super::print_out(&line)?;
                return Ok(out + &line);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let line = "No sample case has a `refer` step to follow.\n".to_string();
    super::print_out(&line)?;
    Ok(line)
}

/// `2026-11-23T05:10:52.203608Z` as `05:10:52.203` (the demo runs within a minute).
fn clock_time(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|_| at.to_string())
}
