//! `pathways demo [--no-wait]`: the whole idea in one command. Starts the simulated partners,
//! loads the configured partners from their plugin libraries, plans every sample case and prints
//! each plan, then follows one referral through the daemon from the request to the partner's
//! outcome (see [`referral`]), and keeps the daemon, its web console (with a demo account per
//! referring organisation) and the simulators serving until Ctrl-C.

mod referral;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::plan::read_case;
use super::sandbox::{read_config, simulator_urls, start};
use super::{print_out, CliError, CommandResult, ConfigArg};
use crate::{partners, table};

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop after printing the plans instead of serving until Ctrl-C.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub config: ConfigArg,
    /// The sandbox configuration; the partners' `base_url`s must point at its addresses.
    #[arg(long, value_name = "FILE", default_value = "config/sandbox.toml")]
    pub sandbox_config: PathBuf,
    /// The folder of sample cases to plan.
    #[arg(long, value_name = "DIR", default_value = "examples/cases")]
    pub cases: PathBuf,
}

/// Runs the demo.
pub async fn run(args: Args) -> CommandResult {
    // Every case is read before anything starts, so a broken one stops the demo up front.
    let cases = case_files(&args.cases)?
        .iter()
        .map(|path| Ok((path.clone(), read_case(path)?)))
        .collect::<Result<Vec<_>, CliError>>()?;
    let mut sandbox_config = read_config(&args.sandbox_config)?;
    // Plan on the sandbox's calendar when it pins one, so offered dates read as intended.
    let today = sandbox_config.today.unwrap_or_else(|| chrono::Local::now().date_naive());
    let settings = args.config.load()?;

    let prepared = referral::prepare(&settings, &mut sandbox_config).await?;
    let step_ms = sandbox_config.clock.step_ms;

    print_out("Starting the simulated partners...\n")?;
    let sandbox = start(sandbox_config).await?;
    print_out(&simulator_urls(&sandbox))?;

    let loaded = partners::load_enabled(&settings, &args.config.path())?;
    let orchestrator = partners::orchestrator(&settings, &loaded)?;
    let ids: Vec<&str> = loaded.iter().map(|p| p.id.as_str()).collect();
    print_out(&format!(
        "Partners from {}: {}\n\n",
        args.config.path().display(),
        if ids.is_empty() { "none enabled".to_string() } else { ids.join(", ") }
    ))?;

    for (path, case) in &cases {
        let plan = orchestrator.plan(case, today).await;
        print_out(&format!("== {} ==\n{}\n", path.display(), table::plan_table(&plan)))?;
    }
    // The daemon takes over the orchestrator that planned them (same partners, same breakers).
    // Without --no-wait the daemon and its console keep serving, with a demo account per
    // referring organisation, until Ctrl-C.
    referral::follow(prepared, orchestrator, &cases, step_ms, !args.no_wait).await?;
    drop(loaded);
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// The `*.json` files of `dir`, sorted.
fn case_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CliError::BadInput(format!(
            "{}: cannot read the sample cases: {e} (run the demo from the repository root, or pass --cases DIR)",
            dir.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::BadInput(format!("{}: no *.json case files", dir.display())));
    }
    Ok(files)
}
