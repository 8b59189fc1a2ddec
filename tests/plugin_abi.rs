//! The plugin ABI end to end: real plugin libraries built by cargo, loaded through
//! `pathways-host`, misbehaving in every way the host must survive.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::join_all;
use pathways_core::{
    AvailabilityQuery, CancelReason, CancelRequest, NeedCode, NeedRequest, Partner,
    PartnerErrorKind, ReferralRef, TaskState, Urgency,
};
use pathways_host::{DylibPartner, LoadError, PluginLibrary};
use pathways_testkit::{availability_query, plugin_library};
use serde_json::json;

/// Every log line the host's `tracing` recorded in this test process.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = CaptureWriter(Arc::clone(&buffer));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first and only subscriber");
        buffer
    })
}

#[derive(Clone)]
struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn misbehaving() -> DylibPartner {
    captured_logs();
    let lib = PluginLibrary::open(&plugin_library("pathways_test_misbehaving_partner")).unwrap();
    lib.instantiate("misbehaving-1", &json!({"label": "t"})).unwrap()
}

fn query(command: &str) -> AvailabilityQuery {
    // The misbehaving plugin reads its command from the local authority field.
    availability_query(&[NeedCode::Food], command)
}

async fn health_counts(partner: &DylibPartner) -> serde_json::Value {
    let health = partner.health().await.unwrap();
    serde_json::from_str(&health.detail.unwrap()).unwrap()
}

/// An instance of the hand-written plugin that speaks ABI v1 as SDK 0.1.0 did, before
/// `cancel_referral` (operation 6) existed.
fn old_sdk_partner(partner_id: &str) -> DylibPartner {
    captured_logs();
    let lib = PluginLibrary::open(&plugin_library("pathways_test_old_sdk_partner")).unwrap();
    lib.instantiate(partner_id, &json!({})).unwrap()
}

/// Sends `partner` a referral for food (no client fields) and returns where to find it.
async fn refer(partner: &DylibPartner, key: &str) -> ReferralRef {
    let referral: pathways_core::Referral = serde_json::from_value(json!({
        "idempotency_key": key, "case_reference": "ABI-1", "partner_id": partner.partner_id(),
        "service": {"id": "svc-food", "name": "Test service"},
        "needs": [{"code": "food", "urgency": "soon"}], "client": {},
        "referrer": {"organisation": "pathways-tests", "worker": "abi"},
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
            "recorded_by": "abi", "recorded_at": "2026-11-23T10:00:00Z"}
    }))
    .unwrap();
    let receipt = partner.send_referral(&referral).await.unwrap();
    ReferralRef {
        partner_reference: receipt.partner_reference,
        idempotency_key: key.parse().unwrap(),
    }
}

fn cancel_request(reference: &ReferralRef, reason: CancelReason) -> CancelRequest {
    CancelRequest { reference: reference.clone(), reason }
}

#[tokio::test]
async fn hello_partner_loads_with_its_manifest_and_answers() {
    captured_logs();
    let lib = PluginLibrary::open(&plugin_library("hello_partner")).unwrap();
    let manifest = lib.manifest();
    assert_eq!(manifest.plugin, "hello-partner");
    let build = manifest.build.as_ref().expect("the SDK fills build facts");
    assert_eq!(build.sdk_version, pathways_host::HOST_SDK_VERSION);
    assert_eq!(build.target, pathways_host::HOST_TARGET);
    assert!(
        manifest.settings_schema.to_string().contains("service_name"),
        "schema: {}",
        manifest.settings_schema
    );

    let partner =
        lib.instantiate("befriend", &json!({"service_name": "Tea and Talk", "places": 0})).unwrap();
    let mut q = query("E09000020");
    q.needs = vec![
        NeedRequest { code: NeedCode::SocialIsolation, urgency: Urgency::Routine },
        NeedRequest { code: NeedCode::Food, urgency: Urgency::Urgent },
    ];
    let answer = partner.check_availability(&q).await.unwrap();
    assert_eq!(answer.offers.len(), 1, "only the need it serves: {answer:?}");
    assert_eq!(answer.offers[0].service.name, "Tea and Talk");
    assert_eq!(
        answer.offers[0].capacity,
        pathways_core::Capacity::NoCapacity,
        "settings reached the plugin"
    );
}

