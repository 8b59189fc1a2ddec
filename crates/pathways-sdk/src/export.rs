//! The plugin side of the ABI: the vtable, the instance with its runtime, and the four exports.
//!
//! Every export catches panics. A call copies its request, spawns a task on the plugin's
//! runtime and returns; the task decodes the request, runs the handler (itself wrapped in
//! `catch_unwind`) and completes the call through a [`CompletionGuard`], so the host hears back
//! exactly once whatever happens.
//!
//! The runtime is shared by every instance of the library (see the `runtime` module); each
//! instance keeps its own table of calls, so `cancel` and `shutdown` reach that instance's
//! calls only.

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use futures::FutureExt;
use pathways_abi::{
    Bytes, BytesFn, Completion, HostApi, PluginVtable, ABI_VERSION, OP_CANCEL_REFERRAL,
    OP_CHECK_AVAILABILITY, OP_HEALTH, OP_MANIFEST, OP_REFERRAL_STATUS, OP_SEND_REFERRAL,
    STATUS_ERR, STATUS_OK, STATUS_PANIC,
};
use pathways_core::{AvailabilityQuery, CancelRequest, PartnerError, ReferralRef};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::completion::CompletionGuard;
use crate::panic_firewall::{install_panic_hook, panic_message};
use crate::runtime::{Lease, SHUTDOWN_GRACE};
use crate::{log_bridge, manifest_of, parse_settings, PartnerPlugin, SDK_VERSION, TARGET};

/// Holds the one vtable of a plugin library; declared by [`export_partner!`](crate::export_partner).
#[derive(Debug)]
pub struct VtableCell(OnceLock<VtableHolder>);

#[derive(Debug)]
struct VtableHolder {
    vtable: PluginVtable,
    // The vtable's `manifest` points into this string's buffer, which never moves or drops.
    _manifest: String,
}

impl VtableCell {
    /// An empty cell, for a `static`.
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// The vtable for `T`, built on first use; null if building it panicked.
    pub fn get<T: PartnerPlugin>(&'static self) -> *const PluginVtable {
        let built = catch_unwind(|| {
            let holder = self.0.get_or_init(|| {
                let manifest = serde_json::to_string(&manifest_of::<T>())
                    .unwrap_or_else(|_| "null".to_string());
                VtableHolder {
                    vtable: PluginVtable {
                        struct_size: std::mem::size_of::<PluginVtable>(),
                        abi_version: ABI_VERSION,
                        sdk_version: Bytes::from_slice(SDK_VERSION.as_bytes()),
                        target: Bytes::from_slice(TARGET.as_bytes()),
                        manifest: Bytes::from_slice(manifest.as_bytes()),
                        init: init::<T>,
                        call: call::<T>,
                        cancel: cancel::<T>,
                        shutdown: shutdown::<T>,
                    },
                    _manifest: manifest,
                }
            });
            &holder.vtable as *const PluginVtable
        });
        built.unwrap_or(std::ptr::null())
    }
}

impl Default for VtableCell {
    fn default() -> Self {
        Self::new()
    }
}

/// One configured partner inside the plugin: the connector, its calls in flight, and its lease
/// on the library's runtime.
struct Instance<T> {
    partner: Arc<T>,
    calls: Arc<Mutex<HashMap<u64, JoinHandle<()>>>>,
    // Declared last so it is dropped last: the runtime outlives everything above.
    runtime: Lease,
}

/// Locks, recovering from poisoning: the maps stay consistent because every critical section
/// is a single insert or remove.
fn lock<V>(m: &Mutex<V>) -> MutexGuard<'_, V> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

unsafe extern "C" fn init<T: PartnerPlugin>(
    host: *const HostApi,
    settings: Bytes,
    out_instance: *mut *mut c_void,
    on_error: BytesFn,
    error_ctx: *mut c_void,
) -> i32 {
    let report = |message: &str| {
        // SAFETY: the host passed `on_error` and `error_ctx` for this call.
        unsafe { on_error(error_ctx, Bytes::from_slice(message.as_bytes())) }
    };
    let built = catch_unwind(AssertUnwindSafe(|| -> Result<*mut c_void, String> {
        // SAFETY: the host passes a valid HostApi for the duration of init (null is refused).
        let host = unsafe { host.as_ref() }.ok_or("host passed no host API")?;
        if host.struct_size < std::mem::size_of::<HostApi>() || host.abi_version != ABI_VERSION {
            return Err(format!(
                "host speaks plugin ABI v{} and this plugin v{ABI_VERSION}",
                host.abi_version
            ));
        }
        log_bridge::install(*host);
        install_panic_hook();
        // SAFETY: the host passes settings valid for the duration of init.
        let settings: T::Settings = parse_settings(unsafe { settings.as_slice() })?;
        // Dropped again (and the runtime stopped if no other instance uses it) on any error.
        let runtime = Lease::acquire(&T::describe().plugin)?;
        let partner = {
            let _entered = runtime.handle().enter();
            T::from_settings(settings)?
        };
        let instance = Instance {
            partner: Arc::new(partner),
            calls: Arc::new(Mutex::new(HashMap::new())),
            runtime,
        };
        Ok(Box::into_raw(Box::new(instance)).cast::<c_void>())
    }));
    match built {
        Ok(Ok(instance)) => {
            // SAFETY: the host passes a writable out pointer.
            unsafe { *out_instance = instance };
            STATUS_OK
        }
        Ok(Err(message)) => {
            report(&message);
            STATUS_ERR
        }
        Err(payload) => {
            report(&format!("plugin panicked in init: {}", panic_message(payload.as_ref())));
            STATUS_PANIC
        }
    }
}

