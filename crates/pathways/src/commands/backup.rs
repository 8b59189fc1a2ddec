//! `pathways backup --to FILE [--config FILE]`: a consistent copy of the SQLite database,
//! taken while the daemon serves, into a new file readable by its owner only (`0600`). The
//! personal data in it stays sealed: keep the data key file apart from the backups.
//! PostgreSQL is backed up with `pg_dump`, which this command says.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{print_out, CliError, CommandResult, ConfigArg};

/// Arguments of `backup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The backup file to write; it must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
}

/// Writes the backup.
pub async fn run(args: Args) -> CommandResult {
    let settings = args.config.load()?;
    let store = args.config.open_store(&settings).await?;
    store.backup_to(&args.to).await.map_err(|e| match e {
        pathways_store::StoreError::BackupUnsupported { .. }
        | pathways_store::StoreError::BackupFile { .. } => CliError::BadInput(format!("--to: {e}")),
        other => CliError::Failed(anyhow::anyhow!("the backup failed: {other}")),
    })?;
    print_out(&format!(
        "backup written to {} (mode 0600; personal data sealed: it opens only with the data key file, kept apart)\n",
        args.to.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
