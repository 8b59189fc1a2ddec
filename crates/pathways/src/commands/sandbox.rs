//! `pathways sandbox [--config FILE]`: the simulated partner APIs alone, until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pathways_sandbox::{Sandbox, SandboxConfig};

use super::{print_out, CliError, CommandResult};

/// Arguments of `sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sandbox configuration (listen addresses, seed, fault knobs).
    #[arg(long = "config", value_name = "FILE", default_value = "config/sandbox.toml")]
    pub config: PathBuf,
}

/// One indented line per simulated partner: its kind and base URL.
pub fn simulator_urls(sandbox: &Sandbox) -> String {
    format!(
        "  food bank  {}\n  NHS        {}\n  housing    {}\n  council    {}\n",
        sandbox.foodbank_url(),
        sandbox.nhs_url(),
        sandbox.housing_url(),
        sandbox.council_url()
    )
}

/// Serves the simulators until Ctrl-C.
pub async fn run(args: Args) -> CommandResult {
    let sandbox = start(read_config(&args.config)?).await?;
    print_out(&format!("Sandbox running (Ctrl-C to stop):\n{}", simulator_urls(&sandbox)))?;
    wait_for_ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Reads and validates a sandbox configuration file.
pub fn read_config(path: &Path) -> Result<SandboxConfig, CliError> {
    SandboxConfig::from_toml_file(path).map_err(|e| CliError::BadInput(e.to_string()))
}

/// Starts every simulator.
pub async fn start(config: SandboxConfig) -> Result<Sandbox, CliError> {
    Ok(Sandbox::start(config).await.context("cannot start the sandbox")?)
}

/// Waits for Ctrl-C (SIGINT).
pub async fn wait_for_ctrl_c() -> Result<(), CliError> {
    tokio::signal::ctrl_c().await.context("cannot listen for Ctrl-C")?;
    Ok(())
}
