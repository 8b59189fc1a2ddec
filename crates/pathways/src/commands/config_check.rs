//! `pathways config check [--config FILE]`: validates the configuration and creates every
//! enabled partner, so each plugin checks its own settings, without planning anything.

use std::process::ExitCode;

use super::{print_out, CommandResult, ConfigArg};
use crate::partners;

/// Arguments of `config check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Validates and reports.
pub async fn run(args: Args) -> CommandResult {
    let settings = args.config.load()?;
    let loaded = partners::load_enabled(&settings, &args.config.path())?;
    // Signposts are part of the configuration too.
    partners::orchestrator(&settings, &loaded)?;
    let disabled = settings.partners.len() - loaded.len();
    let ids: Vec<&str> = loaded.iter().map(|p| p.id.as_str()).collect();
    let mut report = format!(
        "✓ {}: valid; {} partner(s) enabled{}",
        args.config.path().display(),
        loaded.len(),
        if ids.is_empty() { String::new() } else { format!(": {}", ids.join(", ")) }
    );
    if disabled > 0 {
        report.push_str(&format!("; {disabled} disabled"));
    }
    report.push_str(&format!(
        "\n  server listen {}, storage {}\n",
        settings.server.listen,
        without_password(&settings.storage.url)
    ));
    print_out(&report)?;
    Ok(ExitCode::SUCCESS)
}

/// A storage URL safe to print: `postgres://user:secret@host/db` becomes
/// `postgres://***@host/db`.
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn storage_url_is_printed_without_credentials() {
        assert_eq!(
            without_password("postgres://app:s3cret@db:5432/pathways"),
            "postgres://***@db:5432/pathways"
        );
        assert_eq!(without_password("sqlite://data/pathways.db"), "sqlite://data/pathways.db");
    }
}
