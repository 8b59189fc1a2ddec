//! `pathways serve [--config FILE]`: the daemon. Opens the store, loads the partners, serves the
//! HTTP API on `server.listen` until SIGTERM or Ctrl-C (then finishes requests in flight within
//! `server.shutdown_grace_ms`), and reloads the configuration on SIGHUP.
//!
//! A reload builds the whole new partner set, key ring and data keys first and swaps them in
//! only when all of it loaded: a bad file, a missing plugin, bad partner settings or an
//! unreadable data key file are logged with the reason and the old configuration keeps
//! serving. New data keys take effect at once (for a rotation without downtime). Plans in flight finish on the partners they
//! started with. Partners that stay keep their lanes (breaker state, calls in flight) and
//! the planner keeps its pathway statistics. `server` and `storage` are read at start only; changing them needs a restart
//! (a reload that changes them says so in the log).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use pathways_daemon::{Daemon, Live, WebhookSecret};
use tokio::net::TcpListener;

use super::{CliError, CommandResult, ConfigArg};
use crate::partners;
use crate::settings::Settings;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Runs the daemon until it is told to stop.
pub async fn run(args: Args) -> CommandResult {
    let path = args.config.path();
    let settings = args.config.load()?;
    // Inbox partners keep their capacity and their referrals' states in the store: open it
    // before the partners are created.
    let store = args.config.open_store(&settings).await?;
    let live = build_live(&settings, &path, &store)?;
    let partner_count = live.orchestrator.partners().len();
    // SQLite is one daemon's: hold its lock file while serving, and take back at once the
    // leases a previous run left (a crash, `kill -9`) instead of waiting them out.
    let sqlite_lock = sqlite_daemon_lock(&settings, &path)?;
    if sqlite_lock.is_some() {
        let taken = store.take_back_leases().await.map_err(|e| CliError::Failed(e.into()))?;
        if taken > 0 {
            tracing::info!(
                taken,
                "took back the leases a previous run left; their referrals are sent again now"
            );
        }
    }
    let mut daemon = Daemon::with_dispatch(
        store.clone(),
        live,
        settings.server.limits(),
        settings.dispatch.to_settings(),
    );
    if settings.console.enabled {
        let mut console_settings = settings.console.to_settings(settings.server.listen);
        console_settings.oidc = settings.console.oidc_settings().map_err(|(field, problem)| {
            CliError::BadInput(format!("{}: at `{field}`: {problem}", path.display()))
        })?;
        let console = pathways_console::Console::new(daemon.handle(), console_settings)
            .map_err(|e| CliError::Failed(e.into()))?;
        daemon = daemon.with_front(console.router());
    }
    let listener = TcpListener::bind(settings.server.listen).await.map_err(|e| {
        CliError::Failed(anyhow!(
            "{}: at `server.listen`: cannot listen on {}: {e}",
            path.display(),
            settings.server.listen
        ))
    })?;
    let addr = listener.local_addr().context("the listener has no address")?;
    tracing::info!(listen = %addr, storage = store.backend(), partners = partner_count,
        keys = settings.api_keys.len(), "serving");
    if settings.api_keys.is_empty() {
        tracing::warn!("no [[api_keys]] configured: every /v1 route answers 401 (make one with `pathways keys new`)");
    }
    let settings_grace = settings.server.limits().shutdown_grace;
    let settings_retention = settings.retention.clone();
    let auto_reroute = settings.dispatch.enabled
        && settings.dispatch.reroute == pathways_daemon::RerouteMode::Auto;
    let reroute_tick =
        std::time::Duration::from_millis(settings.dispatch.poll_interval_ms.max(250) * 4);
    let reloader = tokio::spawn(reload_on_sighup(daemon.clone(), args.config.clone(), settings));
    let dispatcher = daemon.start_dispatcher();
    let retention = settings_retention
        .enabled
        .then(|| daemon.start_retention(settings_retention.to_settings()));
    let rerouter = auto_reroute.then(|| daemon.start_rerouter(reroute_tick));
    daemon.serve(listener, stop_signal()).await.map_err(|e| CliError::Failed(e.into()))?;
    reloader.abort();
    for (stop, task) in retention.into_iter().chain(rerouter) {
        let _ = stop.send(true);
        let _ = task.await;
    }
    // Stop claiming referrals; sends in flight get the grace period, then their leases lapse.
    dispatcher.shutdown(settings_grace).await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// For a SQLite store, an exclusive lock on `<database>.daemon.lock`, held for as long as the
/// returned file lives; another `pathways serve` on the same file is refused (exit 2): SQLite
/// is one daemon's, and PostgreSQL is the way to run several. `None` for PostgreSQL.
fn sqlite_daemon_lock(settings: &Settings, path: &Path) -> Result<Option<std::fs::File>, CliError> {
    let Some(database) = settings.storage.url.strip_prefix("sqlite://") else {
        return Ok(None);
    };
    let database = database.split('?').next().unwrap_or(database);
    let lock_path = format!("{database}.daemon.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| CliError::Failed(anyhow!("{lock_path}: cannot open the daemon lock: {e}")))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(CliError::BadInput(format!(
            "{}: at `storage.url`: another `pathways serve` is using {database} (it holds {lock_path}); \
             SQLite serves one daemon: stop the other, or move to PostgreSQL to run several",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(CliError::Failed(anyhow!("{lock_path}: cannot lock: {e}")))
        }
    }
}

