//! The plugin host child: `pathways plugin-host` runs [`run_plugin_host`], which loads one
//! partner's plugin exactly as the daemon does in process and serves its calls over stdin and
//! stdout (see [`frame`](super::frame)).
//!
//! Calls run concurrently: each request becomes a task that makes the same call
//! [`DylibPartner`] makes in process (the plugin runs it on its own runtime and completes it
//! through its callback), so a slow call never holds up another. The child exits when the
//! daemon closes its stdin, which also happens when the daemon dies, however it dies.

use std::collections::HashMap;
use std::fs::File;
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex};

use pathways_abi::{STATUS_CANCELLED, STATUS_ERR};
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
    let (sandbox, _) = sandbox::restrict();
    let loaded = PluginLibrary::open(&init.library)
        .and_then(|library| library.instantiate(&init.partner_id, &init.settings));
    let (partner, ready) = match loaded {
        Ok(partner) => {
            let ready = Ready::Loaded { manifest: Box::new(partner.manifest().clone()), sandbox };
            (Some(partner), ready)
        }
        Err(error) => (None, Ready::Failed(error)),
    };
    let writer = spawn_writer(output);
    let ready = serde_json::to_vec(&ready).unwrap_or_default();
    let _ = writer.send(Frame { id: 0, code: INIT, body: ready });
    let Some(partner) = partner else {
        // Let the writer finish the answer, then stop: the daemon reports the error.
        drop(writer);
        std::thread::sleep(std::time::Duration::from_millis(50));
        return ExitCode::SUCCESS;
    };
    // The plugin lives as long as the process.
    let partner: &'static DylibPartner = Box::leak(Box::new(partner));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("pathways-plugin-host")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: pathways plugin-host: cannot start its runtime: {e}");
            return ExitCode::from(1);
        }
    };
    serve(&mut input, partner, &runtime, &writer);
    // Exit at once: waiting for the plugin's own tasks is the daemon's call, and it has gone.
    std::process::exit(0)
}

/// Reads requests until the daemon closes the stream.
fn serve(
    input: &mut File,
    partner: &'static DylibPartner,
    runtime: &tokio::runtime::Runtime,
    writer: &mpsc::Sender<Frame>,
) {
    let calls: Arc<Mutex<HashMap<u64, tokio::task::AbortHandle>>> = Arc::default();
    loop {
        let request = match frame::read_blocking(input) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "plugin host: the daemon's stream is broken; exiting");
                return;
            }
        };
        if request.code == CANCEL {
            let handle = lock(&calls).remove(&request.id);
            if let Some(handle) = handle {
                // Dropping the call asks the plugin to cancel it, as in process. The daemon
                // counts the call's completion when this answer arrives.
                handle.abort();
                let _ = writer.send(Frame {
                    id: request.id,
                    code: STATUS_CANCELLED as u32,
                    body: Vec::new(),
                });
            }
            continue;
        }
        let (id, calls_for_task, writer) = (request.id, calls.clone(), writer.clone());
        // Held across spawn, so the task cannot remove its entry before it is there.
        let mut table = lock(&calls);
        let task = runtime.spawn(async move {
            let Frame { code: op, body, .. } = request;
            let (status, body) = match partner.call_raw(op, &body).await {
                Ok(reply) => reply,
                Err(error) => (STATUS_ERR, serde_json::to_vec(&error).unwrap_or_default()),
            };
            // A call given up on is answered by the cancel above, not here.
            if lock(&calls_for_task).remove(&id).is_some() {
                let _ = writer.send(Frame { id, code: status as u32, body });
            }
        });
        table.insert(id, task.abort_handle());
    }
}

/// One thread writes every answer, in the order they complete.
fn spawn_writer(mut output: File) -> mpsc::Sender<Frame> {
    let (tx, rx) = mpsc::channel::<Frame>();
    std::thread::spawn(move || {
        for frame in rx {
            if frame::write_blocking(&mut output, &frame).is_err() {
                // The daemon has gone: nothing is left to serve.
                std::process::exit(0);
            }
        }
    });
    tx
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
