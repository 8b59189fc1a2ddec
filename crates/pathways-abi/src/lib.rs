//! The binary interface between the `pathways` host and a partner plugin library.
//!
//! No Rust type crosses this boundary: each plugin carries its own copy of std, tokio, tracing
//! and the allocator, so only `#[repr(C)]` structs, integers, borrowed byte slices and
//! `extern "C"` function pointers do. Requests and responses are JSON.
//!
//! The protocol:
//! 1. The host resolves [`ENTRY_SYMBOL`] and calls it; it returns a `'static` [`PluginVtable`].
//!    The first two fields (`struct_size`, `abi_version`) keep their place in every version, so
//!    a host can always read them and refuse a plugin it does not speak.
//! 2. `init(host, settings)` creates an instance (the plugin starts its own runtime there) or
//!    reports why the settings are wrong through `on_error`.
//! 3. `call(instance, op, request, completion)` starts one operation. The plugin calls
//!    `completion.callback` exactly once for it, from any thread, possibly before `call`
//!    returns: [`STATUS_OK`] with the response JSON, [`STATUS_ERR`] with a `PartnerError` JSON,
//!    [`STATUS_PANIC`] with a message, or [`STATUS_CANCELLED`].
//! 4. `cancel(instance, token)` asks the plugin to abandon a call; it still completes it, with
//!    [`STATUS_CANCELLED`] unless it had already finished.
//! 5. `shutdown(instance)` stops the instance; every outstanding call completes before it
//!    returns.
//!
//! Buffers are borrowed for the duration of the call that passes them; each side frees only
//! what it allocated. Every function is safe to call from any thread.
//!
//! Compatibility has one rule, in two halves. The handshake accepts a plugin whose ABI version
//! is this one and whose SDK is semver-compatible with the host's (same major; before 1.0, same
//! minor), built for the same target. And every JSON payload that crosses the boundary, both
//! ways, is read tolerantly: unknown fields are ignored and missing new fields take their
//! defaults, including the case parts a referral carries (referrer, household, consent), so a
//! plugin built on a newer minor SDK that adds a defaulted field works with this host, and the
//! reverse. Only what people write (cases, configuration, a plugin's settings) is strict. The
//! test fixture `pathways-test-newer-sdk-partner` holds the project to it: a library claiming
//! a newer SDK whose every answer, and every request its SDK reads, carries a field the other
//! side does not know, and which loads, answers every operation and passes `plugins check
//! --referral`.

#![no_std]

use core::ffi::c_void;

/// The ABI version this crate describes. A change to any struct or function signature below
/// bumps it.
pub const ABI_VERSION: u32 = 1;

/// The one symbol a plugin library exports (NUL-terminated for `dlsym`).
pub const ENTRY_SYMBOL: &[u8] = b"pathways_plugin_entry_v1\0";

/// The entry point's type.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginVtable;

/// Call completed; the bytes are the response JSON.
pub const STATUS_OK: i32 = 0;
/// Call failed; the bytes are a `PartnerError` JSON.
pub const STATUS_ERR: i32 = 1;
/// The plugin panicked; the bytes are the panic message (UTF-8, may be empty).
pub const STATUS_PANIC: i32 = 2;
/// The call was cancelled before it finished; no bytes.
pub const STATUS_CANCELLED: i32 = 3;

/// Operation: `check_availability(AvailabilityQuery) -> Availability`.
pub const OP_CHECK_AVAILABILITY: u32 = 1;
/// Operation: `send_referral(Referral) -> ReferralReceipt`.
pub const OP_SEND_REFERRAL: u32 = 2;
/// Operation: `referral_status(ReferralRef) -> ReferralStatus`.
pub const OP_REFERRAL_STATUS: u32 = 3;
/// Operation: `health() -> Health` (request `null`).
pub const OP_HEALTH: u32 = 4;
/// Operation: `manifest() -> Manifest` (request `null`): the instance's manifest once its
/// settings are known; what it `requires` may depend on them (a housing partner requires the
/// authorities it serves). The host asks once, right after `init`, and takes only `requires`
/// from the answer; a plugin built before this operation answers an error and the library's
/// manifest stands.
pub const OP_MANIFEST: u32 = 5;

/// Operation: `cancel_referral(CancelRequest) -> ReferralStatus`. Added without a version
/// bump: the host calls it only on a plugin whose manifest declares the `cancel` capability,
/// so a plugin built before it is never asked (the host answers "not supported" for it).
pub const OP_CANCEL_REFERRAL: u32 = 6;