#[tokio::test]
async fn panicking_handler_is_a_plugin_fault_and_the_plugin_lives_on() {
    let partner = misbehaving();
    let err = partner.check_availability(&query("PANIC")).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::PluginFault);
    assert!(err.message.contains("asked to panic"), "{err}");
    assert!(err.message.contains("misbehaving-1"), "names the partner: {err}");

    let answer = partner.check_availability(&query("E09000020")).await.unwrap();
    assert_eq!(answer.offers.len(), 1);
    let stats = partner.call_stats();
    assert_eq!((stats.started, stats.completions, stats.duplicates), (2, 2, 0));
}

#[test]
fn plugin_built_for_another_abi_version_is_refused() {
    let err = PluginLibrary::open(&plugin_library("pathways_test_wrong_abi")).unwrap_err();
    assert!(matches!(err, LoadError::AbiMismatch { found: 2, expected: 1, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("ABI v2") && text.contains("speaks v1"), "{text}");
}

#[test]
fn library_without_the_entry_symbol_is_refused() {
    let err = PluginLibrary::open(&plugin_library("pathways_test_no_entry")).unwrap_err();
    assert!(matches!(err, LoadError::NoEntrySymbol { .. }), "{err:?}");
    assert!(err.to_string().contains("pathways_plugin_entry_v1"), "{err}");
}

#[test]
fn file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libnotes.so");
    std::fs::write(&path, "these are meeting notes, not a library\n").unwrap();
    let err = PluginLibrary::open(&path).unwrap_err();
    assert!(matches!(err, LoadError::NotALibrary { .. }), "{err:?}");
    assert!(err.to_string().contains("is not a loadable library"), "{err}");

    let missing = PluginLibrary::open(Path::new("/no/such/libplugin.so")).unwrap_err();
    assert!(matches!(missing, LoadError::NotALibrary { .. }), "{missing:?}");
}

#[test]
fn misspelled_setting_is_refused_naming_the_key_and_the_partner() {
    captured_logs();
    let lib = PluginLibrary::open(&plugin_library("hello_partner")).unwrap();
    let err = lib.instantiate("befriend-kc", &json!({"service_nmae": "Tea"})).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LoadError::Settings { .. }), "{err:?}");
    assert!(text.contains("befriend-kc"), "names the partner: {text}");
    assert!(text.contains("service_nmae"), "names the key: {text}");
    assert!(text.contains("service_name"), "says what was expected: {text}");
    assert!(err.is_bad_input());
}

