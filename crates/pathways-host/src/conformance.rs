//! The conformance check behind `pathways plugins check`: what every plugin must do right.
//!
//! It loads one library and walks it through the contract: the handshake, a complete manifest,
//! strict settings (a made-up key must be refused), health, a synthetic availability query,
//! errors instead of crashes for a malformed request and an unknown operation, and a
//! cancellation that still completes exactly once. A plugin that passes can be configured as a
//! partner.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use pathways_abi::{OP_CHECK_AVAILABILITY, OP_HEALTH, STATUS_ERR, STATUS_OK};
use pathways_core::{AgeBand, AvailabilityQuery, Household, NeedRequest, Partner, Urgency};

use crate::library::PluginLibrary;
use crate::partner::DylibPartner;

/// How long any single check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
}

/// Every check, in order; checks after a failed prerequisite are not run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConformanceReport {
    /// The checks run.
    pub checks: Vec<Check>,
}

impl ConformanceReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    fn record(&mut self, name: &str, result: Result<String, String>) -> bool {
        let passed = result.is_ok();
        let detail = result.unwrap_or_else(|e| e);
        self.checks.push(Check { name: name.to_string(), passed, detail });
        passed
    }
}

/// Runs the conformance checks against the library at `library` with `settings`.
pub async fn run(library: &Path, settings: &serde_json::Value) -> ConformanceReport {
    let mut report = ConformanceReport::default();
    let opened = PluginLibrary::open(library).map_err(|e| e.to_string());
    let lib = match opened {
        Ok(lib) => {
            let m = lib.manifest();
            let build = m
                .build
                .as_ref()
                .map(|b| format!("SDK {}, {}", b.sdk_version, b.target))
                .unwrap_or_default();
            report
                .record("handshake", Ok(format!("plugin `{}` {} ({build})", m.plugin, m.version)));
            lib
        }
        Err(e) => {
            report.record("handshake", Err(e));
            return report;
        }
    };
    report.record("manifest", check_manifest(&lib));
    report.record("settings are strict", check_strict_settings(&lib, settings));
    let partner = match lib.instantiate("conformance-check", settings) {
        Ok(p) => {
            report.record(
                "settings accepted",
                Ok("the plugin started with the given settings".into()),
            );
            p
        }
        Err(e) => {
            report.record("settings accepted", Err(e.to_string()));
            return report;
        }
    };
    let health = tokio::time::timeout(CHECK_TIMEOUT, partner.health()).await;
    report.record(
        "health",
        match health {
            Ok(Ok(h)) => Ok(format!(
                "{:?}{}",
                h.status,
                h.detail.map(|d| format!(": {d}")).unwrap_or_default()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
        },
    );
    report.record("availability", check_availability(&partner).await);
    report.record("errors are contained", check_error_containment(&partner).await);
    report.record("cancellation", check_cancellation(&partner).await);
    report
}

fn check_manifest(lib: &PluginLibrary) -> Result<String, String> {
    let m = lib.manifest();
    if m.needs.is_empty() {
        return Err("the manifest declares no needs".into());
    }
    if m.capabilities.is_empty() {
        return Err("the manifest declares no capabilities".into());
    }
    if !m.settings_schema.is_object() {
        return Err("the manifest has no settings schema (use pathways_sdk::manifest_of)".into());
    }
    let build = m
        .build
        .as_ref()
        .ok_or("the manifest has no build facts (use pathways_sdk::manifest_of)")?;
    Ok(format!(
        "needs {}; shares {}; ABI v{}",
        m.needs.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "),
        m.shares.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "),
        build.abi_version
    ))
}

fn check_strict_settings(
    lib: &PluginLibrary,
    settings: &serde_json::Value,
) -> Result<String, String> {
    const PROBE: &str = "pathways_conformance_unknown_key";
    let mut probe = match settings {
        serde_json::Value::Object(map) => map.clone(),
        serde_json::Value::Null => Default::default(),
        _ => return Err("settings must be a JSON object".into()),
    };
    probe.insert(PROBE.into(), serde_json::Value::Bool(true));
    match lib.instantiate("conformance-check", &serde_json::Value::Object(probe)) {
        Ok(_) => Err(format!("a made-up settings key `{PROBE}` was accepted: declare the settings with #[serde(deny_unknown_fields)]")),
        Err(e) if e.to_string().contains(PROBE) => Ok("a made-up key is refused by name".into()),
        Err(e) => Err(format!("a made-up key was refused without naming it: {e}")),
    }
}

fn synthetic_query(partner: &DylibPartner) -> AvailabilityQuery {
    let m = partner.manifest();
    AvailabilityQuery {
        needs: m.needs.iter().map(|&code| NeedRequest { code, urgency: Urgency::Soon }).collect(),
        local_authority: m.areas.first().cloned().unwrap_or_else(|| "E09000020".into()),
        postcode_district: "W10".into(),
        age_band: AgeBand::From35To49,
        household: Household { adults: 1, children_ages: vec![] },
        circumstances: vec![],
        preferred_language: "en".into(),
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
    }
}

async fn check_availability(partner: &DylibPartner) -> Result<String, String> {
    let query = synthetic_query(partner);
    let answer = tokio::time::timeout(CHECK_TIMEOUT, partner.check_availability(&query))
        .await
        .map_err(|_| format!("no answer within {CHECK_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    if let Some(offer) =
        answer.offers.iter().find(|o| !query.needs.iter().any(|n| n.code == o.need))
    {
        return Err(format!(
            "offered `{}` for need `{}`, which was not asked",
            offer.service.id, offer.need
        ));
    }
    Ok(format!("{} offer(s) for {} need(s)", answer.offers.len(), query.needs.len()))
}

async fn check_error_containment(partner: &DylibPartner) -> Result<String, String> {
    for (what, op, body) in [
        ("a malformed request", OP_CHECK_AVAILABILITY, &b"{not json"[..]),
        ("an unknown operation", 9_999, &b"null"[..]),
    ] {
        let (status, reply) = tokio::time::timeout(CHECK_TIMEOUT, partner.call_raw(op, body))
            .await
            .map_err(|_| format!("no answer to {what} within {CHECK_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        if status != STATUS_ERR {
            return Err(format!("{what} was answered with status {status}, expected an error"));
        }
        serde_json::from_slice::<pathways_core::PartnerError>(&reply)
            .map_err(|e| format!("the error for {what} is not a PartnerError: {e}"))?;
    }
    let (status, _) = partner.call_raw(OP_HEALTH, b"null").await.map_err(|e| e.to_string())?;
    if status != STATUS_OK {
        return Err("the plugin stopped answering after a bad request".into());
    }
    Ok("malformed request and unknown operation answered with errors; still healthy".into())
}

async fn check_cancellation(partner: &DylibPartner) -> Result<String, String> {
    let query = serde_json::to_vec(&synthetic_query(partner)).map_err(|e| e.to_string())?;
    let before = partner.call_stats();
    // Start a call and abandon it at once: the plugin must still complete it exactly once.
    let _ =
        tokio::time::timeout(Duration::ZERO, partner.call_raw(OP_CHECK_AVAILABILITY, &query)).await;
    let deadline = tokio::time::Instant::now() + CHECK_TIMEOUT;
    loop {
        let now = partner.call_stats();
        if now.duplicates > before.duplicates {
            return Err("a call was completed twice".into());
        }
        if now.awaiting_late_completion == 0 && now.in_flight == 0 {
            return Ok("an abandoned call was still completed, exactly once".into());
        }
        if tokio::time::Instant::now() > deadline {
            return Err("an abandoned call was never completed".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
