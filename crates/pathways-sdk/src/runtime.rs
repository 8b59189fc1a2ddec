//! The plugin library's tokio runtime, shared by every instance of the library.
//!
//! Connectors are IO-bound: an instance spends nearly all of a call waiting for its partner.
//! A runtime per instance (two worker threads each, as before) meant that a daemon with 16
//! partners served by one library ran 32 plugin threads, and every fan-out woke most of them,
//! each doing a few microseconds of work per wake-up, on a machine with a couple of cores. One
//! runtime per *library* wakes one or two threads per fan-out instead, and one I/O driver
//! collects the answers of every instance in one `epoll_wait`.
//!
//! The runtime starts with the first instance and stops when the last instance shuts down, so
//! a library with no instances runs no threads (the host never unloads a library, but a
//! plugin with nothing to do should not keep threads around either). Instances stay isolated
//! where it matters: each has its own connector (and so its own HTTP client and connection
//! pool) and its own table of calls, and shutting one instance down cancels that instance's
//! calls only (see `export::shutdown`). What an instance shares with its siblings is the worker
//! threads: a connector that blocks a worker (synchronous I/O, a long computation without
//! `spawn_blocking`) now holds up the library's other partners too, and a task a connector
//! spawns for itself lives until the library's last instance stops, not its own.
//!
//! Each library statically links its own copy of this crate, so "one per library" is simply a
//! `static` here.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

/// How many worker threads the shared runtime runs. Two lets one instance's CPU-heavy moment
/// (decoding a large answer) not hold up another's, and is still far fewer threads than two
/// per instance; the I/O and timers are one driver either way.
const WORKER_THREADS: usize = 2;

/// How long stopping the runtime waits for its tasks to end.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The runtime, while at least one instance holds a [`Lease`] on it.
struct Shared {
    runtime: Option<Runtime>,
    leases: usize,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared { runtime: None, leases: 0 });

fn shared() -> MutexGuard<'static, Shared> {
    // Every critical section leaves `Shared` consistent, so a poisoned lock is still usable.
    SHARED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One instance's hold on the library's runtime; the runtime stops when the last is dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    handle: Handle,
}

impl Lease {
    /// Takes a lease, starting the runtime (threads named `plugin-<name>`) if none is running.
    pub(crate) fn acquire(name: &str) -> Result<Lease, String> {
        let mut shared = shared();
        let handle = match &shared.runtime {
            Some(runtime) => runtime.handle().clone(),
            None => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(WORKER_THREADS)
                    .thread_name(format!("plugin-{name}"))
                    .enable_all()
                    .build()
                    .map_err(|e| format!("could not start the plugin's runtime: {e}"))?;
                let handle = runtime.handle().clone();
                shared.runtime = Some(runtime);
                handle
            }
        };
        shared.leases += 1;
        Ok(Lease { handle })
    }

    /// The runtime's handle, to spawn on and to enter.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let last = {
            let mut shared = shared();
            shared.leases = shared.leases.saturating_sub(1);
            if shared.leases == 0 {
                shared.runtime.take()
            } else {
                None
            }
        };
        // Stopped outside the lock: an instance created meanwhile starts a fresh runtime.
        if let Some(runtime) = last {
            if Handle::try_current().is_ok() {
                // On one of the plugin's own threads (the host dropped its last instance from a
                // completion callback, say), where blocking is not allowed: stop it from a
                // thread of its own.
                let _ = std::thread::Builder::new()
                    .name("plugin-shutdown".into())
                    .spawn(move || runtime.shutdown_timeout(SHUTDOWN_GRACE));
            } else {
                // Dropping the runtime drops every task left; a call's guard reports CANCELLED.
                runtime.shutdown_timeout(SHUTDOWN_GRACE);
            }
        }
    }
}

/// Whether the library's runtime is running now.
#[cfg(test)]
pub(crate) fn running() -> bool {
    shared().runtime.is_some()
}
