//! [`DylibPartner`]: a plugin instance seen as a [`Partner`].
//!
//! Each call gets a token. The host keeps a table of calls in flight (token → channel); the
//! plugin's completion callback looks the token up and wakes the waiting future. Because the
//! callback goes through the table instead of owning a pointer, a plugin that completes a call
//! twice, or late, cannot cause a use-after-free: the second completion finds nothing and is
//! counted. Dropping a call's future (a timeout, a plan deadline) removes it from the table and
//! asks the plugin to cancel it.

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use pathways_abi::{
    Bytes, Completion, PluginVtable, OP_CANCEL_REFERRAL, OP_CHECK_AVAILABILITY, OP_HEALTH,
    OP_MANIFEST, OP_REFERRAL_STATUS, OP_SEND_REFERRAL, STATUS_CANCELLED, STATUS_ERR, STATUS_OK,
    STATUS_PANIC,
};
use pathways_core::{
    Availability, AvailabilityQuery, CancelRequest, Capability, Health, Manifest, Partner,
    PartnerError, PartnerErrorKind, Referral, ReferralReceipt, ReferralRef, ReferralStatus,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

type Reply = (i32, Vec<u8>);

/// Calls in flight for one instance. Shared with the plugin as the completion context, and
/// leaked once per instance so that context stays valid for the life of the process.
#[derive(Debug, Default)]
struct CallTable {
    pending: Mutex<HashMap<u64, Waiter>>,
    /// Calls the host gave up on; the plugin still owes each one completion, on which the
    /// function kept with it (if any) is run.
    abandoned: Mutex<HashMap<u64, Option<LateHook>>>,
    started: AtomicU64,
    completions: AtomicU64,
    duplicates: AtomicU64,
}

/// Run when an abandoned call's late completion arrives.
struct LateHook(Box<dyn FnOnce() + Send>);

impl std::fmt::Debug for LateHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LateHook")
    }
}

/// Who is waiting for a call's completion.
enum Waiter {
    /// A task of the host, awaiting [`DylibPartner::call_raw`].
    Task(oneshot::Sender<Reply>),
    /// A function run on the plugin's thread as it completes the call (the plugin host child
    /// answers the daemon from there, without waking a thread of its own).
    Callback(Box<dyn FnOnce(i32, Vec<u8>) + Send>),
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Waiter::Task(_) => "Task",
            Waiter::Callback(_) => "Callback",
        })
    }
}

fn lock<V>(m: &Mutex<V>) -> MutexGuard<'_, V> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counters of the call protocol, for tests and metrics (the manifest question asked at load
/// is not counted once answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallStats {
    /// Calls started.
    pub started: u64,
    /// Completions received from the plugin (on time or late).
    pub completions: u64,
    /// Calls the host gave up on whose late completion has not arrived yet.
    pub awaiting_late_completion: u64,
    /// Completions for a call that was already complete: a plugin bug.
    pub duplicates: u64,
    /// Calls waiting for their completion now.
    pub in_flight: u64,
}

/// The plugin's raw pointer to its instance.
#[derive(Debug, Clone, Copy)]
struct InstancePtr(*mut c_void);
// SAFETY: the ABI requires every plugin export to be callable from any thread.
unsafe impl Send for InstancePtr {}
// SAFETY: as above.
unsafe impl Sync for InstancePtr {}

/// A partner served by a loaded plugin library.
#[derive(Debug)]
pub struct DylibPartner {
    partner_id: String,
    vtable: &'static PluginVtable,
    instance: InstancePtr,
    manifest: Manifest,
    path: Arc<Path>,
    table: &'static CallTable,
    next_token: AtomicU64,
}

impl DylibPartner {
    pub(crate) fn new(
        partner_id: String,
        vtable: &'static PluginVtable,
        instance: *mut c_void,
        manifest: Manifest,
        path: Arc<Path>,
    ) -> Self {
        Self {
            partner_id,
            vtable,
            instance: InstancePtr(instance),
            manifest,
            path,
            table: Box::leak(Box::default()),
            next_token: AtomicU64::new(1),
        }
    }

