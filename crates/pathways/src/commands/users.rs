//! `pathways users add|disable|reset`: the console's accounts, kept in the daemon's database.
//! `add` and `reset` print a one-time link to set a password (valid for
//! `console.setup_link_hours`); the link is the only way in, so pass it to the person by a
//! channel you trust.

use std::process::ExitCode;

use pathways_console::accounts::{self, AccountError};

use super::{print_out, CliError, CommandResult, ConfigArg};

/// Arguments of `users`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do with an account.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Adds an account and prints its one-time link to set a password.
    Add {
        /// The person's organisation id, e.g. `citizens-advice-kc` (a partner's staff: the
        /// partner's id).
        #[arg(long)]
        organisation: String,
        /// pathfinder, coordinator, admin or partner.
        #[arg(long)]
        role: String,
        /// Their work email address: what they sign in with.
        #[arg(long)]
        email: String,
        /// Their name as the console shows it.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Disables an account: it cannot sign in, and its sessions end at once.
    Disable {
        /// The account's email address.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Resets an account's password: it stops working at once, and a new one-time link is
    /// printed.
    Reset {
        /// The account's email address.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Runs `users`.
pub async fn run(args: Args) -> CommandResult {
    let config = match &args.command {
        Command::Add { config, .. }
        | Command::Disable { config, .. }
        | Command::Reset { config, .. } => config.clone(),
    };
    let settings = config.load()?;
    let store = config.open_store(&settings).await?;
    let console = settings.console.to_settings(settings.server.listen);
    let bad = |e: AccountError| match e {
        AccountError::Store(e) => CliError::Failed(e.into()),
        other => CliError::BadInput(other.to_string()),
    };
    match args.command {
        Command::Add { organisation, role, email, name, .. } => {
            let (id, link) = accounts::add(
                store.as_ref(),
                &console,
                &organisation,
                &role,
                &email,
                name.as_deref(),
            )
            .await
            .map_err(bad)?;
            print_out(&format!(
                "added {id} ({role} of {organisation})\nset a password within {} hours: {link}\n",
                settings.console.setup_link_hours
            ))?;
        }
        Command::Disable { email, .. } => {
            let id = accounts::disable(store.as_ref(), &email).await.map_err(bad)?;
            print_out(&format!("disabled {id}: it cannot sign in, and its sessions have ended\n"))?;
        }
        Command::Reset { email, .. } => {
            let link = accounts::reset(store.as_ref(), &console, &email).await.map_err(bad)?;
            print_out(&format!(
                "the password no longer works; set a new one within {} hours: {link}\n",
                settings.console.setup_link_hours
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
