//! The exports driven directly, as a host would through the vtable: several instances of one
//! library share its runtime, and shutting one down completes that instance's calls (as
//! CANCELLED, before `shutdown` returns) and nobody else's.
//!
//! Plain `#[test]`s on purpose: a real host calls the exports from threads that are not the
//! plugin's (its tokio is another copy), and so do these.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pathways_abi::{
    Bytes, Completion, HostApi, ABI_VERSION, OP_HEALTH, STATUS_CANCELLED, STATUS_OK,
};
use serde::Deserialize;

use super::{call, init, shutdown};
use crate::{
    async_trait, Availability, AvailabilityQuery, Health, HealthStatus, Manifest, Partner,
    PartnerError, PartnerKind, PartnerPlugin, Referral, ReferralReceipt, ReferralRef,
    ReferralStatus,
};

/// The tests share the library's one runtime and check when it stops: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// `health` never answers (until cancelled).
    #[serde(default)]
    hang: bool,
    /// Otherwise `health` answers after this many milliseconds.
    #[serde(default)]
    delay_ms: u64,
}

/// A partner whose `health` hangs or answers late, counting the calls dropped unfinished.
#[derive(Debug)]
struct TestPartner {
    manifest: Manifest,
    hang: bool,
    delay: Duration,
    dropped: &'static AtomicU64,
}

static DROPPED_UNFINISHED: AtomicU64 = AtomicU64::new(0);

struct Unfinished(&'static AtomicU64, bool);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl PartnerPlugin for TestPartner {
    type Settings = Settings;

    fn describe() -> Manifest {
        Manifest {
            plugin: "sdk-test".into(),
            kind: PartnerKind::Other,
            version: "0.0.0".into(),
            description: "SDK unit test partner".into(),
            needs: vec![],
            areas: vec![],
            shares: vec![],
            capabilities: vec![],
            settings_schema: serde_json::Value::Null,
            build: None,
            requires: Vec::new(),
        }
    }

    fn from_settings(settings: Settings) -> Result<Self, String> {
        // Built inside the plugin's runtime, as the SDK promises.
        tokio::runtime::Handle::try_current().map_err(|e| format!("not in the runtime: {e}"))?;
        Ok(Self {
            manifest: crate::manifest_of::<Self>(),
            hang: settings.hang,
            delay: Duration::from_millis(settings.delay_ms),
            dropped: &DROPPED_UNFINISHED,
        })
    }
}

#[async_trait]
impl Partner for TestPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        _: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        Ok(Availability { offers: vec![] })
    }

    async fn send_referral(&self, _: &Referral) -> Result<ReferralReceipt, PartnerError> {
        Err(PartnerError::permanent("not in this test"))
    }

    async fn referral_status(&self, _: &ReferralRef) -> Result<ReferralStatus, PartnerError> {
        Err(PartnerError::permanent("not in this test"))
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        let mut guard = Unfinished(self.dropped, false);
        if self.hang {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(self.delay).await;
        guard.1 = true;
        Ok(Health { status: HealthStatus::Ok, detail: None })
    }
}

/// One instance's completions, as the host's call table would see them.
#[derive(Default)]
struct Completions {
    done: Mutex<Vec<(u64, i32)>>,
    changed: Condvar,
}

impl Completions {
    fn leaked() -> &'static Completions {
        Box::leak(Box::default())
    }

    fn snapshot(&self) -> Vec<(u64, i32)> {
        let mut done = self.done.lock().unwrap().clone();
        done.sort_unstable();
        done
    }

    /// Waits until `n` calls have completed (or 10 s have passed); returns them by token.
    fn wait_for(&self, n: usize) -> Vec<(u64, i32)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut done = self.done.lock().unwrap();
        while done.len() < n && Instant::now() < deadline {
            done = self.changed.wait_timeout(done, Duration::from_millis(50)).unwrap().0;
        }
        drop(done);
        self.snapshot()
    }
}