    /// The partner id from configuration.
    pub fn partner_id(&self) -> &str {
        &self.partner_id
    }

    /// The library this instance was created from.
    pub fn library_path(&self) -> &Path {
        &self.path
    }

    /// Counters of the call protocol so far.
    pub fn call_stats(&self) -> CallStats {
        let t = self.table;
        // One lock at a time: holding both here would invert on_complete's order (pending,
        // then abandoned) and deadlock.
        let in_flight = lock(&t.pending).len() as u64;
        let awaiting_late_completion = lock(&t.abandoned).len() as u64;
        CallStats {
            started: t.started.load(Ordering::SeqCst),
            completions: t.completions.load(Ordering::SeqCst),
            awaiting_late_completion,
            duplicates: t.duplicates.load(Ordering::SeqCst),
            in_flight,
        }
    }

    /// Takes what the instance `requires` from its own manifest (`OP_MANIFEST`), which may
    /// depend on its settings, so a plan marks a step the partner would refuse as `blocked`.
    /// A plugin built before the operation (it answers an error), one that answers something
    /// else, or one that does not answer within `timeout`, keeps its library's requirements.
    pub(crate) fn adopt_instance_requirements(&mut self, timeout: std::time::Duration) {
        // `instantiate` is not async and may run on a runtime's thread: ask from a thread of
        // our own with a runtime of its own, through the same call path as every operation.
        // `None`: no answer in time (or no runtime could be made).
        let answer: Option<Result<Manifest, PartnerError>> = std::thread::scope(|scope| {
            let this = &*self;
            scope
                .spawn(move || {
                    let runtime =
                        tokio::runtime::Builder::new_current_thread().enable_time().build().ok()?;
                    runtime
                        .block_on(async {
                            let call = this.call::<_, Manifest>(OP_MANIFEST, &());
                            tokio::time::timeout(timeout, call).await
                        })
                        .ok()
                })
                .join()
                .ok()
                .flatten()
        });
        // The counters are of calls made for callers: a manifest question answered (or
        // refused) at load is not one. One that timed out stays counted, awaiting its late
        // completion, which is what happened.
        if answer.is_some() {
            self.table.started.fetch_sub(1, Ordering::SeqCst);
            self.table.completions.fetch_sub(1, Ordering::SeqCst);
        }
        match answer {
            Some(Ok(instance)) if instance.plugin == self.manifest.plugin => {
                self.manifest.requires = instance.requires;
            }
            Some(Ok(_)) => tracing::warn!(partner = %self.partner_id,
                "the instance's manifest names another plugin; its library's requirements stand"),
            Some(Err(_)) => tracing::debug!(partner = %self.partner_id,
                "no instance manifest (a plugin built before the operation); the library's stands"),
            None => tracing::warn!(partner = %self.partner_id,
                "the instance did not give its manifest in time; its library's requirements stand"),
        }
    }

    /// Sends raw request bytes for `op` and returns the raw status and response bytes. Used by
    /// the typed calls and by the conformance check (which sends malformed requests on purpose).
    pub(crate) async fn call_raw(&self, op: u32, request: &[u8]) -> Result<Reply, PartnerError> {
        let (tx, rx) = oneshot::channel();
        let token = self.start(op, request, Waiter::Task(tx));
        let mut in_flight = InFlight { partner: self, token, finished: false };
        let reply = rx.await;
        in_flight.finished = true;
        reply.map_err(|_| self.fault(op, "the plugin dropped the call without completing it"))
    }

    /// Starts a call whose completion runs `done(status, body)` on the plugin's thread (or on
    /// this one, if the plugin completes at once); returns its token, for [`Self::abandon`].
    /// `done` is not run for a call abandoned first.
    pub(crate) fn call_with(
        &self,
        op: u32,
        request: &[u8],
        done: impl FnOnce(i32, Vec<u8>) + Send + 'static,
    ) -> u64 {
        self.start(op, request, Waiter::Callback(Box::new(done)))
    }

