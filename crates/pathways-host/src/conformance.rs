//! The conformance check behind `pathways plugins check`: what every plugin must do right.
//!
//! It loads one library and walks it through the contract: the handshake, a complete manifest,
//! strict settings (a made-up key must be refused), health, a synthetic availability query,
//! errors instead of crashes for a malformed request and an unknown operation, and a
//! cancellation that still completes exactly once. A plugin that passes can be configured as a
//! partner.
//!
//! With referrals on ([`Options::referrals`]; `plugins check --referral`, and always in the
//! project's own tests) it also sends a synthetic referral (a made-up client) to the first
//! service the plugin offered, twice with the same idempotency key, and requires the same
//! reference back; asks its status where the plugin reports status; where the manifest declares
//! `cancel`, withdraws it (reason `sent_in_error`) twice, requiring `cancelled` (or a final
//! state) and the same answer both times, and a final status afterwards where the plugin
//! reports status; and says of a failure whether it is the partner's (unreachable, 5xx, refused
//! credentials) or the plugin's. Run it against a test system: the referral is real to whatever
//! the settings point at. At a partner that can cancel, the synthetic referral does not linger:
//! the check withdraws it. One that cannot keeps it, as before, until someone there removes it.
//!
//! With [`Options::isolation`] (`plugins check --isolation process`) every instance the check
//! makes runs in a plugin host child, as `isolation = "process"` runs it in the daemon: a plugin
//! that aborts or segfaults fails the check it crashed in (`the plugin host died ... SIGSEGV`)
//! and the checks after it go on against a restarted host, where in process it would take the
//! check itself down with no report. The library is still opened here to read its handshake
//! and manifest, as `plugins list` does.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use pathways_abi::{OP_CHECK_AVAILABILITY, OP_HEALTH, STATUS_ERR, STATUS_OK};
use pathways_core::{
    AgeBand, AvailabilityQuery, CancelReason, CancelRequest, Capability, ClientField, Household,
    NeedRequest, Partner, PartnerError, ReferralRef, Urgency,
};

use crate::library::PluginLibrary;
use crate::partner::DylibPartner;
use crate::process::{HostOptions, ProcessPartner};
use crate::recorder::Recorder;
use crate::CallStats;

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

/// What the check does beyond the always-safe checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Send a synthetic referral (twice, same key) and ask its status.
    pub referrals: bool,
    /// The ONS local authority code the synthetic client lives in (default: the manifest's
    /// first area, else `E09000020`), for a plugin set up for one area.
    pub area: Option<String>,
    /// The synthetic client's postcode (default `W10 5AB`), near the plugin's services.
    pub postcode: Option<String>,
    /// Run each instance in a plugin host child started this way, not in this process.
    pub isolation: Option<HostOptions>,
}

/// The instance under check, wherever it runs.
#[derive(Debug)]
enum Subject {
    InProcess(DylibPartner),
    Isolated(ProcessPartner),
}

impl Subject {
    async fn call_raw(&self, op: u32, body: &[u8]) -> Result<(i32, Vec<u8>), PartnerError> {
        match self {
            Subject::InProcess(p) => p.call_raw(op, body).await,
            Subject::Isolated(p) => p.call_raw(op, body).await,
        }
    }

    fn call_stats(&self) -> CallStats {
        match self {
            Subject::InProcess(p) => p.call_stats(),
            Subject::Isolated(p) => p.call_stats(),
        }
    }

    fn partner_id(&self) -> &str {
        match self {
            Subject::InProcess(p) => p.partner_id(),
            Subject::Isolated(p) => p.partner_id(),
        }
    }

    /// How many times the instance's plugin host has died (0 in process, where a crash ends
    /// the check).
    fn crashes(&self) -> u64 {
        match self {
            Subject::InProcess(_) => 0,
            Subject::Isolated(p) => p.deaths(),
        }
    }

    /// Before the next check: a plugin host that a check crashed is given time to come back,
    /// so the next check tests the plugin, not the restart.
    async fn settle(&self) {
        if let Subject::Isolated(p) = self {
            p.ready(CHECK_TIMEOUT).await;
        }
    }
}