#[tokio::test]
async fn host_timeout_reaches_the_plugins_cancel() {
    let partner = misbehaving();
    let timed_out = tokio::time::timeout(
        Duration::from_millis(100),
        partner.check_availability(&query("HANG")),
    )
    .await;
    assert!(timed_out.is_err(), "a hung call cannot finish");
    let mut counts = health_counts(&partner).await;
    for _ in 0..200 {
        if counts["cancelled"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        counts = health_counts(&partner).await;
    }
    assert_eq!(counts["cancelled"], 1, "the plugin saw the cancellation: {counts}");
    assert_eq!(counts["finished"], 0, "{counts}");
    let stats = partner.call_stats();
    assert_eq!(stats.awaiting_late_completion, 0, "the cancelled call was completed: {stats:?}");
    assert_eq!(stats.duplicates, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_each_complete_exactly_once() {
    let partner = Arc::new(misbehaving());
    let calls = (0..1_000u32).map(|i| {
        let partner = Arc::clone(&partner);
        async move {
            // A mix: instant, slow, and abandoned by a host timeout mid-flight.
            let command = match i % 4 {
                0 => "E09000020".to_string(),
                1 | 2 => format!("SLOW:{}", i % 7),
                _ => "SLOW:500".to_string(),
            };
            let limit =
                if i % 4 == 3 { Duration::from_millis(20) } else { Duration::from_secs(30) };
            tokio::time::timeout(limit, partner.check_availability(&query(&command))).await
        }
    });
    let results = join_all(calls).await;
    let answered = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let abandoned = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(answered, 750, "every call not abandoned was answered");
    assert_eq!(abandoned, 250);

    // Let the abandoned calls' late completions arrive.
    let mut stats = partner.call_stats();
    for _ in 0..500 {
        if stats.awaiting_late_completion == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        stats = partner.call_stats();
    }
    assert_eq!(stats.started, 1_000);
    assert_eq!(stats.completions, 1_000, "{stats:?}");
    assert_eq!(stats.duplicates, 0, "{stats:?}");
    assert_eq!(stats.awaiting_late_completion, 0, "{stats:?}");
    assert_eq!(stats.in_flight, 0, "{stats:?}");
    let counts = health_counts(&partner).await;
    // An abandoned call is either aborted before its handler first ran, or cancelled in it.
    assert_eq!(counts["finished"], 750, "{counts}");
    let started = counts["started"].as_u64().unwrap();
    assert_eq!(
        counts["cancelled"].as_u64().unwrap(),
        started - 750,
        "every abandoned handler was cancelled: {counts}"
    );
    assert!(started > 750, "some abandoned calls were cancelled mid-handler: {counts}");
}

#[tokio::test]
async fn plugin_log_events_reach_the_host_log() {
    let partner = misbehaving();
    partner.check_availability(&query("LOG-MARKER-7731")).await.unwrap();
    let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("LOG-MARKER-7731"))
        .unwrap_or_else(|| panic!("no forwarded event in:\n{logs}"));
    assert!(line.contains("availability asked"), "{line}");
    assert!(
        line.contains("plugin=\"misbehaving\"") || line.contains("plugin=misbehaving"),
        "{line}"
    );
    assert!(line.contains("INFO"), "{line}");
}

#[tokio::test]
async fn the_referral_check_catches_a_connector_that_forgets_idempotency_keys() {
    captured_logs();
    let library = plugin_library("pathways_test_misbehaving_partner");
    let options = pathways_host::conformance::Options { referrals: true, ..Default::default() };
    let good =
        pathways_host::conformance::run_with(&library, &json!({"label": "ok"}), &options).await;
    assert!(good.passed(), "{good:#?}");
    let idempotent = good.checks.iter().find(|c| c.name == "referral is idempotent").unwrap();
    assert!(idempotent.detail.contains("same reference"), "{idempotent:?}");
    // It does not declare cancel: the synthetic referral stays, and the check says so.
    let cancel = good.checks.iter().find(|c| c.name == "referral cancel").unwrap();
    assert!(cancel.passed && cancel.detail.contains("told by phone"), "{cancel:?}");

    let forgetful = json!({"label": "bad", "forgets_keys": true});
    let bad = pathways_host::conformance::run_with(&library, &forgetful, &options).await;
    assert!(!bad.passed());
    let failed: Vec<&pathways_host::conformance::Check> =
        bad.checks.iter().filter(|c| !c.passed).collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].name, "referral is idempotent");
    assert!(
        failed[0].detail.contains("made another referral")
            && failed[0].detail.contains("the plugin's side"),
        "{failed:?}"
    );

    // The same as JUnit XML, for an integrator's CI: one case per check, the failure named.
    let xml = bad.junit("misbehaving");
    assert!(xml.contains(&format!("tests=\"{}\" failures=\"1\"", bad.checks.len())), "{xml}");
    assert!(xml.contains("<testcase classname=\"plugins check\" name=\"referral is idempotent\"><failure message="), "{xml}");
}

