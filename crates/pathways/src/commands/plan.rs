//! `pathways plan CASE.json [--config FILE] [--json]`: one plan, without a daemon.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pathways_core::{parse_case, Case};

use super::{print_out, CliError, CommandResult, ConfigArg};
use crate::{partners, table};

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The case, as JSON (CONTRACT.md, "A case").
    #[arg(value_name = "CASE.json")]
    pub case: PathBuf,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Print the plan as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Plan as on this day (`YYYY-MM-DD`) instead of today: due dates and waits count from it
    /// (to reproduce a plan, or to check one against a partner's published dates).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<chrono::NaiveDate>,
}

/// Plans the case and prints it.
pub async fn run(args: Args) -> CommandResult {
    let case = read_case(&args.case)?;
    let settings = args.config.load()?;
    let loaded = partners::load_enabled(&settings, &args.config.path())?;
    let orchestrator = partners::orchestrator(&settings, &loaded)?;
    let today = args.today.unwrap_or_else(|| chrono::Local::now().date_naive());
    let plan = orchestrator.plan(&case, today).await;
    if args.json {
        let json = serde_json::to_string_pretty(&plan).context("cannot write the plan as JSON")?;
        print_out(&format!("{json}\n"))?;
    } else {
        print_out(&table::plan_table(&plan))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and validates a case file; errors name the file and the field.
pub fn read_case(path: &Path) -> Result<Case, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::BadInput(format!("{}: cannot read the case: {e}", path.display()))
    })?;
    parse_case(&bytes).map_err(|e| CliError::BadInput(format!("{}: {e}", path.display())))
}