impl std::ops::Deref for Subject {
    type Target = dyn Partner;

    fn deref(&self) -> &(dyn Partner + 'static) {
        match self {
            Subject::InProcess(p) => p,
            Subject::Isolated(p) => p,
        }
    }
}

/// Makes the instance `conformance-check` of `library` with `settings`, in this process or in a
/// plugin host; the error as the operator would see it.
fn instantiate(
    lib: &PluginLibrary,
    library: &Path,
    isolation: Option<&HostOptions>,
    settings: &serde_json::Value,
) -> Result<Subject, String> {
    match isolation {
        None => lib.instantiate("conformance-check", settings).map(Subject::InProcess),
        Some(host) => ProcessPartner::start(host, library, "conformance-check", settings)
            .map(Subject::Isolated),
    }
    .map_err(|e| e.to_string())
}

impl Options {
    fn postcode(&self) -> &str {
        self.postcode.as_deref().unwrap_or("W10 5AB")
    }
}

/// Runs the conformance checks against the library at `library` with `settings`.
pub async fn run(library: &Path, settings: &serde_json::Value) -> ConformanceReport {
    run_with(library, settings, &Options::default()).await
}

/// [`run`], with `options`.
pub async fn run_with(
    library: &Path,
    settings: &serde_json::Value,
    options: &Options,
) -> ConformanceReport {
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
    let isolation = options.isolation.as_ref();
    report.record("manifest", check_manifest(&lib));
    report.record(
        "settings are strict",
        check_strict_settings(settings, |probe| {
            instantiate(&lib, library, isolation, probe).map(drop)
        }),
    );
    let partner = match instantiate(&lib, library, isolation, settings) {
        Ok(p) => {
            let where_ = if isolation.is_some() { " in a plugin host" } else { "" };
            report.record(
                "settings accepted",
                Ok(format!("the plugin started with the given settings{where_}")),
            );
            p
        }
        Err(e) => {
            report.record("settings accepted", Err(e));
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
    let area = options.area.clone().unwrap_or_else(|| {
        partner.manifest().areas.first().cloned().unwrap_or_else(|| "E09000020".into())
    });
    let client = Client { area: &area, postcode: options.postcode() };
    partner.settle().await;
    let offered = check_availability(&partner, &client).await;
    let first_offer = offered.as_ref().ok().and_then(|(_, offer)| offer.clone());
    report.record("availability", offered.map(|(detail, _)| detail));
    partner.settle().await;
    report.record("errors are contained", check_error_containment(&partner).await);
    partner.settle().await;
    report.record("cancellation", check_cancellation(&partner, &client).await);
    partner.settle().await;
    if options.referrals {
        referral_checks(&mut report, &partner, first_offer.clone(), &client).await;
        let instance = Instance { lib: &lib, library, isolation, settings };
        if let Some(result) = check_declared_fields(&instance, &partner, first_offer, &client).await
        {
            report.record("referral sends only declared fields", result);
        }
    }
    report
}

/// How to make another instance of the library under check.
struct Instance<'a> {
    lib: &'a PluginLibrary,
    library: &'a Path,
    isolation: Option<&'a HostOptions>,
    settings: &'a serde_json::Value,
}

/// Sends a referral carrying every client field, each a recognisable value, through another
/// instance whose `base_url` is a recording proxy in front of the real one, and fails if a
/// value of a field the manifest does not declare in `shares` was sent. The host never gives
/// a plugin such a field; this catches a connector that forwards whatever it is given (the
/// whole client), which would leak at once if that ever changed. `None` where the referral
/// check already said why no referral could be sent.
async fn check_declared_fields(
    instance: &Instance<'_>,
    partner: &Subject,
    offer: Option<pathways_core::Offer>,
    client: &Client<'_>,
) -> Option<Result<String, String>> {
    let manifest = partner.manifest();
    if !manifest.capabilities.contains(&Capability::Referral) {
        return None;
    }
    let offer = offer?;
    let Some(base_url) = instance.settings.get("base_url").and_then(serde_json::Value::as_str)
    else {
        return Some(Ok("the settings have no `base_url`, so what the plugin sends cannot be \
                        watched: not checked"
            .into()));
    };
    let Some(recorder) = Recorder::start(base_url).await else {
        return Some(Ok(format!("`base_url` `{base_url}` cannot be watched: not checked")));
    };
    let mut watched = instance.settings.clone();
    watched["base_url"] = serde_json::Value::String(recorder.url_for(base_url));
    let subject = match instantiate(instance.lib, instance.library, instance.isolation, &watched) {
        Ok(subject) => subject,
        Err(e) => {
            return Some(Err(format!(
            "the plugin refused its settings with `base_url` pointed at the check's recorder: {e}"
        )))
        }
    };
    let case = case_with(partner, offer.need, client, &CANARY);
    let referral = match synthetic_referral(&subject, &case, &offer, &ClientField::ALL, true) {
        Ok(referral) => referral,
        Err(bug) => return Some(Err(bug)),
    };
    let sent = answer(subject.send_referral(&referral)).await;
    if let (Ok(receipt), true) = (&sent, manifest.capabilities.contains(&Capability::Cancel)) {
        // Not left at the test system where the plugin can withdraw it.
        let reference = ReferralRef {
            partner_reference: receipt.partner_reference.clone(),
            idempotency_key: referral.idempotency_key.clone(),
        };
        let cancel = CancelRequest { reference, reason: CancelReason::SentInError };
        let _ = answer(subject.cancel_referral(&cancel)).await;
    }
    let seen = recorder.seen();
    if seen.is_empty() {
        return Some(Ok(format!(
            "the plugin sent nothing to its `base_url` for the referral ({}): nothing to check",
            sent.err().unwrap_or_else(|| "it was accepted".into())
        )));
    }
    let watched_fields = canaries(client.postcode);
    let mut leaks: Vec<String> = Vec::new();
    for (field, needles) in watched_fields.iter().filter(|(f, _)| !manifest.shares.contains(f)) {
        let found = seen.iter().find(|request| {
            let text = format!("{}\n{}\n{}", request.line, request.headers, request.body);
            let plain = text.to_lowercase();
            let decoded = percent_decoded(&text).to_lowercase();
            needles.iter().any(|n| plain.contains(n.as_str()) || decoded.contains(n.as_str()))
        });
        if let Some(request) = found {
            leaks.push(format!("`{}` (in {})", field.as_str(), request.line));
        }
    }
    let watched_names: Vec<&str> = watched_fields.iter().map(|(f, _)| f.as_str()).collect();
    Some(if leaks.is_empty() {
        Ok(format!(
            "{} request(s) watched; none carried a value of a field outside `shares` (watched: {})",
            seen.len(),
            watched_names.join(", ")
        ))
    } else {
        Err(format!(
            "sent {}, which the manifest does not declare in `shares`: send only the declared \
             fields (the plugin's side)",
            leaks.join(", ")
        ))
    })
}

/// `text` with `%XX` escapes and form-encoded `+` decoded, for finding values a plugin
/// URL-encoded.
fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// What the referral cancel check records for a plugin that cannot cancel.
const NO_CANCEL: &str = "the manifest declares no `cancel` capability: a cancelled referral is \
                         recorded here and the partner told by phone";

/// Sends a synthetic referral twice with one key, then asks its status and cancels it.
async fn referral_checks(
    report: &mut ConformanceReport,
    partner: &Subject,
    offer: Option<pathways_core::Offer>,
    client: &Client<'_>,
) {
    let manifest = partner.manifest();
    if !manifest.capabilities.contains(&pathways_core::Capability::Referral) {
        report.record("referral", Ok("the manifest declares no `referral` capability".into()));
        return;
    }
    let Some(offer) = offer else {
        report.record(
            "referral",
            Err("the plugin offered no service that takes referrals for the synthetic query".into()),
        );
        return;
    };
    let case = synthetic_case(partner, offer.need, client);
    let missing = pathways_core::missing_prerequisites(&case, manifest, offer.need, false);
    if !missing.is_empty() {
        let asks = pathways_core::what_to_ask(&missing);
        report.record("referral", Err(format!("the synthetic client cannot be referred: {asks}")));
        return;
    }
    let referral = match synthetic_referral(partner, &case, &offer, &manifest.shares, false) {
        Ok(referral) => referral,
        Err(bug) => {
            report.record("referral", Err(bug));
            return;
        }
    };
    let send = || async {
        tokio::time::timeout(CHECK_TIMEOUT, partner.send_referral(&referral))
            .await
            .map_err(|_| format!("no answer within {CHECK_TIMEOUT:?} (the plugin's side)"))?
            .map_err(|e| whose(&e))
    };
    let first = match send().await {
        Ok(receipt) => receipt,
        Err(e) => {
            report.record("referral", Err(e));
            return;
        }
    };
    report.record(
        "referral",
        Ok(format!(
            "`{}` for `{}` accepted as `{}`",
            offer.service.id, offer.need, first.partner_reference
        )),
    );
    let again = send().await;
    let idempotent = match again {
        Ok(second) if second.partner_reference == first.partner_reference => {
            Ok(format!("the same key again gave the same reference `{}`", first.partner_reference))
        }
        Ok(second) => Err(format!(
            "the same key again made another referral (`{}`, then `{}`): send the idempotency key to the partner (the plugin's side)",
            first.partner_reference, second.partner_reference
        )),
        Err(e) => Err(format!("the same key again failed: {e}")),
    };
    report.record("referral is idempotent", idempotent);
    let reference = ReferralRef {
        idempotency_key: referral.idempotency_key.clone(),
        partner_reference: first.partner_reference.clone(),
    };
    if manifest.capabilities.contains(&Capability::Status) {
        let status =
            answer(partner.referral_status(&reference)).await.map(|s| format!("{:?}", s.state));
        report.record("referral status", status);
    }
    report.record("referral cancel", check_referral_cancel(&**partner, &reference).await);
}

/// Withdraws the synthetic referral where the plugin can: `cancelled` (or the final state it
/// had reached), the same answer again, and a final status afterwards where it reports status.
async fn check_referral_cancel(
    partner: &dyn Partner,
    reference: &ReferralRef,
) -> Result<String, String> {
    let capabilities = &partner.manifest().capabilities;
    if !capabilities.contains(&Capability::Cancel) {
        return Ok(NO_CANCEL.into());
    }
    let request = CancelRequest { reference: reference.clone(), reason: CancelReason::SentInError };
    let first = answer(partner.cancel_referral(&request))
        .await
        .map_err(|e| format!("cancelling the synthetic referral failed: {e}"))?;
    if !first.state.is_final() {
        return Err(format!(
            "cancelling answered `{}`: expected `cancelled`, or the final state it had reached \
             (the plugin's side)",
            first.state.as_str()
        ));
    }
    let again = answer(partner.cancel_referral(&request)).await.map_err(|e| {
        format!("cancelling it again failed: {e}; a repeated cancel must be harmless")
    })?;
    if again.state != first.state {
        return Err(format!(
            "cancelling it again answered `{}` after `{}`: a repeated cancel must answer the \
             same (the plugin's side)",
            again.state.as_str(),
            first.state.as_str()
        ));
    }
    let mut detail = format!("withdrawn: `{}`, and the same again", first.state.as_str());
    if capabilities.contains(&Capability::Status) {
        let after = answer(partner.referral_status(reference))
            .await
            .map_err(|e| format!("its status after cancelling failed: {e}"))?;
        if !after.state.is_final() {
            return Err(format!(
                "cancelling answered `{}` but its status afterwards is `{}`: the partner still \
                 has it (the plugin's side)",
                first.state.as_str(),
                after.state.as_str()
            ));
        }
        detail.push_str(&format!("; its status afterwards is `{}`", after.state.as_str()));
    }
    Ok(detail)
}

/// A call's answer within [`CHECK_TIMEOUT`], a failure saying whose it is.
async fn answer<T>(
    call: impl std::future::Future<Output = Result<T, PartnerError>>,
) -> Result<T, String> {
    tokio::time::timeout(CHECK_TIMEOUT, call)
        .await
        .map_err(|_| format!("no answer within {CHECK_TIMEOUT:?} (the plugin's side)"))?
        .map_err(|e| whose(&e))
}

/// Whose a failure is: the partner's system (unreachable, overloaded, refusing the
/// credentials) or the plugin's (a request the partner could not read, a fault).
fn whose(error: &pathways_core::PartnerError) -> String {
    use pathways_core::PartnerErrorKind as K;
    let side = match error.kind {
        K::Transient { .. } | K::Timeout | K::Unavailable | K::Unauthorized => "the partner's side",
        K::InvalidRequest | K::Permanent | K::PluginFault | K::NotSupported => "the plugin's side",
    };
    format!("{error} ({side})")
}

/// The referral of `case` to `offer`'s service carrying `fields`, under a new key.
fn synthetic_referral(
    partner: &Subject,
    case: &pathways_core::Case,
    offer: &pathways_core::Offer,
    fields: &[ClientField],
    is_domestic_abuse_service: bool,
) -> Result<pathways_core::Referral, String> {
    let key = format!("conformance-{}", chrono::Utc::now().timestamp_micros());
    let (Ok(partner_id), Ok(key)) = (
        pathways_core::PartnerId::new(partner.partner_id()),
        pathways_core::IdempotencyKey::new(key),
    ) else {
        return Err("the check's own partner id or key is invalid (a bug)".into());
    };
    Ok(pathways_core::Referral::for_partner(
        case,
        &partner_id,
        offer.service.clone(),
        &[offer.need],
        fields,
        is_domestic_abuse_service,
        key,
    ))
}

/// A made-up client for `need`, in the plugin's first area, with everything a referral may
/// require recorded (the Duty to Refer facts for the first authority the plugin requires).
fn synthetic_case(
    partner: &Subject,
    need: pathways_core::NeedCode,
    client: &Client<'_>,
) -> pathways_core::Case {
    case_with(partner, need, client, &PLAIN)
}

/// The made-up client's details.
struct Values {
    name: &'static str,
    date_of_birth: &'static str,
    address: &'static str,
    phone: &'static str,
    email: &'static str,
    notes: &'static str,
}

/// The synthetic client of the referral checks.
const PLAIN: Values = Values {
    name: "Conformance Check",
    date_of_birth: "1980-01-01",
    address: "1 Test Street",
    phone: "07700 900000",
    email: "conformance@example.org",
    notes: "a synthetic referral from pathways plugins check",
};

/// A client whose every detail is recognisable in what a plugin sends (the fictional numbers
/// Ofcom keeps for drama, a domain kept for examples).
const CANARY: Values = Values {
    name: "Quillon Canarywood",
    date_of_birth: "1961-07-23",
    address: "17 Wagtail Mews",
    phone: "07700 900461",
    email: "canary.check@example.org",
    notes: "the client keeps bees on the roof (a synthetic referral from pathways plugins check)",
};

/// What each field's canary value looks like in a request, lower-cased, however a plugin
/// writes it. Year of birth, preferred language and household are not watched: their values
/// are too common to recognise.
fn canaries(postcode: &str) -> Vec<(ClientField, Vec<String>)> {
    let postcode = postcode.to_lowercase();
    vec![
        (ClientField::Name, vec!["quillon canarywood".into(), "canarywood".into()]),
        (
            ClientField::DateOfBirth,
            vec!["1961-07-23".into(), "23/07/1961".into(), "19610723".into()],
        ),
        (ClientField::Address, vec!["wagtail mews".into()]),
        (ClientField::Phone, vec!["7700900461".into(), "7700 900461".into()]),
        (ClientField::Email, vec!["canary.check@example.org".into()]),
        (ClientField::NeedNotes, vec!["keeps bees".into()]),
        (ClientField::Postcode, vec![postcode.replace(' ', ""), postcode]),
    ]
}

fn case_with(
    partner: &Subject,
    need: pathways_core::NeedCode,
    client: &Client<'_>,
    values: &Values,
) -> pathways_core::Case {
    let (area, postcode) = (client.area, client.postcode);
    let manifest = partner.manifest();
    let authority = manifest
        .requires
        .iter()
        .find_map(|r| match &r.what {
            pathways_core::Prerequisite::DutyToRefer { authorities } => {
                authorities.first().cloned()
            }
            _ => None,
        })
        .unwrap_or_else(|| area.to_string());
    let json = serde_json::json!({
        "reference": "CONFORMANCE-1", "channel": "phone",
        "referrer": {"organisation": "pathways-conformance", "worker": "check"},
        "client": {"name": values.name, "date_of_birth": values.date_of_birth,
            "postcode": postcode, "address": values.address, "local_authority": area,
            "phone": values.phone, "email": values.email,
            "preferred_language": "en", "safe_contact": false,
            "household": {"adults": 1, "children_ages": []}},
        "needs": [{"code": need, "urgency": "soon", "notes": values.notes}],
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
            "recorded_by": "check", "recorded_at": "2026-11-23T10:00:00Z",
            "duty_to_refer": {"consent_to_refer": true, "consent_to_share_contact": true,
                "chosen_authority": authority}}
    });
    pathways_core::parse_case(json.to_string().as_bytes())
        .unwrap_or_else(|e| unreachable!("the synthetic case is valid: {e}"))
}