unsafe extern "C" fn on_complete(ctx: *const c_void, token: u64, status: i32, _data: Bytes) {
    // SAFETY: ctx is the leaked `Completions` passed with the call.
    let completions = unsafe { &*ctx.cast::<Completions>() };
    completions.done.lock().unwrap().push((token, status));
    completions.changed.notify_all();
}

unsafe extern "C" fn log_to_stderr(_: *const c_void, _level: u32, _target: Bytes, message: Bytes) {
    // The SDK's panic hook sends panics (a failed assertion here, too) to the host log.
    // SAFETY: the plugin lends the bytes for the duration of this call.
    eprintln!("{}", String::from_utf8_lossy(unsafe { message.as_slice() }));
}

unsafe extern "C" fn init_error(_: *mut c_void, message: Bytes) {
    // SAFETY: as above.
    panic!("init failed: {}", String::from_utf8_lossy(unsafe { message.as_slice() }));
}

/// An instance of [`TestPartner`] created through the `init` export.
struct Instance(*mut c_void);

fn new_instance(settings: &str) -> Instance {
    let host = HostApi {
        struct_size: std::mem::size_of::<HostApi>(),
        abi_version: ABI_VERSION,
        max_log_level: pathways_abi::LOG_ERROR,
        ctx: std::ptr::null(),
        log: log_to_stderr,
    };
    let mut instance = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; the settings are borrowed for it.
    let status = unsafe {
        init::<TestPartner>(
            &host,
            Bytes::from_slice(settings.as_bytes()),
            &mut instance,
            init_error,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, STATUS_OK);
    Instance(instance)
}

impl Instance {
    fn start_health(&self, token: u64, completions: &'static Completions) {
        let completion = Completion {
            ctx: (completions as *const Completions).cast::<c_void>(),
            token,
            callback: on_complete,
        };
        // SAFETY: a live instance; the request is borrowed for the call.
        unsafe { call::<TestPartner>(self.0, OP_HEALTH, Bytes::from_slice(b"null"), completion) };
    }

    fn shut_down(self) {
        // SAFETY: the instance came from init and is shut down once.
        unsafe { shutdown::<TestPartner>(self.0) };
    }
}

fn runtime_running() -> bool {
    crate::runtime::running()
}

#[test]
fn shutting_down_one_instance_cancels_its_calls_only() {
    let _serial = serial();
    let (hung, a) = (new_instance(r#"{"hang": true}"#), Completions::leaked());
    let (slow, b) = (new_instance(r#"{"delay_ms": 600}"#), Completions::leaked());
    for token in 1..=3 {
        hung.start_health(token, a);
    }
    for token in 1..=2 {
        slow.start_health(token, b);
    }
    // Let the handlers start, so some are cancelled mid-handler rather than before it.
    std::thread::sleep(Duration::from_millis(50));
    let dropped_before = DROPPED_UNFINISHED.load(Ordering::SeqCst);

    hung.shut_down();
    // Every call of the stopped instance has completed, once, as CANCELLED, before shutdown
    // returned.
    let cancelled = STATUS_CANCELLED;
    assert_eq!(a.snapshot(), [(1, cancelled), (2, cancelled), (3, cancelled)]);
    assert_eq!(DROPPED_UNFINISHED.load(Ordering::SeqCst) - dropped_before, 3);
    // The other instance's calls were not touched: they finish, and answer.
    assert!(b.snapshot().is_empty(), "still waiting on their delay: {:?}", b.snapshot());
    assert!(runtime_running(), "the other instance still needs the runtime");
    assert_eq!(b.wait_for(2), [(1, STATUS_OK), (2, STATUS_OK)]);

    // The instance left serves new calls, and is stopped with nothing in flight.
    slow.start_health(3, b);
    assert_eq!(b.wait_for(3).last(), Some(&(3, STATUS_OK)));
    slow.shut_down();
    assert!(!runtime_running(), "the last instance stops the runtime");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(a.snapshot().len(), 3, "no late or second completion");
    assert_eq!(b.snapshot().len(), 3, "no late or second completion");
}

#[test]
fn the_runtime_starts_again_after_the_last_instance_stopped() {
    let _serial = serial();
    let first = new_instance(r#"{"hang": true}"#);
    let completions = Completions::leaked();
    first.start_health(1, completions);
    assert!(runtime_running());
    first.shut_down();
    assert_eq!(completions.snapshot(), [(1, STATUS_CANCELLED)]);
    assert!(!runtime_running());

    let second = new_instance(r#"{"delay_ms": 1}"#);
    assert!(runtime_running());
    second.start_health(2, completions);
    assert_eq!(completions.wait_for(2), [(1, STATUS_CANCELLED), (2, STATUS_OK)]);
    second.shut_down();
    assert!(!runtime_running());
}

#[test]
fn many_instances_share_one_runtime_and_each_answers() {
    let _serial = serial();
    let instances: Vec<_> = (0..16).map(|_| new_instance(r#"{"delay_ms": 20}"#)).collect();
    let completions = Completions::leaked();
    for (i, instance) in instances.iter().enumerate() {
        instance.start_health(i as u64, completions);
    }
    let done = completions.wait_for(16);
    assert_eq!(done.len(), 16, "{done:?}");
    assert!(done.iter().all(|&(_, status)| status == STATUS_OK), "{done:?}");
    if let Some(threads) = plugin_threads() {
        assert_eq!(threads, 2, "one runtime of two workers for all 16 instances");
    }
    for instance in instances {
        instance.shut_down();
    }
    assert!(!runtime_running());
}

/// How many threads of this process are named `plugin-sdk-test` (Linux only).
fn plugin_threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let named = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim() == "plugin-sdk-test")
        .count();
    Some(named)
}

/// A request whose idempotency key or partner id breaks the shared rule never reaches the
/// connector: the SDK answers it `invalid_request`, naming the field, so no connector checks
/// them itself.
#[test]
fn a_referral_without_a_valid_key_or_partner_id_is_refused_before_the_connector() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let settings = Settings::deserialize(serde_json::json!({})).unwrap();
    let partner = runtime.block_on(async { TestPartner::from_settings(settings) }).unwrap();
    let referral = |key: &str, partner_id: &str| {
        serde_json::json!({
            "idempotency_key": key, "case_reference": "C-1", "partner_id": partner_id,
            "service": {"id": "s", "name": "S"}, "needs": [{"code": "food", "urgency": "soon"}],
            "client": {}, "referrer": {"organisation": "o", "worker": "w"},
            "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
                "recorded_by": "w", "recorded_at": "2026-11-23T10:00:00Z"}
        })
        .to_string()
    };
    for (key, partner_id, field) in [
        ("", "pantry", "idempotency_key"),
        ("a key", "pantry", "idempotency_key"),
        ("k", "Pantry", "partner_id"),
    ] {
        let answer = runtime.block_on(super::dispatch(
            &partner,
            pathways_abi::OP_SEND_REFERRAL,
            referral(key, partner_id).as_bytes(),
        ));
        let error: PartnerError = serde_json::from_slice(&answer.unwrap_err()).unwrap();
        assert_eq!(error.kind, crate::PartnerErrorKind::InvalidRequest, "{error}");
        assert!(error.message.contains(&format!("at `{field}`")), "{error}");
    }
    // A valid one reaches the connector (which refuses it in this test, as `permanent`).
    let answer = runtime.block_on(super::dispatch(
        &partner,
        pathways_abi::OP_SEND_REFERRAL,
        referral("k", "pantry").as_bytes(),
    ));
    let error: PartnerError = serde_json::from_slice(&answer.unwrap_err()).unwrap();
    assert!(error.message.contains("not in this test"), "{error}");
}