/// Log levels for [`HostApi::log`], as in `tracing`.
pub const LOG_ERROR: u32 = 1;
/// Warning.
pub const LOG_WARN: u32 = 2;
/// Information.
pub const LOG_INFO: u32 = 3;
/// Debug.
pub const LOG_DEBUG: u32 = 4;
/// Trace.
pub const LOG_TRACE: u32 = 5;

/// A borrowed UTF-8 or JSON byte string.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Bytes {
    /// Start of the bytes; may be null when `len` is 0.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl Bytes {
    /// Borrows a byte slice.
    pub const fn from_slice(bytes: &[u8]) -> Self {
        Self { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// The bytes as a slice.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive the returned slice.
    pub unsafe fn as_slice<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: the caller guarantees `ptr` points to `len` live bytes.
            unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

/// Called by the plugin to finish a call: `(ctx, token, status, bytes)`.
pub type CompletionFn =
    unsafe extern "C" fn(ctx: *const c_void, token: u64, status: i32, data: Bytes);

/// Where a call's result goes. Copied by value into the plugin.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    /// Host context, passed back unchanged; valid for the life of the process.
    pub ctx: *const c_void,
    /// The host's id for this call; also the handle for `cancel`.
    pub token: u64,
    /// The function to call exactly once.
    pub callback: CompletionFn,
}

/// Receives bytes synchronously (used by `init` to report an error).
pub type BytesFn = unsafe extern "C" fn(ctx: *mut c_void, data: Bytes);

/// Writes one log record into the host's log: `(ctx, level, target, message)`.
pub type LogFn =
    unsafe extern "C" fn(ctx: *const c_void, level: u32, target: Bytes, message: Bytes);

/// What the host offers a plugin instance.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostApi {
    /// `size_of::<HostApi>()` as the host built it.
    pub struct_size: usize,
    /// The host's [`ABI_VERSION`].
    pub abi_version: u32,
    /// The most verbose level the host will record; the plugin skips anything finer.
    pub max_log_level: u32,
    /// Context for `log`; valid for the life of the process.
    pub ctx: *const c_void,
    /// Writes a log record.
    pub log: LogFn,
}

/// `init(host, settings_json, out_instance, on_error, error_ctx) -> status`.
pub type InitFn = unsafe extern "C" fn(
    host: *const HostApi,
    settings: Bytes,
    out_instance: *mut *mut c_void,
    on_error: BytesFn,
    error_ctx: *mut c_void,
) -> i32;

/// `call(instance, op, request_json, completion)`.
pub type CallFn =
    unsafe extern "C" fn(instance: *mut c_void, op: u32, request: Bytes, completion: Completion);

/// `cancel(instance, token)`.
pub type CancelFn = unsafe extern "C" fn(instance: *mut c_void, token: u64);

/// `shutdown(instance)`.
pub type ShutdownFn = unsafe extern "C" fn(instance: *mut c_void);

/// Everything a plugin exports, returned by [`ENTRY_SYMBOL`].
#[repr(C)]
#[derive(Debug)]
pub struct PluginVtable {
    /// `size_of::<PluginVtable>()` as the plugin built it. Always the first field.
    pub struct_size: usize,
    /// The plugin's [`ABI_VERSION`]. Always the second field.
    pub abi_version: u32,
    /// Semver of the `pathways-sdk` the plugin was built with (UTF-8).
    pub sdk_version: Bytes,
    /// Target triple the plugin was built for (UTF-8).
    pub target: Bytes,
    /// The manifest as JSON.
    pub manifest: Bytes,
    /// Creates an instance from settings.
    pub init: InitFn,
    /// Starts a call.
    pub call: CallFn,
    /// Abandons a call.
    pub cancel: CancelFn,
    /// Stops an instance.
    pub shutdown: ShutdownFn,
}

// SAFETY: a vtable is immutable after the plugin creates it and lives for the life of the
// process; the pointers in it are to 'static data and thread-safe functions.
unsafe impl Sync for PluginVtable {}
// SAFETY: as above.
unsafe impl Send for PluginVtable {}

/// The layout facts a host reads before anything else; stable across ABI versions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VtableHeader {
    /// As [`PluginVtable::struct_size`].
    pub struct_size: usize,
    /// As [`PluginVtable::abi_version`].
    pub abi_version: u32,
}