impl ConformanceReport {
    /// The report as JUnit XML, one test case per check, for an integrator's own CI.
    pub fn junit(&self, suite: &str) -> String {
        let failures = self.checks.iter().filter(|c| !c.passed).count();
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
            escape(suite),
            self.checks.len()
        );
        for check in &self.checks {
            let name = escape(&check.name);
            if check.passed {
                xml.push_str(&format!(
                    "  <testcase classname=\"plugins check\" name=\"{name}\"><system-out>{}</system-out></testcase>\n",
                    escape(&check.detail)
                ));
            } else {
                xml.push_str(&format!(
                    "  <testcase classname=\"plugins check\" name=\"{name}\"><failure message=\"{}\"/></testcase>\n",
                    escape(&check.detail)
                ));
            }
        }
        xml.push_str("</testsuite>\n");
        xml
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
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
    settings: &serde_json::Value,
    instantiate: impl FnOnce(&serde_json::Value) -> Result<(), String>,
) -> Result<String, String> {
    const PROBE: &str = "pathways_conformance_unknown_key";
    let mut probe = match settings {
        serde_json::Value::Object(map) => map.clone(),
        serde_json::Value::Null => Default::default(),
        _ => return Err("settings must be a JSON object".into()),
    };
    probe.insert(PROBE.into(), serde_json::Value::Bool(true));
    match instantiate(&serde_json::Value::Object(probe)) {
        Ok(_) => Err(format!("a made-up settings key `{PROBE}` was accepted: declare the settings with #[serde(deny_unknown_fields)]")),
        Err(e) if e.contains(PROBE) => Ok("a made-up key is refused by name".into()),
        Err(e) => Err(format!("a made-up key was refused without naming it: {e}")),
    }
}