    fn start(&self, op: u32, request: &[u8], waiter: Waiter) -> u64 {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        lock(&self.table.pending).insert(token, waiter);
        self.table.started.fetch_add(1, Ordering::SeqCst);
        let completion = Completion {
            ctx: (self.table as *const CallTable).cast::<c_void>(),
            token,
            callback: on_complete,
        };
        // SAFETY: the instance is live until drop; the request is lent for this call only; the
        // completion context is the leaked call table.
        unsafe { (self.vtable.call)(self.instance.0, op, Bytes::from_slice(request), completion) };
        token
    }

    /// Gives up on call `token` and asks the plugin to cancel it; its late completion is
    /// counted, not delivered. `false` if it had already completed.
    pub(crate) fn abandon(&self, token: u64) -> bool {
        self.abandon_with(token, None)
    }

    /// As [`Self::abandon`], and runs `finished` when the plugin completes the call at last
    /// (the plugin host child answers the daemon's cancel only then, so a call the plugin
    /// cannot cancel shows as one). `false`, and `finished` is not run, if it had already
    /// completed.
    pub(crate) fn abandon_then(
        &self,
        token: u64,
        finished: impl FnOnce() + Send + 'static,
    ) -> bool {
        self.abandon_with(token, Some(LateHook(Box::new(finished))))
    }

    fn abandon_with(&self, token: u64, finished: Option<LateHook>) -> bool {
        let table = self.table;
        // Mark it abandoned before removing it, under the pending lock, so a completion racing
        // with us is counted either as on time or as late, never as a duplicate.
        let mut pending = lock(&table.pending);
        if pending.remove(&token).is_none() {
            return false;
        }
        lock(&table.abandoned).insert(token, finished);
        drop(pending);
        // SAFETY: the instance is live until the partner is dropped, which cannot happen while
        // `self` is borrowed.
        unsafe { (self.vtable.cancel)(self.instance.0, token) };
        true
    }

    async fn call<Q: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        op: u32,
        request: &Q,
    ) -> Result<R, PartnerError> {
        let request = encode_request(op, request)?;
        let (status, body) = self.call_raw(op, &request).await?;
        decode_reply(&self.partner_id, &self.manifest.plugin, op, status, &body)
    }

    fn fault(&self, op: u32, what: &str) -> PartnerError {
        fault(&self.partner_id, &self.manifest.plugin, op, what)
    }
}

/// Encodes a typed request as the JSON bytes every plugin call carries.
pub(crate) fn encode_request<Q: Serialize + ?Sized>(
    op: u32,
    request: &Q,
) -> Result<Vec<u8>, PartnerError> {
    serde_json::to_vec(request).map_err(|e| {
        PartnerError::invalid_request(format!("could not encode the {} request: {e}", op_name(op)))
    })
}

/// What a plugin's completion (`status`, `body`) of `op` means, wherever the plugin runs: in
/// this process, or in a plugin host child.
pub(crate) fn decode_reply<R: DeserializeOwned>(
    partner_id: &str,
    plugin: &str,
    op: u32,
    status: i32,
    body: &[u8],
) -> Result<R, PartnerError> {
    let fault = |what: &str| fault(partner_id, plugin, op, what);
    match status {
        STATUS_OK => serde_json::from_slice(body)
            .map_err(|e| fault(&format!("answered with JSON this host cannot read: {e}"))),
        STATUS_ERR => Err(serde_json::from_slice::<PartnerError>(body)
            .unwrap_or_else(|e| fault(&format!("reported an error this host cannot read: {e}")))),
        STATUS_PANIC => Err(fault(&format!("panicked: {}", String::from_utf8_lossy(body)))),
        STATUS_CANCELLED => Err(PartnerError::new(
            PartnerErrorKind::Unavailable,
            format!(
                "partner `{partner_id}`: the plugin cancelled {} (it is shutting down)",
                op_name(op)
            ),
        )),
        other => Err(fault(&format!("completed with unknown status {other}"))),
    }
}

/// A fault of the plugin behind `partner_id`, in the middle of `op`.
pub(crate) fn fault(partner_id: &str, plugin: &str, op: u32, what: &str) -> PartnerError {
    PartnerError::plugin_fault(format!(
        "partner `{partner_id}` (plugin `{plugin}`) {}: {what}",
        op_name(op)
    ))
}

