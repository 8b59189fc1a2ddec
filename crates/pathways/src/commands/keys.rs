//! Keys:
//! - `pathways keys new --organisation ORG --role ROLE [--id ID]`: makes an API key. Prints
//!   the key once (it is not kept anywhere) and the `[[api_keys]]` entry, with its hash, to
//!   paste into the configuration.
//! - `pathways keys new-data`: makes a data key (the key that seals personal data at rest),
//!   printed as one `ID:BASE64` line for `storage.key_file`.
//! - `pathways keys rotate-data [--config FILE] [--batch N]`: re-seals every stored value under
//!   the current data key (the first in the key file), in batches, while the daemon serves;
//!   when it reports nothing left, the older keys can be removed from the file.

use std::process::ExitCode;

use pathways_daemon::{hash_token, is_code, new_token, Role};

use super::{print_out, CliError, CommandResult, ConfigArg};

/// `keys` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make a new API key and print it with the configuration entry for it.
    New(NewArgs),
    /// Make a new data key (seals personal data at rest) and print it as an `ID:BASE64` line.
    NewData,
    /// Re-seal every stored value under the current data key, in batches, while the daemon
    /// serves; then the older keys can be removed.
    RotateData(RotateArgs),
}

/// Arguments of `keys rotate-data`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Values re-sealed per transaction.
    #[arg(long, default_value_t = 500)]
    pub batch: u32,
}

/// Arguments of `keys new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The organisation the key acts for, e.g. `citizens-advice-kc`.
    #[arg(long)]
    pub organisation: String,
    /// pathfinder, coordinator, admin or partner.
    #[arg(long)]
    pub role: String,
    /// A name for the key in logs and the audit log [default: ORGANISATION-ROLE-<random>].
    #[arg(long)]
    pub id: Option<String>,
}

/// Runs a `keys` subcommand.
pub async fn run(command: Command) -> CommandResult {
    match command {
        Command::New(args) => new_api_key(args),
        Command::NewData => new_data_key(),
        Command::RotateData(args) => rotate_data(args).await,
    }
}

fn new_data_key() -> CommandResult {
    print_out(&format!(
        "# A data key for `storage.key_file` (or the variable `storage.key_env` names).\n\
         # Keep the file readable by the daemon's user only (chmod 600) and back it up apart\n\
         # from the database: without it the stored personal data cannot be read.\n\
         # To rotate: put the new key first and keep the old one below it, reload the daemon\n\
         # (SIGHUP), run `pathways keys rotate-data`, then remove the old key.\n\
         {}\n",
        pathways_store::DataKeys::generate_entry()
    ))?;
    Ok(ExitCode::SUCCESS)
}

async fn rotate_data(args: RotateArgs) -> CommandResult {
    if args.batch == 0 || args.batch > 100_000 {
        return Err(CliError::BadInput("--batch: must be 1 to 100000".into()));
    }
    let settings = args.config.load()?;
    let keys = args.config.data_keys(&settings)?;
    let current = keys.current_id().to_string();
    let store = args.config.open_store_with(&settings, keys).await?;
    let mut total = 0u64;
    loop {
        let progress = store.reseal(args.batch).await.map_err(|e| {
            CliError::Failed(anyhow::anyhow!("re-sealing stopped after {total} value(s): {e}"))
        })?;
        total += progress.resealed;
        if progress.remaining == 0 {
            break;
        }
        if progress.resealed == 0 {
            return Err(CliError::Failed(anyhow::anyhow!(
                "{} value(s) could not be re-sealed (changed while being read?); run again",
                progress.remaining
            )));
        }
    }
    print_out(&format!(
        "re-sealed {total} value(s); everything is now sealed under data key `{current}`: \
         older keys may be removed from the key file (then reload the daemon)\n"
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn new_api_key(args: NewArgs) -> CommandResult {
    let role: Role = args.role.parse().map_err(|e| CliError::BadInput(format!("--role: {e}")))?;
    if !is_code(&args.organisation) {
        return Err(CliError::BadInput(
            "--organisation: must be 1 to 128 of `a-z A-Z 0-9 _ . : / -`".into(),
        ));
    }
    let token = new_token();
    let id = args.id.unwrap_or_else(|| {
        // A short suffix from the token's random part keeps generated ids distinct.
        format!("{}-{}-{}", args.organisation, role, &token[4..10])
    });
    if !is_code(&id) {
        return Err(CliError::BadInput("--id: must be 1 to 128 of `a-z A-Z 0-9 _ . : / -`".into()));
    }
    print_out(&format!(
        "# The key, shown this once: give it to the caller over a safe channel.\n\
         # {token}\n\
         # Paste this into the configuration, then send the daemon SIGHUP:\n\
         [[api_keys]]\n\
         id = \"{id}\"\n\
         organisation = \"{organisation}\"\n\
         role = \"{role}\"\n\
         hash = \"{hash}\"\n",
        organisation = args.organisation,
        hash = hash_token(&token),
    ))?;
    Ok(ExitCode::SUCCESS)
}