/// Where the synthetic client lives.
struct Client<'a> {
    area: &'a str,
    postcode: &'a str,
}

fn synthetic_query(partner: &Subject, client: &Client<'_>) -> AvailabilityQuery {
    let m = partner.manifest();
    AvailabilityQuery {
        needs: m.needs.iter().map(|&code| NeedRequest { code, urgency: Urgency::Soon }).collect(),
        local_authority: client.area.to_string(),
        postcode_district: client.postcode.split_whitespace().next().unwrap_or_default().into(),
        age_band: AgeBand::From35To49,
        household: Household { adults: 1, children_ages: vec![] },
        circumstances: vec![],
        preferred_language: "en".into(),
        today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
    }
}

/// The availability check's detail, and the first offer (to refer to).
async fn check_availability(
    partner: &Subject,
    client: &Client<'_>,
) -> Result<(String, Option<pathways_core::Offer>), String> {
    let query = synthetic_query(partner, client);
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
    let detail = format!("{} offer(s) for {} need(s)", answer.offers.len(), query.needs.len());
    // A service to refer to: one the plugin says takes referrals.
    let takes_referrals =
        partner.manifest().capabilities.contains(&pathways_core::Capability::Referral);
    let referable = answer
        .offers
        .into_iter()
        .find(|o| o.route_for(takes_referrals) == pathways_core::Route::Refer);
    Ok((detail, referable))
}