/// A call the host is waiting on; dropping it unfinished cancels it at the plugin.
struct InFlight<'a> {
    partner: &'a DylibPartner,
    token: u64,
    finished: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.partner.abandon(self.token);
        }
    }
}

/// The plugin's completion callback: wakes the waiting call, or counts a late or duplicate one.
unsafe extern "C" fn on_complete(ctx: *const c_void, token: u64, status: i32, data: Bytes) {
    // A panic must not unwind into the plugin.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: ctx is the leaked CallTable this host passed with the call.
        let table = unsafe { &*ctx.cast::<CallTable>() };
        // SAFETY: the plugin lends the bytes for the duration of this callback.
        let body = unsafe { data.as_slice() }.to_vec();
        let mut pending = lock(&table.pending);
        if let Some(waiter) = pending.remove(&token) {
            drop(pending);
            table.completions.fetch_add(1, Ordering::SeqCst);
            match waiter {
                // The receiver may be gone if the caller is being dropped right now; fine.
                Waiter::Task(tx) => {
                    let _ = tx.send((status, body));
                }
                Waiter::Callback(done) => done(status, body),
            }
        } else {
            // `abandon` marks a call abandoned before it lets go of the pending lock, so a
            // call missing from both was completed before.
            drop(pending);
            let late = lock(&table.abandoned).remove(&token);
            match late {
                Some(finished) => {
                    table.completions.fetch_add(1, Ordering::SeqCst);
                    if let Some(LateHook(finished)) = finished {
                        finished();
                    }
                }
                None => {
                    table.duplicates.fetch_add(1, Ordering::SeqCst);
                    tracing::error!(
                        token,
                        "plugin completed a call that was already complete (plugin bug)"
                    );
                }
            }
        }
    }));
}

pub(crate) fn op_name(op: u32) -> &'static str {
    match op {
        OP_CHECK_AVAILABILITY => "check_availability",
        OP_SEND_REFERRAL => "send_referral",
        OP_REFERRAL_STATUS => "referral_status",
        OP_HEALTH => "health",
        OP_CANCEL_REFERRAL => "cancel_referral",
        OP_MANIFEST => "manifest",
        _ => "an unknown operation",
    }
}

impl Drop for DylibPartner {
    fn drop(&mut self) {
        // SAFETY: the instance came from init and is shut down exactly once, here. Every call
        // borrowed `self`, so none is in flight on our side.
        unsafe { (self.vtable.shutdown)(self.instance.0) };
    }
}

/// The answer to a cancel for a plugin whose manifest does not declare the operation (in
/// process or not, it is never sent one).
pub(crate) fn cancel_unsupported(partner_id: &str, manifest: &Manifest) -> PartnerError {
    PartnerError::not_supported(format!(
        "partner `{partner_id}` (plugin `{}`) cannot withdraw a referral from its partner's \
         system: its connector does not offer cancelling",
        manifest.plugin
    ))
}

#[async_trait]
impl Partner for DylibPartner {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    async fn check_availability(
        &self,
        query: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        self.call(OP_CHECK_AVAILABILITY, query).await
    }

    async fn send_referral(&self, referral: &Referral) -> Result<ReferralReceipt, PartnerError> {
        self.call(OP_SEND_REFERRAL, referral).await
    }

    async fn referral_status(
        &self,
        reference: &ReferralRef,
    ) -> Result<ReferralStatus, PartnerError> {
        self.call(OP_REFERRAL_STATUS, reference).await
    }

    async fn health(&self) -> Result<Health, PartnerError> {
        self.call(OP_HEALTH, &()).await
    }

    async fn cancel_referral(
        &self,
        request: &CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        // A plugin built before the operation existed never declares the capability, and is
        // never sent an operation it does not know.
        if !self.manifest.capabilities.contains(&Capability::Cancel) {
            return Err(cancel_unsupported(&self.partner_id, &self.manifest));
        }
        self.call(OP_CANCEL_REFERRAL, request).await
    }
}