unsafe extern "C" fn call<T: PartnerPlugin>(
    instance: *mut c_void,
    op: u32,
    request: Bytes,
    completion: Completion,
) {
    let mut guard = Some(CompletionGuard::new(completion));
    let started = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host passes an instance returned by init and not yet shut down.
        let instance = unsafe { &*instance.cast::<Instance<T>>() };
        // SAFETY: the request is borrowed for the duration of this call; copy it out.
        let request = unsafe { request.as_slice() }.to_vec();
        let token = completion.token;
        let guard = guard.take().expect("guard is taken once");
        let partner = Arc::clone(&instance.partner);
        let calls = Arc::clone(&instance.calls);
        let task = async move {
            let outcome = AssertUnwindSafe(dispatch(&*partner, op, &request)).catch_unwind().await;
            match outcome {
                Ok(Ok(response)) => guard.complete(STATUS_OK, &response),
                Ok(Err(error)) => guard.complete(STATUS_ERR, &error),
                Err(payload) => {
                    guard.complete(STATUS_PANIC, panic_message(payload.as_ref()).as_bytes())
                }
            }
            lock(&calls).remove(&token);
        };
        // Hold the lock across spawn so the task cannot remove its entry before it exists.
        let mut calls = lock(&instance.calls);
        let handle = instance.runtime.handle().spawn(task);
        calls.insert(token, handle);
    }));
    if let Err(payload) = started {
        if let Some(guard) = guard.take() {
            guard.complete(STATUS_PANIC, panic_message(payload.as_ref()).as_bytes());
        }
    }
}

unsafe extern "C" fn cancel<T: PartnerPlugin>(instance: *mut c_void, token: u64) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host passes an instance returned by init and not yet shut down.
        let instance = unsafe { &*instance.cast::<Instance<T>>() };
        if let Some(task) = lock(&instance.calls).remove(&token) {
            // The task's future is dropped, its guard reports CANCELLED.
            task.abort();
        }
    }));
}

/// Stops one instance: cancels its calls in flight and waits (up to [`SHUTDOWN_GRACE`]) until
/// each has completed, as the ABI requires, then drops the connector. Other instances of the
/// library, and their calls, are untouched; the runtime stops with the last instance.
unsafe extern "C" fn shutdown<T: PartnerPlugin>(instance: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host passes an instance returned by init, once, and never uses it again.
        let instance = unsafe { Box::from_raw(instance.cast::<Instance<T>>()) };
        let tasks: Vec<JoinHandle<()>> = lock(&instance.calls).drain().map(|(_, t)| t).collect();
        for task in &tasks {
            // The task's future is dropped on a runtime thread; its guard reports CANCELLED.
            task.abort();
        }
        // On one of the plugin's own threads (not how a host calls, but possible from a
        // completion callback) blocking could deadlock the runtime: there the aborted calls
        // complete as soon as a worker gets to them, just after we return.
        if !tasks.is_empty() && tokio::runtime::Handle::try_current().is_err() {
            // A task's handle resolves only once its future, and with it the call's guard, has
            // been dropped: after this every call of the instance has completed.
            let all_done = futures::future::join_all(tasks);
            let _ = instance
                .runtime
                .handle()
                .block_on(async { tokio::time::timeout(SHUTDOWN_GRACE, all_done).await });
        }
        // `instance` drops here: the connector (its HTTP client and pooled connections), then
        // the lease, which stops the runtime if this was the library's last instance.
    }));
}

/// Runs one operation: decodes the request, calls the partner, encodes the result.
/// `Err` carries an encoded [`PartnerError`].
async fn dispatch<T: PartnerPlugin>(
    partner: &T,
    op: u32,
    request: &[u8],
) -> Result<Vec<u8>, Vec<u8>> {
    match op {
        OP_CHECK_AVAILABILITY => {
            let query: AvailabilityQuery = decode("check_availability", request)?;
            encode(partner.check_availability(&query).await)
        }
        OP_SEND_REFERRAL => {
            let referral = decode("send_referral", request)?;
            encode(partner.send_referral(&referral).await)
        }
        OP_REFERRAL_STATUS => {
            let reference: ReferralRef = decode("referral_status", request)?;
            encode(partner.referral_status(&reference).await)
        }
        OP_CANCEL_REFERRAL => {
            let request: CancelRequest = decode("cancel_referral", request)?;
            encode(partner.cancel_referral(&request).await)
        }
        OP_HEALTH => encode(partner.health().await),
        OP_MANIFEST => encode(Ok(partner.manifest())),
        other => Err(error_bytes(&PartnerError::invalid_request(format!(
            "this plugin (SDK {SDK_VERSION}) has no operation {other}"
        )))),
    }
}

fn decode<R: DeserializeOwned>(op: &str, request: &[u8]) -> Result<R, Vec<u8>> {
    let mut de = serde_json::Deserializer::from_slice(request);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        error_bytes(&PartnerError::invalid_request(format!(
            "the {op} request could not be read by the plugin (SDK {SDK_VERSION}) at `{}`: {}",
            e.path(),
            e.inner()
        )))
    })
}

fn encode<R: Serialize>(result: Result<R, PartnerError>) -> Result<Vec<u8>, Vec<u8>> {
    match result {
        Ok(response) => serde_json::to_vec(&response).map_err(|e| {
            error_bytes(&PartnerError::plugin_fault(format!("could not encode the response: {e}")))
        }),
        Err(error) => Err(error_bytes(&error)),
    }
}

fn error_bytes(error: &PartnerError) -> Vec<u8> {
    serde_json::to_vec(error).unwrap_or_else(|_| {
        b"{\"kind\":\"plugin_fault\",\"message\":\"unencodable error\"}".to_vec()
    })
}

#[cfg(test)]
mod tests;