#[tokio::test]
async fn conformance_check_passes_a_good_plugin_and_fails_a_bad_file() {
    captured_logs();
    let report = pathways_host::conformance::run(
        &plugin_library("hello_partner"),
        &json!({"service_name": "Tea"}),
    )
    .await;
    assert!(report.passed(), "{report:#?}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    for expected in [
        "handshake",
        "manifest",
        "settings are strict",
        "health",
        "availability",
        "errors are contained",
        "cancellation",
    ] {
        assert!(names.contains(&expected), "missing check {expected}: {names:?}");
    }

    let bad =
        pathways_host::conformance::run(&plugin_library("pathways_test_no_entry"), &json!({}))
            .await;
    assert!(!bad.passed());
    assert!(bad.checks[0].detail.contains("pathways_plugin_entry_v1"), "{bad:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_of_one_library_are_independent_though_they_share_its_runtime() {
    captured_logs();
    let lib = PluginLibrary::open(&plugin_library("pathways_test_misbehaving_partner")).unwrap();
    let first = lib.instantiate("misbehaving-a", &json!({"label": "a"})).unwrap();
    let second = Arc::new(lib.instantiate("misbehaving-b", &json!({"label": "b"})).unwrap());

    // A call of the second instance is in flight while the first is abandoned and shut down.
    let slow = tokio::spawn({
        let second = Arc::clone(&second);
        async move { second.check_availability(&query("SLOW:300")).await }
    });
    let timed_out =
        tokio::time::timeout(Duration::from_millis(50), first.check_availability(&query("HANG")))
            .await;
    assert!(timed_out.is_err(), "a hung call cannot finish");
    // Shutting down waits for the first instance's cancelled call to complete.
    drop(first);

    let answer = slow.await.unwrap().expect("the other instance's call is not cancelled");
    assert_eq!(answer.offers.len(), 1);
    let counts = health_counts(&second).await;
    assert_eq!(counts["label"], "b", "{counts}");
    assert_eq!(counts["started"], 1, "each instance keeps its own state: {counts}");
    assert_eq!((counts["finished"].as_u64(), counts["cancelled"].as_u64()), (Some(1), Some(0)));
    let stats = second.call_stats();
    assert_eq!((stats.completions, stats.duplicates, stats.in_flight), (2, 0, 0), "{stats:?}");

    // Without other instances (other tests here may hold some) that stopped the library's
    // runtime; either way a new instance serves.
    drop(Arc::into_inner(second).expect("the only reference left"));
    let third = lib.instantiate("misbehaving-c", &json!({"label": "c"})).unwrap();
    let answer = third.check_availability(&query("E09000020")).await.unwrap();
    assert_eq!(answer.offers.len(), 1);
}

#[tokio::test]
async fn a_plugin_built_before_cancel_loads_works_and_is_never_sent_the_operation() {
    let partner = old_sdk_partner("old-pantry-1");
    let build = partner.manifest().build.clone().expect("the old SDK filled build facts");
    assert_eq!((build.sdk_version.as_str(), build.abi_version), ("0.1.0", 1));
    assert!(!partner.manifest().capabilities.contains(&pathways_core::Capability::Cancel));

    // It works as it always did.
    let answer = partner.check_availability(&query("E09000020")).await.unwrap();
    assert_eq!(answer.offers.len(), 1, "{answer:?}");
    let reference = refer(&partner, "old-key-1").await;
    assert_eq!(reference.partner_reference, "old-key-1");
    let status = partner.referral_status(&reference).await.unwrap();
    assert_eq!(status.state, TaskState::Requested);

    // A cancel is answered by the host, naming the partner, and never reaches the plugin.
    let before = partner.call_stats();
    let err = partner
        .cancel_referral(&cancel_request(&reference, CancelReason::NoLongerNeeded))
        .await
        .unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::NotSupported, "{err}");
    assert!(err.message.contains("old-pantry-1"), "names the partner: {err}");
    assert!(err.message.contains("old-sdk"), "names the plugin: {err}");
    assert_eq!(partner.call_stats(), before, "no call crossed the boundary");
    let counts = health_counts(&partner).await;
    assert_eq!(
        counts["unknown_ops"], 0,
        "the plugin was sent no operation it does not know: {counts}"
    );
    let seen = counts["unknown_ops_seen"].as_array().unwrap();
    assert!(!seen.contains(&json!(6)), "no instance was ever sent operation 6: {counts}");
}

#[tokio::test]
async fn cancel_on_an_sdk_plugin_that_does_not_declare_it_is_answered_by_the_host() {
    let partner = misbehaving();
    assert!(!partner.manifest().capabilities.contains(&pathways_core::Capability::Cancel));
    let reference = refer(&partner, "undeclared-1").await;
    // The plugin implements cancel_referral and would answer `cancelled` if it were asked.
    let before = partner.call_stats();
    let err = partner
        .cancel_referral(&cancel_request(&reference, CancelReason::SentInError))
        .await
        .unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::NotSupported, "{err}");
    assert!(err.message.contains("misbehaving-1"), "names the partner: {err}");
    assert_eq!(partner.call_stats(), before, "no call crossed the boundary");
    let counts = health_counts(&partner).await;
    assert_eq!(counts["cancel_referral_calls"], 0, "{counts}");
}

