//! Shared by the `*_e2e` tests: a real plugin library loaded through `pathways-host` and
//! talking to the sandbox, and the steps each connector's end-to-end test takes with it.

use std::path::PathBuf;

use pathways_core::{
    AvailabilityQuery, Case, NeedCode, Partner, PartnerError, Referral, ReferralReceipt,
    ReferralRef, ReferralStatus, ServiceRef,
};
use pathways_host::conformance::ConformanceReport;
use pathways_host::{DylibPartner, PluginLibrary};
use pathways_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

use crate::{load_case, plugin_library, today, workspace_root};

/// The sandbox with its default configuration.
pub async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.unwrap()
}

/// The library of the package `pathways-plugin-{plugin}`, built by [`crate::plugin_dir`].
pub fn library(plugin: &str) -> PathBuf {
    plugin_library(&format!("pathways_plugin_{plugin}"))
}

/// Opens the library of `plugin`, checks its manifest names that plugin, and instantiates it
/// as the partner `partner_id` with `settings`.
pub fn load(plugin: &str, partner_id: &str, settings: &Value) -> DylibPartner {
    let lib = PluginLibrary::open(&library(plugin)).unwrap();
    assert_eq!(lib.manifest().plugin, plugin);
    lib.instantiate(partner_id, settings).unwrap()
}

/// A sample case from `examples/cases`, by file name.
pub fn sample_case(file: &str) -> Case {
    load_case(&workspace_root().join("examples/cases").join(file))
}

/// The query the orchestrator sends `partner` for `case` on [`today`]: every need the plugin
/// declares.
pub fn query(partner: &DylibPartner, case: &Case) -> AvailabilityQuery {
    AvailabilityQuery::for_case(case, &partner.manifest().needs, today())
}

/// The referral the orchestrator builds for `partner` from `case`: `needs` to `service` under
/// `key`, with the client fields the plugin declares and nothing more.
pub fn referral(
    partner: &DylibPartner,
    case: &Case,
    service: ServiceRef,
    needs: &[NeedCode],
    key: &str,
) -> Referral {
    let manifest = partner.manifest();
    Referral::for_partner(
        case,
        &partner.partner_id().parse().unwrap(),
        service,
        needs,
        &manifest.shares,
        manifest.is_domestic_abuse_service(),
        key.parse().unwrap(),
    )
}

/// Sends `referral`, then sends it again as a retry would; both receipts.
pub async fn refer_twice(
    partner: &DylibPartner,
    referral: &Referral,
) -> (ReferralReceipt, ReferralReceipt) {
    let first = partner.send_referral(referral).await.unwrap();
    let again = partner.send_referral(referral).await.unwrap();
    (first, again)
}

/// The partner's status of `referral`, which it acknowledged with `receipt`.
pub async fn status(
    partner: &DylibPartner,
    referral: &Referral,
    receipt: &ReferralReceipt,
) -> ReferralStatus {
    partner
        .referral_status(&ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        })
        .await
        .unwrap()
}

/// Asks `partner` about `case` while the sandbox fails every call, and checks the error says a
/// retry may help; returns it for the caller's own checks.
pub async fn outage_error(partner: &DylibPartner, case: &Case) -> PartnerError {
    let err = partner.check_availability(&query(partner, case)).await.unwrap_err();
    assert!(err.kind.is_retryable(), "{err}");
    err
}

/// Runs the conformance checks behind `pathways plugins check` on `plugin` with `settings`,
/// checks that every one passed, and returns the report.
pub async fn conformance(plugin: &str, settings: &Value) -> ConformanceReport {
    // Referrals too: the sandbox is a test system, and integrators get the same check with
    // `plugins check --referral`.
    // The synthetic client lives where the partner is set up to serve.
    let area = ["jurisdiction_id", "authorities"].iter().find_map(|key| match &settings[key] {
        Value::String(code) => Some(code.clone()),
        Value::Array(codes) => codes.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    });
    // A postcode near the sandbox's services in that area.
    let postcode = match area.as_deref() {
        Some("E06000051") => "SY8 1AA",
        Some("E07000027") => "LA14 1AA",
        _ => "W10 5AB",
    };
    let postcode = Some(postcode.to_string());
    let options =
        pathways_host::conformance::Options { referrals: true, area, postcode, isolation: None };
    let report = pathways_host::conformance::run_with(&library(plugin), settings, &options).await;
    let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
    assert!(report.passed(), "failed checks: {failed:#?}");
    // Every connector of ours takes referrals: the referral path was exercised, twice.
    let idempotent = report.checks.iter().find(|c| c.name == "referral is idempotent");
    assert!(idempotent.is_some_and(|c| c.detail.contains("same reference")), "{report:#?}");
    // And what it sent its partner was watched, field by field, and held nothing undeclared.
    let declared = report.checks.iter().find(|c| c.name == "referral sends only declared fields");
    assert!(declared.is_some_and(|c| c.detail.contains("request(s) watched")), "{report:#?}");
    report
}
