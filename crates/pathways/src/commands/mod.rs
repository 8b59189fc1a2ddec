//! The subcommands, one module each, and what they share: how a command fails and where the
//! configuration file is.

pub mod backup;
pub mod config_check;
pub mod demo;
pub mod keys;
pub mod plan;
pub mod plugin_new;
pub mod plugins;
pub mod sandbox;
pub mod serve;
pub mod users;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::settings::Settings;

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
pub enum CliError {
    /// The user's input or configuration is wrong (exit 2); the message names file, field and
    /// problem.
    BadInput(String),
    /// Anything else (exit 1).
    Failed(anyhow::Error),
}

impl CliError {
    /// The exit status for this failure.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::BadInput(_) => ExitCode::from(2),
            CliError::Failed(_) => ExitCode::from(1),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::BadInput(message) => f.write_str(message),
            // `{:#}` puts the context chain on one line, without a backtrace.
            CliError::Failed(error) => write!(f, "{error:#}"),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError::Failed(error)
    }
}

/// What a command returns: its exit status, or why it failed.
pub type CommandResult = Result<ExitCode, CliError>;

/// The `--config FILE` option shared by the commands that read the configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// The configuration file [default: $PATHWAYS_CONFIG, then config/pathways.toml].
    #[arg(long = "config", value_name = "FILE")]
    file: Option<PathBuf>,
}

impl ConfigArg {
    /// The file: `--config`, else `$PATHWAYS_CONFIG` when set and not empty, else
    /// `config/pathways.toml`.
    pub fn path(&self) -> PathBuf {
        self.file
            .clone()
            .or_else(|| {
                std::env::var_os("PATHWAYS_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("config/pathways.toml"))
    }

    /// Reads and validates the configuration.
    pub fn load(&self) -> Result<Settings, CliError> {
        Settings::load(&self.path()).map_err(|e| CliError::BadInput(e.to_string()))
    }

    /// Opens the store `settings` name with its data keys. A missing or wrong data key, or a
    /// bad URL, is the operator's configuration to fix (exit 2, naming the field); a database
    /// that does not answer is not (exit 1).
    pub async fn open_store(
        &self,
        settings: &Settings,
    ) -> Result<std::sync::Arc<dyn pathways_store::Store>, CliError> {
        self.open_store_with(settings, self.data_keys(settings)?).await
    }

    /// The data keys `settings` name (exit 2, naming the field, when they cannot be read).
    pub fn data_keys(&self, settings: &Settings) -> Result<pathways_store::DataKeys, CliError> {
        settings.data_keys(&self.path()).map_err(|e| CliError::BadInput(e.to_string()))
    }

    /// [`open_store`](Self::open_store) with keys already read.
    pub async fn open_store_with(
        &self,
        settings: &Settings,
        keys: pathways_store::DataKeys,
    ) -> Result<std::sync::Arc<dyn pathways_store::Store>, CliError> {
        use pathways_store::StoreError;
        let path = self.path();
        let options = pathways_store::SqliteOptions { commit_batch: settings.storage.commit_batch };
        pathways_store::open_with(&settings.storage.url, keys, options).await.map_err(|e| {
            let file = path.display();
            match e {
                StoreError::Sealed { .. } => CliError::BadInput(format!(
                    "{file}: at `storage.key_file`: the data keys cannot open the stored data: {e}"
                )),
                StoreError::UnsupportedScheme { .. } | StoreError::InvalidUrl { .. } => {
                    CliError::BadInput(format!("{file}: at `storage.url`: {e}"))
                }
                _ => CliError::Failed(anyhow::anyhow!("{file}: at `storage.url`: {e}")),
            }
        })
    }
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn print_out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other
            .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot write to standard output: {e}"))),
    }
}
