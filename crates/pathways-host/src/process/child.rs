//! The plugin host child: `pathways plugin-host` runs [`run_plugin_host`], which loads one
//! partner's plugin exactly as the daemon does in process and serves its calls over stdin and
//! stdout (see [`frame`](super::frame)).
//!
//! Calls run concurrently, as in process: the reader hands each request to the plugin (which
//! runs it on its own runtime) and goes on reading; the plugin's completion writes the answer
//! straight to stdout from the plugin's thread, so no thread of the child is woken per call.
//! The child exits when the daemon closes its stdin, which also happens when the daemon dies,
//! however it dies.

use std::collections::HashMap;
use std::fs::File;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use pathways_abi::STATUS_CANCELLED;
use pathways_core::Partner;

use super::frame::{self, Frame, Init, Ready, CANCEL, INIT};
use super::sandbox;
use crate::{DylibPartner, PluginLibrary};

/// Serves one plugin instance to the daemon that started this process; returns when the daemon
/// closes the stream (or breaks it).
pub fn run_plugin_host() -> ExitCode {
    let (mut input, output) = match protocol_stdio() {
        Ok(streams) => streams,
        Err(e) => {
            eprintln!("error: pathways plugin-host: cannot set up its pipes: {e}");
            return ExitCode::from(1);
        }
    };
    let init = match frame::read_blocking(&mut input) {
        Ok(Some(Frame { code: INIT, body, .. })) => serde_json::from_slice::<Init>(&body),
        Ok(None) => return ExitCode::SUCCESS,
        _ => {
            eprintln!(
                "error: pathways plugin-host is started by `pathways serve` (with a partner's \
                 `isolation = \"process\"`), not by hand"
            );
            return ExitCode::from(2);
        }
    };
    let init = match init {
        Ok(init) => init,
        Err(e) => {
            eprintln!("error: pathways plugin-host: unreadable start message: {e}");
            return ExitCode::from(2);
        }
    };
    // Before any plugin code runs: the library's initialisers run when it is opened.
    let memory = sandbox::contain_memory(init.memory_limit);
    let (sandbox, writes_denied) = sandbox::restrict();
    let sandbox = format!("{sandbox}; {memory}");
    let loaded = PluginLibrary::open(&init.library)
        .and_then(|library| library.instantiate(&init.partner_id, &init.settings));
    let (partner, ready) = match loaded {
        Ok(partner) => {
            let manifest = Box::new(partner.manifest().clone());
            let ready = Ready::Loaded { manifest, sandbox, writes_denied };
            (Some(partner), ready)
        }
        Err(error) => (None, Ready::Failed(error)),
    };
    let output = Arc::new(Mutex::new(output));
    let ready = serde_json::to_vec(&ready).unwrap_or_default();
    send(&output, &Frame { id: 0, code: INIT, body: ready });
    let Some(partner) = partner else {
        // The daemon reports the error.
        return ExitCode::SUCCESS;
    };
    // The plugin lives as long as the process.
    let partner: &'static DylibPartner = Box::leak(Box::new(partner));
    serve(&mut input, partner, &output);
    // Exit at once: waiting for the plugin's own tasks is the daemon's call, and it has gone.
    std::process::exit(0)
}

/// Reads requests until the daemon closes the stream.
fn serve(input: &mut File, partner: &'static DylibPartner, output: &Arc<Mutex<File>>) {
    // Calls in flight: request id -> the plugin's token, `None` while the call is starting.
    let calls: Arc<Mutex<HashMap<u64, Option<u64>>>> = Arc::default();
    loop {
        let request = match frame::read_blocking(input) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "plugin host: the daemon's stream is broken; exiting");
                return;
            }
        };
        let id = request.id;
        if request.code == CANCEL {
            let entry = lock(&calls).remove(&id);
            if let Some(token) = entry.flatten() {
                // As in process: the plugin is asked to cancel. The daemon is answered when the
                // plugin has really let the call go (its late completion), so a call the plugin
                // cannot cancel (a thread stuck in it) shows there as one, and the daemon kills
                // a host that keeps it too long. If the call completed meanwhile, its answer
                // found no entry and was not sent: answer now.
                let out = output.clone();
                let cancelled = move || {
                    send(&out, &Frame { id, code: STATUS_CANCELLED as u32, body: Vec::new() });
                };
                if !partner.abandon_then(token, cancelled) {
                    send(output, &Frame { id, code: STATUS_CANCELLED as u32, body: Vec::new() });
                }
            }
            continue;
        }
        // In the table before the call starts: a plugin may complete it before `call_with`
        // returns, and its completion must find it.
        lock(&calls).insert(id, None);
        let (table, out) = (calls.clone(), output.clone());
        let token = partner.call_with(request.code, &request.body, move |status, body| {
            if lock(&table).remove(&id).is_some() {
                send(&out, &Frame { id, code: status as u32, body });
            }
        });
        if let Some(entry) = lock(&calls).get_mut(&id) {
            *entry = Some(token);
        }
    }
}

/// Writes one answer to the daemon; exits if the daemon has gone.
fn send(output: &Mutex<File>, frame: &Frame) {
    if frame::write_blocking(&mut *lock(output), frame).is_err() {
        // The daemon has gone: nothing is left to serve.
        std::process::exit(0);
    }
}

fn lock<V>(m: &Mutex<V>) -> std::sync::MutexGuard<'_, V> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The protocol streams: the original stdin and stdout. Descriptors 0 and 1 are then pointed
/// at `/dev/null` and stderr, so a plugin that reads stdin or prints to stdout cannot break the
/// stream; what it prints reaches the operator with the daemon's log.
#[cfg(unix)]
fn protocol_stdio() -> std::io::Result<(File, File)> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let null = File::open("/dev/null")?;
    // SAFETY: dup and dup2 on descriptors this process owns; each new descriptor is owned by
    // exactly one File below.
    unsafe {
        let input = libc::dup(0);
        let output = libc::dup(1);
        if input < 0 || output < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::dup2(null.as_raw_fd(), 0) < 0 || libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((File::from_raw_fd(input), File::from_raw_fd(output)))
    }
}

#[cfg(not(unix))]
fn protocol_stdio() -> std::io::Result<(File, File)> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "process isolation needs Unix"))
}
