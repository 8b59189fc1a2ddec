//! `pathways`: the command line of the pathways referral coordinator.
//!
//! Thin wiring over the libraries: parse the command line, read configuration, load plugins,
//! call the orchestrator, print. Exit status 0 on success, 2 for bad input or configuration
//! (one message naming the file, field and problem), 1 for anything else. Logs go to stderr
//! (`RUST_LOG`, default `warn`; `PATHWAYS_LOG_FORMAT=json` for JSON lines), so stdout carries
//! only what was asked for.

mod commands;
mod partners;
mod settings;
mod table;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use commands::{
    backup, config_check, demo, keys, plan, plugins, sandbox, serve, users, CommandResult,
};

/// Coordinates referrals for people with several needs to partner organisations.
#[derive(Debug, Parser)]
#[command(name = "pathways", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the simulated partners, plan the sample cases and print the plans.
    Demo(demo::Args),
    /// Plan one case without a daemon: a readable table, or JSON with --json.
    Plan(plan::Args),
    /// The enabled partners' plugins, and conformance checks of a plugin library.
    #[command(subcommand)]
    Plugins(plugins::Command),
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the simulated partner APIs alone, until Ctrl-C.
    Sandbox(sandbox::Args),
    /// Run the daemon: the HTTP API and the web console, until SIGTERM or Ctrl-C; SIGHUP reloads the configuration.
    Serve(serve::Args),
    /// Make API keys and data keys; re-seal stored data under a new data key.
    #[command(subcommand)]
    Keys(keys::Command),
    /// Copy the SQLite database, while the daemon serves, into a new private file.
    Backup(backup::Args),
    /// The web console's accounts: add one (printing its link to set a password), disable
    /// one, reset one's password.
    Users(users::Args),
    /// Serves one partner's plugin to the daemon over stdin and stdout (`isolation =
    /// "process"`); started by `pathways serve`, never by hand.
    #[command(name = "plugin-host", hide = true)]
    PluginHost,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and every enabled partner's settings.
    Check(config_check::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A plugin host logs like the daemon that started it (to the stderr it shares), and runs
    // its own threads: it must not be inside this runtime.
    if matches!(cli.command, Command::PluginHost) {
        init_logging(true);
        return pathways_host::run_plugin_host();
    }
    init_logging(matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            error.exit_code()
        }
    }
}

async fn run(command: Command) -> CommandResult {
    match command {
        Command::Demo(args) => demo::run(args).await,
        Command::Plan(args) => plan::run(args).await,
        Command::Plugins(command) => plugins::run(command).await,
        Command::Config(ConfigCommand::Check(args)) => config_check::run(args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Keys(command) => keys::run(command).await,
        Command::Backup(args) => backup::run(args).await,
        Command::Users(args) => users::run(args).await,
        // Handled in `main`, before the runtime starts.
        Command::PluginHost => Ok(ExitCode::from(2)),
    }
}

/// The daemon logs at `info`, as JSON lines when stderr is not a terminal (journald, a file).
fn init_logging(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let format = std::env::var("PATHWAYS_LOG_FORMAT").ok();
    let json = match format.as_deref() {
        Some("json") => true,
        Some(_) => false,
        None => daemon && !std::io::stderr().is_terminal(),
    };
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
