//! `pathways keys new --organisation ORG --role ROLE [--id ID]`: makes an API key. Prints the
//! key once (it is not kept anywhere) and the `[[api_keys]]` entry, with its hash, to paste
//! into the configuration.

use std::process::ExitCode;

use pathways_daemon::{hash_token, is_code, new_token, Role};

use super::{print_out, CliError, CommandResult};

/// `keys` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make a new API key and print it with the configuration entry for it.
    New(NewArgs),
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
    let Command::New(args) = command;
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