#[tokio::test]
async fn cancel_reaches_an_sdk_plugin_that_declares_it_and_a_panic_there_is_contained() {
    captured_logs();
    let lib = PluginLibrary::open(&plugin_library("pathways_test_cancelling_partner")).unwrap();
    assert!(lib.manifest().capabilities.contains(&pathways_core::Capability::Cancel));
    let partner = lib.instantiate("cancels-1", &json!({"label": "c"})).unwrap();
    let reference = refer(&partner, "declared-1").await;

    let request = cancel_request(&reference, CancelReason::ConsentWithdrawn);
    let cancelled = partner.cancel_referral(&request).await.unwrap();
    assert_eq!(cancelled.state, TaskState::Cancelled, "{cancelled:?}");
    assert_eq!(
        cancelled.reason,
        Some(CancelReason::ConsentWithdrawn.status_reason()),
        "the request's reason crossed the boundary: {cancelled:?}"
    );
    assert_eq!(partner.referral_status(&reference).await.unwrap(), cancelled);
    // Again: the same answer.
    assert_eq!(partner.cancel_referral(&request).await.unwrap(), cancelled);
    let counts = health_counts(&partner).await;
    assert_eq!(counts["cancel_referral_calls"], 2, "both cancels reached the plugin: {counts}");

    // A partner's own refusal comes back as its error.
    let unknown =
        ReferralRef { partner_reference: "nope".into(), idempotency_key: "nope".parse().unwrap() };
    let err =
        partner.cancel_referral(&cancel_request(&unknown, CancelReason::Other)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent, "{err}");

    // A panic in cancel_referral is a plugin fault, and the plugin lives on.
    let panics =
        ReferralRef { partner_reference: "PANIC".into(), idempotency_key: "p".parse().unwrap() };
    let err =
        partner.cancel_referral(&cancel_request(&panics, CancelReason::Other)).await.unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::PluginFault, "{err}");
    assert!(err.message.contains("asked to panic in cancel_referral"), "{err}");
    assert!(
        err.message.contains("cancels-1") && err.message.contains("cancel_referral"),
        "names the partner and the operation: {err}"
    );
    assert_eq!(partner.referral_status(&reference).await.unwrap().state, TaskState::Cancelled);
    let stats = partner.call_stats();
    assert_eq!((stats.completions, stats.duplicates, stats.in_flight), (stats.started, 0, 0));
}

#[tokio::test]
async fn the_conformance_check_passes_a_plugin_built_before_cancel() {
    captured_logs();
    let library = plugin_library("pathways_test_old_sdk_partner");
    let options = pathways_host::conformance::Options { referrals: true, ..Default::default() };
    let report = pathways_host::conformance::run_with(&library, &json!({}), &options).await;
    assert!(report.passed(), "{report:#?}");
    let cancel = report.checks.iter().find(|c| c.name == "referral cancel").unwrap();
    assert!(
        cancel.detail.contains("declares no `cancel` capability")
            && cancel.detail.contains("told by phone"),
        "{cancel:?}"
    );
    // The check's unknown-operation probe reached the plugin, so its tally counts; operation
    // 6 never did, though the check went as far as cancelling.
    let counts = health_counts(&old_sdk_partner("old-pantry-2")).await;
    let seen = counts["unknown_ops_seen"].as_array().unwrap();
    assert!(seen.contains(&json!(9_999)), "the probe was counted: {counts}");
    assert!(!seen.contains(&json!(6)), "{counts}");
}

#[tokio::test]
async fn the_referral_check_withdraws_the_referral_where_the_plugin_can_cancel() {
    captured_logs();
    let library = plugin_library("pathways_test_cancelling_partner");
    let options = pathways_host::conformance::Options { referrals: true, ..Default::default() };
    let good =
        pathways_host::conformance::run_with(&library, &json!({"label": "ok"}), &options).await;
    assert!(good.passed(), "{good:#?}");
    let cancel = good.checks.iter().find(|c| c.name == "referral cancel").unwrap();
    assert!(
        cancel.detail.contains("`cancelled`, and the same again")
            && cancel.detail.contains("its status afterwards is `cancelled`"),
        "{cancel:?}"
    );
    let names: Vec<&str> = good.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        &names[names.len() - 5..],
        [
            "referral",
            "referral is idempotent",
            "referral status",
            "referral cancel",
            "referral sends only declared fields"
        ]
    );

    // A connector that answers `cancelled` but leaves the referral at the partner.
    let forgetful = json!({"label": "bad", "forgets_cancels": true});
    let bad = pathways_host::conformance::run_with(&library, &forgetful, &options).await;
    let failed: Vec<&pathways_host::conformance::Check> =
        bad.checks.iter().filter(|c| !c.passed).collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].name, "referral cancel");
    assert!(
        failed[0].detail.contains("status afterwards is `requested`")
            && failed[0].detail.contains("the plugin's side"),
        "{failed:?}"
    );
}

