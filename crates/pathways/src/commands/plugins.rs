//! `pathways plugins list` (the enabled partners and their plugins), `pathways plugins check`
//! (the conformance checks of one plugin library) and `pathways plugins new` (a plugin crate
//! of one's own, `plugin_new`).

use std::path::PathBuf;
use std::process::ExitCode;

use pathways_core::HealthStatus;
use pathways_host::conformance;

use super::{print_out, CliError, CommandResult, ConfigArg};
use crate::partners::{self, LoadedPartner};
use crate::table::Table;

/// `plugins` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a new plugin crate, outside any workspace, from the template plugin.
    New {
        /// The plugin's name: lower-case letters, digits and `-`, e.g. `acme-befriending`.
        #[arg(value_name = "NAME")]
        name: String,
        /// The folder to write the crate in (a folder NAME is made there).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Depend on the SDK in this `crates/pathways-sdk` folder of a pathways checkout.
        #[arg(long, value_name = "PATH", conflicts_with = "sdk_version")]
        sdk_path: Option<PathBuf>,
        /// Depend on this exact published SDK version (default: this pathways' own version).
        #[arg(long, value_name = "VERSION")]
        sdk_version: Option<String>,
    },
    /// The enabled partners: plugin file, version, needs, areas, health.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Conformance check of one plugin library file.
    Check {
        /// The plugin library, e.g. target/release/libpathways_plugin_foodbank.so.
        #[arg(value_name = "LIBRARY")]
        library: PathBuf,
        /// The plugin's settings as JSON, e.g. '{"base_url": "http://127.0.0.1:9101"}'.
        #[arg(long, value_name = "JSON", default_value = "{}")]
        settings: String,
        /// Also send a synthetic referral (twice, with one key) and ask its status: point the
        /// settings at a test system.
        #[arg(long)]
        referral: bool,
        /// The ONS local authority code of the synthetic client (default: the plugin's first
        /// area, else E09000020), for a plugin set up for one area.
        #[arg(long, value_name = "CODE")]
        area: Option<String>,
        /// The synthetic client's postcode (default W10 5AB), near the plugin's services.
        #[arg(long, value_name = "POSTCODE")]
        postcode: Option<String>,
        /// Also write the results as JUnit XML to this file, for your own CI.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Where the plugin's instances run: `in_process` (the default) or `process`, in a
        /// plugin host child as `isolation = "process"` runs them, so a plugin that crashes
        /// fails the check it crashed in instead of ending the check.
        #[arg(long, value_name = "WHERE", default_value = "in_process")]
        isolation: IsolationArg,
    },
}

/// `--isolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum IsolationArg {
    /// In this process.
    InProcess,
    /// In a plugin host child.
    Process,
}

/// Runs a `plugins` subcommand.
pub async fn run(command: Command) -> CommandResult {
    match command {
        Command::List { config } => list(config).await,
        Command::New { name, dir, sdk_path, sdk_version } => {
            let sdk = match (sdk_path, sdk_version) {
                (Some(path), _) => super::plugin_new::Sdk::Path(path),
                (None, Some(version)) => super::plugin_new::Sdk::Version(version),
                (None, None) => super::plugin_new::Sdk::Version(env!("CARGO_PKG_VERSION").into()),
            };
            super::plugin_new::run(&name, &dir, sdk)
        }
        Command::Check { library, settings, referral, area, postcode, junit, isolation } => {
            let isolation = match isolation {
                IsolationArg::InProcess => None,
                IsolationArg::Process => {
                    let program = std::env::current_exe().map_err(|e| {
                        CliError::BadInput(format!(
                            "--isolation process: this program cannot find itself to start \
                             plugin hosts: {e}"
                        ))
                    })?;
                    Some(pathways_host::HostOptions::new(program))
                }
            };
            let options = conformance::Options { referrals: referral, area, postcode, isolation };
            check(library, &settings, options, junit).await
        }
    }
}

async fn list(config: ConfigArg) -> CommandResult {
    let settings = config.load()?;
    let loaded = partners::load_enabled(&settings, &config.path())?;
    let timeout = settings.orchestrator.to_settings().partner_timeout;
    let health = check_health(&loaded, timeout).await;

    let mut table = Table::new(&[
        ("PARTNER", 28),
        ("PLUGIN FILE", 48),
        ("VERSION", 10),
        ("ISOLATION", 10),
        ("NEEDS", 30),
        ("AREAS", 22),
        ("HEALTH", 30),
    ]);
    for (partner, health) in loaded.iter().zip(health) {
        let manifest = partner.partner.manifest();
        let areas = if !partner.areas.is_empty() {
            partner.areas.join(", ")
        } else if !manifest.areas.is_empty() {
            format!("{} (plugin)", manifest.areas.join(", "))
        } else {
            "anywhere".to_string()
        };
        let needs: Vec<&str> = manifest.needs.iter().map(|n| n.as_str()).collect();
        table.row(vec![
            partner.id.clone(),
            match &partner.library {
                Some(library) => library.display().to_string(),
                None => format!("(built in: kind = \"{}\")", manifest.plugin),
            },
            manifest.version.clone(),
            partner.isolation.map_or("built in", |i| i.as_str()).to_string(),
            needs.join(", "),
            areas,
            health,
        ]);
    }
    if loaded.is_empty() {
        print_out(&format!("No partner is enabled in {}.\n", config.path().display()))?;
    } else {
        print_out(&table.render())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every partner's health, checked at once, each within `timeout`.
async fn check_health(loaded: &[LoadedPartner], timeout: std::time::Duration) -> Vec<String> {
    let checks = loaded.iter().map(|p| async move {
        match tokio::time::timeout(timeout, p.partner.health()).await {
            Ok(Ok(h)) => {
                let status = match h.status {
                    HealthStatus::Ok => "ok",
                    HealthStatus::Degraded => "degraded",
                };
                match h.detail {
                    Some(detail) => format!("{status}: {detail}"),
                    None => status.to_string(),
                }
            }
            Ok(Err(e)) => format!("failing: {e}"),
            Err(_) => format!("no answer in {} ms", timeout.as_millis()),
        }
    });
    futures::future::join_all(checks).await
}

async fn check(
    library: PathBuf,
    settings: &str,
    options: conformance::Options,
    junit: Option<PathBuf>,
) -> CommandResult {
    let settings: serde_json::Value = serde_json::from_str(settings)
        .map_err(|e| CliError::BadInput(format!("--settings: not valid JSON: {e}")))?;
    if !settings.is_object() {
        return Err(CliError::BadInput(
            "--settings: must be a JSON object of the plugin's settings".into(),
        ));
    }
    if !library.is_file() {
        return Err(CliError::BadInput(format!("{}: no such file", library.display())));
    }
    let report = conformance::run_with(&library, &settings, &options).await;
    if let Some(path) = &junit {
        let suite =
            library.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        std::fs::write(path, report.junit(&suite)).map_err(|e| {
            CliError::BadInput(format!("--junit {}: cannot write: {e}", path.display()))
        })?;
    }
    let mut out = format!("Conformance of {}\n", library.display());
    for check in &report.checks {
        let mark = if check.passed { '✓' } else { '✗' };
        let detail =
            if check.detail.is_empty() { String::new() } else { format!(": {}", check.detail) };
        out.push_str(&format!("{mark} {}{detail}\n", check.name));
    }
    let passed = report.checks.iter().filter(|c| c.passed).count();
    out.push_str(&format!("{passed} of {} checks passed\n", report.checks.len()));
    print_out(&out)?;
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