async fn check_error_containment(partner: &Subject) -> Result<String, String> {
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

async fn check_cancellation(partner: &Subject, client: &Client<'_>) -> Result<String, String> {
    let query = serde_json::to_vec(&synthetic_query(partner, client)).map_err(|e| e.to_string())?;
    let before = partner.call_stats();
    let crashes = partner.crashes();
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
            // A plugin host that died ends its calls too: that is no completion.
            partner.settle().await;
            if partner.crashes() > crashes {
                return Err("the plugin host died while the abandoned call was cancelled".into());
            }
            return Ok("an abandoned call was still completed, exactly once".into());
        }
        if tokio::time::Instant::now() > deadline {
            return Err("an abandoned call was never completed".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use pathways_core::{
        Availability, Health, Manifest, Referral, ReferralReceipt, ReferralStatus, TaskState,
    };

    use super::*;

    /// A partner answering cancels and status from a script, and recording each cancel.
    struct Scripted {
        manifest: Manifest,
        cancels: Mutex<VecDeque<Result<ReferralStatus, PartnerError>>>,
        status: Result<ReferralStatus, PartnerError>,
        asked: Mutex<Vec<CancelRequest>>,
    }

    fn state(state: TaskState) -> Result<ReferralStatus, PartnerError> {
        Ok(ReferralStatus { state, reason: None, note: None, updated_at: None })
    }

    fn scripted(
        capabilities: &[&str],
        cancels: Vec<Result<ReferralStatus, PartnerError>>,
        status: Result<ReferralStatus, PartnerError>,
    ) -> Scripted {
        let manifest = serde_json::from_value(serde_json::json!({
            "plugin": "scripted", "kind": "other", "version": "1", "description": "a script",
            "needs": ["food"], "shares": [], "capabilities": capabilities,
        }))
        .unwrap();
        Scripted {
            manifest,
            cancels: Mutex::new(cancels.into()),
            status,
            asked: Mutex::new(Vec::new()),
        }
    }

    #[async_trait]
    impl Partner for Scripted {
        fn manifest(&self) -> &Manifest {
            &self.manifest
        }
        async fn check_availability(
            &self,
            _: &AvailabilityQuery,
        ) -> Result<Availability, PartnerError> {
            Ok(Availability::default())
        }
        async fn send_referral(&self, _: &Referral) -> Result<ReferralReceipt, PartnerError> {
            Err(PartnerError::permanent("not in the script"))
        }
        async fn referral_status(&self, _: &ReferralRef) -> Result<ReferralStatus, PartnerError> {
            self.status.clone()
        }
        async fn health(&self) -> Result<Health, PartnerError> {
            Err(PartnerError::permanent("not in the script"))
        }
        async fn cancel_referral(
            &self,
            request: &CancelRequest,
        ) -> Result<ReferralStatus, PartnerError> {
            self.asked.lock().unwrap().push(request.clone());
            self.cancels.lock().unwrap().pop_front().expect("no more cancels in the script")
        }
    }

    fn reference() -> ReferralRef {
        ReferralRef {
            partner_reference: "P-1".into(),
            idempotency_key: "conformance-1".parse().unwrap(),
        }
    }

    async fn check(partner: &Scripted) -> Result<String, String> {
        check_referral_cancel(partner, &reference()).await
    }

    const CANCELS: &[&str] = &["referral", "status", "cancel"];

    #[tokio::test]
    async fn a_plugin_without_cancel_passes_and_is_never_asked() {
        let partner = scripted(&["referral", "status"], vec![], state(TaskState::Requested));
        let detail = check(&partner).await.unwrap();
        assert_eq!(detail, NO_CANCEL);
        assert!(detail.contains("told by phone"), "{detail}");
        assert!(partner.asked.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_cancel_that_sticks_passes_and_is_sent_twice_as_sent_in_error() {
        let cancelled = state(TaskState::Cancelled);
        let partner =
            scripted(CANCELS, vec![cancelled.clone(), cancelled.clone()], cancelled.clone());
        let detail = check(&partner).await.unwrap();
        assert!(detail.contains("`cancelled`, and the same again"), "{detail}");
        assert!(detail.contains("status afterwards is `cancelled`"), "{detail}");
        let asked = partner.asked.lock().unwrap();
        assert_eq!(asked.len(), 2);
        assert!(asked.iter().all(|r| r.reason == CancelReason::SentInError));
        assert!(asked.iter().all(|r| r.reference == reference()));
    }

    #[tokio::test]
    async fn a_referral_already_final_may_answer_its_final_state() {
        let done = state(TaskState::Completed);
        let partner = scripted(CANCELS, vec![done.clone(), done.clone()], done);
        let detail = check(&partner).await.unwrap();
        assert!(detail.contains("`completed`"), "{detail}");
    }

    #[tokio::test]
    async fn a_cancel_answering_a_live_state_fails() {
        let partner = scripted(
            CANCELS,
            vec![state(TaskState::Accepted), state(TaskState::Accepted)],
            state(TaskState::Accepted),
        );
        let detail = check(&partner).await.unwrap_err();
        assert!(detail.contains("answered `accepted`"), "{detail}");
        assert!(detail.contains("the plugin's side"), "{detail}");
        assert_eq!(partner.asked.lock().unwrap().len(), 1, "no second cancel after a bad first");
    }

    #[tokio::test]
    async fn a_failing_cancel_says_whose_the_failure_is() {
        let partner = scripted(
            CANCELS,
            vec![Err(PartnerError::transient("503 from partner", None))],
            state(TaskState::Requested),
        );
        let detail = check(&partner).await.unwrap_err();
        assert!(detail.contains("cancelling the synthetic referral failed"), "{detail}");
        assert!(detail.contains("503 from partner (the partner's side)"), "{detail}");
    }

    #[tokio::test]
    async fn a_repeated_cancel_must_answer_the_same() {
        let cancelled = state(TaskState::Cancelled);
        let refused = Err(PartnerError::permanent("already cancelled"));
        let partner = scripted(CANCELS, vec![cancelled.clone(), refused], cancelled.clone());
        let detail = check(&partner).await.unwrap_err();
        assert!(detail.contains("cancelling it again failed"), "{detail}");
        assert!(detail.contains("already cancelled"), "{detail}");

        let other = state(TaskState::EnteredInError);
        let partner = scripted(CANCELS, vec![cancelled.clone(), other], cancelled);
        let detail = check(&partner).await.unwrap_err();
        assert!(detail.contains("again answered `entered-in-error` after `cancelled`"), "{detail}");
    }

    #[tokio::test]
    async fn a_status_still_live_after_the_cancel_fails() {
        let cancelled = state(TaskState::Cancelled);
        let partner =
            scripted(CANCELS, vec![cancelled.clone(), cancelled], state(TaskState::Requested));
        let detail = check(&partner).await.unwrap_err();
        assert!(detail.contains("its status afterwards is `requested`"), "{detail}");

        // Without the status capability the status is not asked.
        let cancelled = state(TaskState::Cancelled);
        let partner = scripted(
            &["referral", "cancel"],
            vec![cancelled.clone(), cancelled],
            state(TaskState::Requested),
        );
        let detail = check(&partner).await.unwrap();
        assert!(!detail.contains("status afterwards"), "{detail}");
    }
}