/// A plugin built with a newer minor SDK that added a field to every payload type: the host
/// reads its manifest and answers (each object carrying a field the host does not know) and the
/// plugin's SDK reads the host's requests (each carrying a field it does not know), for every
/// operation, so neither side's upgrade breaks the other.
#[tokio::test]
async fn a_plugin_from_a_newer_sdk_and_this_host_read_each_others_extra_fields() {
    captured_logs();
    let path = plugin_library("pathways_test_newer_sdk_partner");
    let library = PluginLibrary::open(&path).expect("a semver-compatible newer SDK loads");
    let manifest = library.manifest();
    assert_eq!(manifest.plugin, "newer-sdk");
    assert_eq!(manifest.build.as_ref().unwrap().sdk_version, "0.1.99");
    assert!(manifest.capabilities.contains(&pathways_core::Capability::Cancel));
    let partner = library.instantiate("newer-pantry", &json!({})).unwrap();

    let mut q = query("E09000020");
    q.needs = vec![NeedRequest { code: NeedCode::Food, urgency: Urgency::Urgent }];
    let availability = partner.check_availability(&q).await.expect("its answer reads");
    assert_eq!(availability.offers.len(), 1);
    assert_eq!(availability.offers[0].service.id, "parcel");
    // An error answer with an extra field reads as the error it is.
    let refused = partner.check_availability(&query("REFUSE")).await.unwrap_err();
    assert_eq!(refused.kind, pathways_core::PartnerErrorKind::InvalidRequest, "{refused}");
    assert!(refused.message.contains("no such area"), "{refused}");

    let reference = refer(&partner, "newer-key-1").await;
    assert_eq!(reference.partner_reference, "NEWER-newer-key-1");
    assert_eq!(refer(&partner, "newer-key-1").await, reference, "idempotent through the fields");
    let status = partner.referral_status(&reference).await.expect("status reads");
    assert_eq!(status.state, pathways_core::TaskState::Requested);
    let cancelled =
        partner.cancel_referral(&cancel_request(&reference, CancelReason::NoLongerNeeded)).await;
    assert_eq!(cancelled.expect("cancel reads").state, pathways_core::TaskState::Cancelled);

    let counts = health_counts(&partner).await;
    // Every request with a body (not health's) was widened before the SDK read it, and every
    // answer before the host did.
    assert!(counts["requests_widened"].as_u64().unwrap() >= 6, "{counts}");
    assert!(counts["answers_widened"].as_u64().unwrap() >= 7, "{counts}");

    // The whole conformance check, referrals included, passes it too.
    let options = pathways_host::conformance::Options { referrals: true, ..Default::default() };
    let report = pathways_host::conformance::run_with(&path, &json!({}), &options).await;
    assert!(report.passed(), "{report:#?}");
}

/// `plugins check --referral` watches what a plugin sends through its `base_url` and fails one
/// that forwards fields its manifest does not declare in `shares` (given every field, as the
/// host never would), naming each field and the request it was seen in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_referral_check_catches_a_connector_that_sends_undeclared_fields() {
    captured_logs();
    let library = plugin_library("pathways_test_misbehaving_partner");
    let options = pathways_host::conformance::Options { referrals: true, ..Default::default() };
    // Nowhere listens on port 9: the recorder sees the request and answers 502 itself.
    let leaky = json!({"base_url": "http://127.0.0.1:9/api"});
    let report = pathways_host::conformance::run_with(&library, &leaky, &options).await;
    let failed: Vec<&pathways_host::conformance::Check> =
        report.checks.iter().filter(|c| !c.passed).collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].name, "referral sends only declared fields");
    let detail = &failed[0].detail;
    for field in ["`name`", "`date_of_birth`", "`phone`", "`email`", "`need_notes`", "`address`"] {
        assert!(detail.contains(field), "{field} in {detail}");
    }
    assert!(
        detail.contains("POST /api/referrals") && detail.contains("the plugin's side"),
        "{detail}"
    );

    // Without a base_url there is nothing to watch, and the check says so rather than pass
    // silently.
    let unwatched = pathways_host::conformance::run_with(&library, &json!({}), &options).await;
    let check = unwatched
        .checks
        .iter()
        .find(|c| c.name == "referral sends only declared fields")
        .expect("the check ran");
    assert!(check.passed && check.detail.contains("not checked"), "{check:?}");
}