/// The partners and keys of `settings`, loaded and checked; inbox partners over `store`.
fn build_live(
    settings: &Settings,
    path: &Path,
    store: &std::sync::Arc<dyn pathways_store::Store>,
) -> Result<Live, CliError> {
    let keys = settings
        .key_ring()
        .map_err(|e| CliError::BadInput(format!("{}: at `api_keys`: {e}", path.display())))?;
    let loaded = partners::load_enabled_with(settings, path, Some(store.clone()))?;
    let orchestrator = partners::orchestrator(settings, &loaded)?;
    // The orchestrator holds its own references to the partners; the libraries are never
    // unloaded, so the load records can go.
    drop(loaded);
    Ok(Live::new(orchestrator, keys).with_webhook_secrets(webhook_secrets(settings, path)?))
}

/// Each enabled partner's callback signing secret, read from the environment variable its
/// `webhook_secret_env` names; a named variable that is unset or not `whsec_<base64>` is an
/// error naming the partner and the variable (never the value).
fn webhook_secrets(
    settings: &Settings,
    path: &Path,
) -> Result<std::collections::HashMap<String, WebhookSecret>, CliError> {
    let mut secrets = std::collections::HashMap::new();
    for (index, partner) in settings.enabled_partners() {
        let Some(var) = &partner.webhook_secret_env else { continue };
        let secret = std::env::var(var).ok().and_then(|v| WebhookSecret::parse(&v));
        let secret = secret.ok_or_else(|| {
            CliError::BadInput(format!(
                "{}: at `partners[{index}].webhook_secret_env`: the variable `{var}` must hold the partner's secret as `whsec_<base64>`",
                path.display()
            ))
        })?;
        secrets.insert(partner.id.clone(), secret);
    }
    Ok(secrets)
}

/// Completes on SIGTERM or Ctrl-C.
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = term => tracing::info!("SIGTERM: shutting down"),
    }
}

/// Reloads the partners and keys on every SIGHUP, keeping the old ones when the new
/// configuration cannot be used.
#[cfg(unix)]
async fn reload_on_sighup(daemon: Daemon, config: ConfigArg, first: Settings) {
    use pathways_daemon::ReloadResult;
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: reload needs a restart");
            return;
        }
    };
    let path = config.path();
    while hangups.recv().await.is_some() {
        tracing::info!(config = %path.display(), "SIGHUP: reloading the configuration");
        // Loading plugins blocks (dlopen, plugin init): keep it off the request threads.
        let config = config.clone();
        let store = daemon.handle().store().clone();
        let attempt = tokio::task::spawn_blocking(move || {
            let settings = config.load()?;
            let live = build_live(&settings, &config.path(), &store)?;
            let keys = config.data_keys(&settings)?;
            Ok::<_, CliError>((settings, live, keys))
        })
        .await;
        match attempt {
            Ok(Ok((settings, live, keys))) => {
                if let Err(e) = daemon.verify_data_keys(&keys).await {
                    daemon.count_reload(
                        ReloadResult::Refused,
                        Some(format!("the new data keys cannot open what is stored: {e}")),
                    );
                    tracing::error!(reason = %e,
                        "reload refused: the new data keys cannot open what is stored (keep the older key below the new one until `pathways keys rotate-data` is done); the previous configuration stays");
                    continue;
                }
                if settings.server.listen != first.server.listen
                    || settings.storage.url != first.storage.url
                    || settings.storage.commit_batch != first.storage.commit_batch
                {
                    tracing::warn!("`server` and `storage` changes take effect only on restart");
                }
                let ids: Vec<String> =
                    live.orchestrator.partners().iter().map(|p| p.id.clone()).collect();
                // Partners that stay keep their breakers and bulkheads (by id), and the
                // planner its statistics.
                let kept = daemon.reload(live);
                // New data keys seal from now on; older ones listed still open.
                daemon.replace_data_keys(keys);
                daemon.count_reload(ReloadResult::Ok, None);
                tracing::info!(partners = ?ids, lanes_kept = ?kept, keys = settings.api_keys.len(),
                    "configuration reloaded; plans in flight finish on the previous partners");
            }
            Ok(Err(e)) => {
                daemon.count_reload(ReloadResult::Refused, Some(e.to_string()));
                tracing::error!(reason = %e, "reload refused; the previous configuration stays");
            }
            Err(e) => {
                daemon.count_reload(ReloadResult::Refused, Some(e.to_string()));
                tracing::error!(reason = %e, "reload failed; the previous configuration stays");
            }
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_daemon: Daemon, _config: ConfigArg, _first: Settings) {}
