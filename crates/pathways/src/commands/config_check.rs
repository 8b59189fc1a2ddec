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
    // The daemon refuses to start without a data key, so a check that passed without one
    // would mislead.
    let keys = args.config.data_keys(&settings)?;
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
        "\n  server listen {}, storage {}, data keys {} (current `{}`)\n",
        settings.server.listen,
        without_password(&settings.storage.url),
        keys.ids().len(),
        keys.current_id(),
    ));
    let isolated: Vec<&str> = loaded
        .iter()
        .filter(|p| p.isolation == Some(crate::settings::Isolation::Process))
        .map(|p| p.id.as_str())
        .collect();
    if !isolated.is_empty() {
        report.push_str(&format!(
            "  plugins in a process of their own (isolation = \"process\"): {}\n",
            isolated.join(", ")
        ));
    }
    for warning in domestic_abuse_warnings(&settings, &loaded) {
        report.push_str(&format!("  warning: {warning}\n"));
    }
    print_out(&report)?;
    Ok(ExitCode::SUCCESS)
}

/// Where a plugin declares `domestic_abuse` and the council has not confirmed the partner as a
/// domestic-abuse service (or has confirmed one whose plugin does not declare it).
fn domestic_abuse_warnings(
    settings: &crate::settings::Settings,
    loaded: &[partners::LoadedPartner],
) -> Vec<String> {
    let mut warnings = Vec::new();
    for partner in loaded {
        let index = settings.partners.iter().position(|p| p.id == partner.id).unwrap_or(0);
        let declares = partner.partner.manifest().is_domestic_abuse_service();
        if declares && !partner.domestic_abuse_service {
            warnings.push(format!(
                "partners[{index}] (`{}`): its plugin declares `domestic_abuse`, but the entry does \
                 not confirm it (`domestic_abuse_service = true`), so it will not receive a \
                 safe-contact client's address or contact details",
                partner.id
            ));
        } else if !declares && partner.domestic_abuse_service {
            warnings.push(format!(
                "partners[{index}] (`{}`): `domestic_abuse_service = true`, but its plugin does not \
                 serve `domestic_abuse`, so the confirmation has no effect",
                partner.id
            ));
        }
    }
    warnings
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
