//! [`ProcessPartner`]: a plugin instance in a child process of its own, seen as a [`Partner`].
//!
//! A supervisor task per partner starts the child, hands it the library and settings, and
//! reads its answers. Calls are frames with an id, so they run concurrently as in process; a
//! call dropped by its caller (a timeout, a plan deadline) sends a cancel frame, and the plugin
//! is asked to cancel it as in process.
//!
//! When the child dies (abort, segfault, stack overflow, the OOM killer, an exit), every call
//! in flight fails at once as a [`PluginFault`](PartnerErrorKind::PluginFault) saying how it
//! died, and the supervisor starts a new one after a backoff: 100 ms, doubling to 30 s, back to
//! 100 ms once a child has lived a minute. Calls made while it restarts fail at once, so the
//! partner's circuit breaker sees them; nothing else in the daemon is touched.
//!
//! The supervisors run on a small runtime of their own, so a partner works the same whichever
//! runtime its callers use. A caller writes its frame to the child's stdin (a socket) itself,
//! never waiting (what the child is not ready to take waits in an [`Outbox`] backlog for a
//! writer thread), and a thread per child reads the answers and wakes each caller directly: no
//! other thread is woken on the way, which keeps what isolation adds to a call small
//! (docs/BENCHMARKS.md). Dropping the
//! partner stops its supervisor, which kills the child; the child also exits when its stdin
//! closes, so it never outlives the daemon.
//!
//! A child that hangs without dying is killed too. Its calls time out and are cancelled as in
//! process, and the child answers a cancel only once the plugin has really let the call go; a
//! cancelled call still unanswered [`HostOptions::hung_after`] later (a thread stuck in the
//! plugin, a plugin whose `call` export blocks the child's reader) means the child is hung: it
//! is killed, its calls in flight fail as when it dies, and it is restarted. A child that has
//! stopped reading its requests altogether is killed as soon as its backlog passes
//! [`MAX_BACKLOG`](super::outbox::MAX_BACKLOG); no caller ever blocks on it meanwhile.
//!
//! Memory: the child asks the kernel's out-of-memory killer to take it first
//! (`oom_score_adj` 1000), so a plugin that eats memory is what is killed, not the daemon;
//! with [`HostOptions::memory_limit`] its heap is also capped (`RLIMIT_DATA`), and an
//! allocation past the cap aborts the child at once instead of pressing the whole machine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pathways_abi::{
    OP_CANCEL_REFERRAL, OP_CHECK_AVAILABILITY, OP_HEALTH, OP_REFERRAL_STATUS, OP_SEND_REFERRAL,
};
use pathways_core::{
    Availability, AvailabilityQuery, CancelRequest, Capability, Health, Manifest, Partner,
    PartnerError, PluginHostState, Referral, ReferralReceipt, ReferralRef, ReferralStatus,
    PLUGIN_HOST_DIED,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

use super::frame::{self, Frame, Init, Ready, CANCEL, INIT};
use super::outbox::{Outbox, Sent};
use crate::partner::{decode_reply, encode_request, fault};
use crate::{CallStats, LoadError};

type Reply = (i32, Vec<u8>);

/// The first wait before restarting a dead plugin host.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that lived this long was healthy: the next restart waits [`FIRST_BACKOFF`] again.
const HEALTHY: Duration = Duration::from_secs(60);
/// How long a new child may take to load its plugin and answer: opening the library and the
/// instance's manifest question (5 s at most in `instantiate`), with room to spare.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The subcommand of the host program that serves one plugin: `<program> plugin-host`.
pub const PLUGIN_HOST_SUBCOMMAND: &str = "plugin-host";

fn lock<V>(m: &Mutex<V>) -> MutexGuard<'_, V> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The runtime the supervisors and their pipes run on.
fn supervisor_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pathways-plugin-hosts")
            .enable_all()
            .build()
            .expect("the plugin host supervisors' runtime starts (threads and an epoll instance)")
    })
}

/// How plugin hosts are run (`[plugins]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOptions {
    /// The program started as `<program> plugin-host`.
    pub program: PathBuf,
    /// A cancelled call the plugin has still not let go of this long after its cancel means
    /// the child is hung: it is killed and restarted.
    pub hung_after: Duration,
    /// A cap on the child's heap (`RLIMIT_DATA`), in bytes; `None` for no cap.
    pub memory_limit: Option<u64>,
}

impl HostOptions {
    /// The default hung-call limit.
    pub const HUNG_AFTER: Duration = Duration::from_secs(10);

    /// `program`, with the default hung-call limit and no memory cap.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), hung_after: Self::HUNG_AFTER, memory_limit: None }
    }
}

/// What a child is started with: the same every restart.
#[derive(Debug, Clone)]
struct Launch {
    program: PathBuf,
    hung_after: Duration,
    init: Init,
}

/// The calls of one child.
#[derive(Debug, Default)]
struct Calls {
    pending: HashMap<u64, oneshot::Sender<Result<Reply, String>>>,
    /// Calls given up on, and when; the child owes each an answer (its cancel's), which it
    /// gives once the plugin has let the call go.
    abandoned: HashMap<u64, Instant>,
    /// Set when the child died: how (`killed by signal 11 ...`). No call is added after.
    dead: Option<String>,
}

/// One running child, as the callers see it.
#[derive(Debug)]
struct Conn {
    /// The child's stdin. Callers write their frames themselves, never waiting: the socket
    /// takes a frame at once in the usual case (no thread woken), and what it cannot take
    /// waits in the outbox's backlog for its writer thread ([`outbox`](super::outbox)).
    out: Arc<Outbox>,
    calls: Mutex<Calls>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        // The last holder gone (the child ended, or never got ready): end the writer thread.
        self.out.close();
    }
}

impl Conn {
    /// Writes `frame` without waiting. A write that fails means the child is dying, which its
    /// reader reports; [`Sent::Refused`] means it has stopped reading, and is to be killed.
    fn send(&self, frame: &Frame) -> Sent {
        self.out.send(&frame.encode())
    }
}

/// Whether there is a child to call.
#[derive(Debug)]
enum Link {
    Up(Arc<Conn>),
    Down(String),
}

/// What the partner and its supervisor share.
#[derive(Debug)]
struct Shared {
    partner_id: String,
    plugin: OnceLock<String>,
    link: Mutex<Link>,
    next_id: AtomicU64,
    started: AtomicU64,
    completions: AtomicU64,
    duplicates: AtomicU64,
    restarts: AtomicU64,
    /// Children that died (or were killed as hung), counted as each death is seen.
    deaths: AtomicU64,
    /// The running child's process id; 0 while none runs.
    pid: AtomicU32,
    /// How the last child died.
    last_death: Mutex<Option<String>>,
}

impl Shared {
    fn fault(&self, op: u32, what: &str) -> PartnerError {
        fault(&self.partner_id, self.plugin.get().map_or("?", String::as_str), op, what)
    }
}

/// A partner served by a plugin library loaded in a child process (`isolation = "process"`).
#[derive(Debug)]
pub struct ProcessPartner {
    manifest: Manifest,
    library: PathBuf,
    shared: Arc<Shared>,
    /// Dropped with the partner: stops the supervisor, which kills the child.
    _stop: oneshot::Sender<()>,
}

impl ProcessPartner {
    /// Starts `program plugin-host`, which loads the library at `library` and creates the
    /// instance with `settings`, as [`PluginLibrary::open`](crate::PluginLibrary::open) and
    /// `instantiate` do in process; returns once the instance is ready, or with the child's
    /// reason it could not load (the same [`LoadError`] as in process).
    pub fn start(
        options: &HostOptions,
        library: &Path,
        partner_id: &str,
        settings: &serde_json::Value,
    ) -> Result<Self, LoadError> {
        let program = options.program.as_path();
        let settings = match settings {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            other => other.clone(),
        };
        let launch = Launch {
            program: program.to_path_buf(),
            hung_after: options.hung_after,
            init: Init {
                library: library.to_path_buf(),
                partner_id: partner_id.to_string(),
                settings,
                memory_limit: options.memory_limit,
            },
        };
        let shared = Arc::new(Shared {
            partner_id: partner_id.to_string(),
            plugin: OnceLock::new(),
            link: Mutex::new(Link::Down("its plugin host is starting".into())),
            next_id: AtomicU64::new(1),
            started: AtomicU64::new(0),
            completions: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            deaths: AtomicU64::new(0),
            pid: AtomicU32::new(0),
            last_death: Mutex::new(None),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        supervisor_runtime().spawn(supervise(shared.clone(), launch, ready_tx, stop_rx));
        // Loading is synchronous everywhere else too (`instantiate`); the supervisor runs on
        // its own runtime, so waiting here cannot starve it.
        let manifest = ready_rx.recv().map_err(|_| LoadError::PluginHost {
            partner_id: partner_id.to_string(),
            program: program.to_path_buf(),
            reason: "stopped before it answered".into(),
        })??;
        Ok(Self { manifest, library: library.to_path_buf(), shared, _stop: stop_tx })
    }

    /// The partner id from configuration.
    pub fn partner_id(&self) -> &str {
        &self.shared.partner_id
    }

    /// The library the child loads.
    pub fn library_path(&self) -> &Path {
        &self.library
    }

    /// Waits until a plugin host is up to take calls (after a crash, until it has been
    /// restarted), at most `within`; whether one is.
    pub async fn ready(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let up = match &*lock(&self.shared.link) {
                Link::Up(conn) => lock(&conn.calls).dead.is_none(),
                Link::Down(_) => false,
            };
            if up || Instant::now() >= deadline {
                return up;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The process id of the plugin host running now (for an operator's `ps` or `/proc`);
    /// `None` while it is being restarted.
    pub fn host_pid(&self) -> Option<u32> {
        Some(self.shared.pid.load(Ordering::SeqCst)).filter(|&pid| pid != 0)
    }

    /// How many plugin hosts of this partner have died (crashed, or been killed as hung).
    pub fn deaths(&self) -> u64 {
        self.shared.deaths.load(Ordering::SeqCst)
    }

    /// How many times the plugin host was started again after it died.
    pub fn restarts(&self) -> u64 {
        self.shared.restarts.load(Ordering::SeqCst)
    }

    /// Counters of the call protocol so far, as [`DylibPartner::call_stats`](crate::DylibPartner::call_stats);
    /// `in_flight` and `awaiting_late_completion` are of the child running now.
    pub fn call_stats(&self) -> CallStats {
        let (in_flight, awaiting_late_completion) = match &*lock(&self.shared.link) {
            Link::Up(conn) => {
                let calls = lock(&conn.calls);
                (calls.pending.len() as u64, calls.abandoned.len() as u64)
            }
            Link::Down(_) => (0, 0),
        };
        let s = &self.shared;
        CallStats {
            started: s.started.load(Ordering::SeqCst),
            completions: s.completions.load(Ordering::SeqCst),
            awaiting_late_completion,
            duplicates: s.duplicates.load(Ordering::SeqCst),
            in_flight,
        }
    }

    /// Sends raw request bytes for `op` to the child and returns the plugin's raw status and
    /// response bytes, as [`DylibPartner`](crate::DylibPartner)'s `call_raw` does in process.
    pub async fn call_raw(&self, op: u32, request: &[u8]) -> Result<Reply, PartnerError> {
        let shared = &self.shared;
        let conn = match &*lock(&shared.link) {
            Link::Up(conn) => conn.clone(),
            Link::Down(why) => return Err(shared.fault(op, why)),
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut calls = lock(&conn.calls);
            if let Some(how) = &calls.dead {
                return Err(shared.fault(op, &restarting(how)));
            }
            calls.pending.insert(id, tx);
        }
        shared.started.fetch_add(1, Ordering::SeqCst);
        let mut in_flight = InFlight { conn: &conn, id, finished: false };
        // If the write fails the child is dying: the supervisor fails the call shortly.
        if conn.send(&Frame { id, code: op, body: request.to_vec() }) == Sent::Refused {
            in_flight.finished = true;
            lock(&conn.calls).pending.remove(&id);
            return Err(shared.fault(
                op,
                "its plugin host has stopped reading its requests and is being restarted; the \
                 call was not made",
            ));
        }
        let reply = rx.await;
        in_flight.finished = true;
        match reply {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(how)) => Err(shared.fault(op, &format!("{PLUGIN_HOST_DIED} ({how})"))),
            Err(_) => Err(shared.fault(op, "the plugin host dropped the call")),
        }
    }

    async fn call<Q: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        op: u32,
        request: &Q,
    ) -> Result<R, PartnerError> {
        let request = encode_request(op, request)?;
        let (status, body) = self.call_raw(op, &request).await?;
        decode_reply(&self.shared.partner_id, &self.manifest.plugin, op, status, &body)
    }
}

/// A call the partner is waiting on; dropping it unfinished cancels it in the child.
struct InFlight<'a> {
    conn: &'a Conn,
    id: u64,
    finished: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut calls = lock(&self.conn.calls);
        if calls.pending.remove(&self.id).is_some() && calls.dead.is_none() {
            calls.abandoned.insert(self.id, Instant::now());
            drop(calls);
            // Refused only when the child is not reading: the supervisor kills it then.
            let _ = self.conn.send(&Frame { id: self.id, code: CANCEL, body: Vec::new() });
        }
    }
}

/// A child started and ready: its reader thread serves `conn` and reports how it ended.
struct Running {
    child: Reaper,
    conn: Arc<Conn>,
    ended: oneshot::Receiver<std::io::Result<()>>,
    manifest: Manifest,
    sandbox: String,
    writes_denied: bool,
}

/// The child process, killed and reaped when dropped (the partner dropped, a failed start).
struct Reaper(Option<std::process::Child>);

impl Reaper {
    /// Waits for the child to end (it has closed its stdout: it is dying, or broke the
    /// protocol, when `kill` is set, and is killed) and says how it ended.
    async fn reap(mut self, kill: bool) -> String {
        let Some(mut child) = self.0.take() else { return "ended".into() };
        let status = tokio::task::spawn_blocking(move || {
            // A dying process closes its pipes just before it can be reaped: give it a moment
            // before killing one that closed them and lives on.
            for _ in 0..if kill { 0 } else { 100 } {
                if let Ok(Some(status)) = child.try_wait() {
                    return Ok(status);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            child.wait()
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        how_it_ended(status)
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // SIGKILL ends it at once, so the wait is short.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts, watches and restarts the child of one partner until the partner is dropped.
async fn supervise(
    shared: Arc<Shared>,
    launch: Launch,
    ready: std::sync::mpsc::Sender<Result<Manifest, LoadError>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut ready = Some(ready);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let began = Instant::now();
        let launched = tokio::select! {
            launched = start_child(&shared, &launch) => launched,
            _ = &mut stop => return,
        };
        let why = match launched {
            Ok(running) => {
                let _ = shared.plugin.set(running.manifest.plugin.clone());
                let pid = running.child.0.as_ref().map_or(0, std::process::Child::id);
                shared.pid.store(pid, Ordering::SeqCst);
                // Up before anyone is told it is ready, so the first call finds it.
                *lock(&shared.link) = Link::Up(running.conn.clone());
                if !running.writes_denied {
                    tracing::warn!(partner = %shared.partner_id, sandbox = %running.sandbox,
                        "the plugin host cannot deny its plugin filesystem writes on this kernel");
                }
                match ready.take() {
                    Some(ready) => {
                        tracing::info!(partner = %shared.partner_id, sandbox = %running.sandbox,
                            "plugin host started");
                        let _ = ready.send(Ok(running.manifest.clone()));
                    }
                    None => {
                        shared.restarts.fetch_add(1, Ordering::SeqCst);
                        tracing::warn!(partner = %shared.partner_id,
                            sandbox = %running.sandbox, "plugin host restarted");
                    }
                }
                match serve(running, launch.hung_after, &mut stop).await {
                    Some(why) => {
                        shared.pid.store(0, Ordering::SeqCst);
                        *lock(&shared.last_death) = Some(why.clone());
                        shared.deaths.fetch_add(1, Ordering::SeqCst);
                        why
                    }
                    None => return,
                }
            }
            Err(error) => match ready.take() {
                Some(ready) => {
                    let _ = ready.send(Err(error));
                    return;
                }
                None => format!("it could not be started again: {error}"),
            },
        };
        if began.elapsed() >= HEALTHY {
            backoff = FIRST_BACKOFF;
        }
        tracing::error!(partner = %shared.partner_id, restart_in_ms = backoff.as_millis() as u64,
            "{PLUGIN_HOST_DIED}: {why}; restarting it");
        *lock(&shared.link) = Link::Down(restarting(&why));
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = &mut stop => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Why a call made while the plugin host restarts fails: not [`PLUGIN_HOST_DIED`], as this
/// call did not crash it (and was not made).
fn restarting(how: &str) -> String {
    format!("its plugin host is being restarted after it died ({how}); the call was not made")
}

/// Starts the child, hands it the library and settings, and waits for its plugin to be ready.
async fn start_child(shared: &Arc<Shared>, launch: &Launch) -> Result<Running, LoadError> {
    let failed = |reason: String| LoadError::PluginHost {
        partner_id: launch.init.partner_id.clone(),
        program: launch.program.clone(),
        reason,
    };
    let (requests, child_stdin) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| failed(format!("cannot be given its requests socket: {e}")))?;
    let mut child = std::process::Command::new(&launch.program)
        .arg(PLUGIN_HOST_SUBCOMMAND)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(child_stdin)))
        .stdout(Stdio::piped())
        // Plugin logs (through the host's log bridge, in the daemon's log format) and anything
        // a plugin prints reach the operator with the daemon's own.
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| failed(format!("cannot be started: {e}")))?;
    let Some(stdout) = child.stdout.take() else {
        return Err(failed("was started without its pipes".into()));
    };
    let child = Reaper(Some(child));
    let out = Outbox::start(requests, &launch.init.partner_id)
        .map_err(|e| failed(format!("cannot be written to: no thread: {e}")))?;
    let conn = Arc::new(Conn { out, calls: Mutex::default() });
    let init = serde_json::to_vec(&launch.init).unwrap_or_default();
    let _ = conn.send(&Frame { id: 0, code: INIT, body: init });
    let (ready_tx, ready_rx) = oneshot::channel();
    let (ended_tx, ended) = oneshot::channel();
    let (thread_shared, thread_conn) = (shared.clone(), conn.clone());
    std::thread::Builder::new()
        .name(format!("plugin-host-{}", launch.init.partner_id))
        .spawn(move || {
            let mut stdout = stdout;
            let first = frame::read_blocking(&mut stdout);
            let loaded = matches!(&first, Ok(Some(Frame { code: INIT, .. })));
            let _ = ready_tx.send(first);
            if loaded {
                let _ = ended_tx.send(read_replies(&thread_shared, &thread_conn, &mut stdout));
            }
        })
        .map_err(|e| failed(format!("cannot be read from: no thread: {e}")))?;
    let answer = match tokio::time::timeout(READY_TIMEOUT, ready_rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => return Err(failed("stopped before it was ready".into())),
        Err(_) => {
            return Err(failed(format!(
                "did not load the plugin within {} s",
                READY_TIMEOUT.as_secs()
            )))
        }
    };
    let ready = match answer {
        Ok(Some(Frame { code: INIT, body, .. })) => serde_json::from_slice::<Ready>(&body)
            .map_err(|e| failed(format!("answered its start with something unreadable: {e}")))?,
        Ok(Some(_)) => return Err(failed("answered its start with another frame".into())),
        Ok(None) | Err(_) => {
            let how = child.reap(false).await;
            return Err(failed(format!("stopped before it was ready ({how})")));
        }
    };
    match ready {
        Ready::Loaded { manifest, sandbox, writes_denied } => {
            Ok(Running { child, conn, ended, manifest: *manifest, sandbox, writes_denied })
        }
        Ready::Failed(error) => Err(error),
    }
}

/// Serves calls to a running child until it dies or is killed as hung (`Some(how)`), or the
/// partner is dropped.
async fn serve(
    running: Running,
    hung_after: Duration,
    stop: &mut oneshot::Receiver<()>,
) -> Option<String> {
    let Running { child, conn, mut ended, .. } = running;
    // Often enough that a hung child is killed within a quarter of the limit past it.
    let mut watch = tokio::time::interval((hung_after / 4).max(Duration::from_millis(10)));
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ended = &mut ended => {
                // Its stdout closed: it is dying, or it broke the protocol and is killed.
                let broke = match ended {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some("its reader stopped".to_string()),
                };
                let mut how = child.reap(broke.is_some()).await;
                if let Some(broke) = broke {
                    how.push_str(&format!("; it broke the frame protocol: {broke}"));
                }
                fail_all(&conn, &how);
                return Some(how);
            }
            _ = watch.tick() => {
                if let Some(why) = why_kill(&conn, hung_after) {
                    let how = format!("{why} ({})", child.reap(true).await);
                    fail_all(&conn, &how);
                    return Some(how);
                }
            }
            _ = &mut *stop => {
                conn.out.close();
                drop(child);
                return None;
            }
        }
    }
}

/// Why a child that is still alive is to be killed: it stopped reading its requests, or a call
/// it was asked to cancel is still running `hung_after` later.
fn why_kill(conn: &Conn, hung_after: Duration) -> Option<String> {
    if conn.out.is_stuck() {
        let waiting = conn.out.waiting() / 1024;
        return Some(format!(
            "killed: it had stopped reading its requests ({waiting} KiB waiting)"
        ));
    }
    let oldest = lock(&conn.calls).abandoned.values().min().copied()?;
    (oldest.elapsed() >= hung_after).then(|| {
        format!(
            "killed as hung: a cancelled call was still running in the plugin {} ms after its \
             cancel",
            hung_after.as_millis()
        )
    })
}

/// Fails every call in flight on `conn`: the child ended `how`. Refuses new ones, and writes
/// nothing more to it.
fn fail_all(conn: &Conn, how: &str) {
    conn.out.close();
    let mut calls = lock(&conn.calls);
    calls.dead = Some(how.to_string());
    calls.abandoned.clear();
    for (_, call) in calls.pending.drain() {
        let _ = call.send(Err(how.to_string()));
    }
}

/// Hands each answer to its caller, on the child's reader thread; `Ok` when the child closed
/// its stdout.
fn read_replies(
    shared: &Shared,
    conn: &Conn,
    stdout: &mut std::process::ChildStdout,
) -> std::io::Result<()> {
    while let Some(reply) = frame::read_blocking(stdout)? {
        let mut calls = lock(&conn.calls);
        if let Some(caller) = calls.pending.remove(&reply.id) {
            drop(calls);
            shared.completions.fetch_add(1, Ordering::SeqCst);
            // The caller may be being dropped right now; that is fine.
            let _ = caller.send(Ok((reply.code as i32, reply.body)));
        } else if calls.abandoned.remove(&reply.id).is_some() {
            shared.completions.fetch_add(1, Ordering::SeqCst);
        } else {
            drop(calls);
            shared.duplicates.fetch_add(1, Ordering::SeqCst);
            tracing::error!(partner = %shared.partner_id, id = reply.id,
                "plugin host answered a call that was already complete (plugin host bug)");
        }
    }
    Ok(())
}

/// How a child ended, in words: `killed by signal 11 (SIGSEGV)`, `exited with status 3`.
fn how_it_ended(status: std::io::Result<std::process::ExitStatus>) -> String {
    let status = match status {
        Ok(status) => status,
        Err(e) => return format!("its end could not be seen: {e}"),
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                4 => " (SIGILL)",
                6 => " (SIGABRT: an abort, or a stack overflow)",
                7 => " (SIGBUS)",
                8 => " (SIGFPE)",
                9 => " (SIGKILL: killed, e.g. by the out-of-memory killer)",
                11 => " (SIGSEGV: a segmentation fault)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("killed by signal {signal}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "ended".into(),
    }
}

#[async_trait]
impl Partner for ProcessPartner {
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

    fn plugin_host(&self) -> Option<PluginHostState> {
        Some(PluginHostState {
            pid: self.host_pid(),
            deaths: self.deaths(),
            last_death: lock(&self.shared.last_death).clone(),
        })
    }

    async fn cancel_referral(
        &self,
        request: &CancelRequest,
    ) -> Result<ReferralStatus, PartnerError> {
        // As in process: never an operation the plugin does not declare.
        if !self.manifest.capabilities.contains(&Capability::Cancel) {
            return Err(crate::partner::cancel_unsupported(
                &self.shared.partner_id,
                &self.manifest,
            ));
        }
        self.call(OP_CANCEL_REFERRAL, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_death_is_told_by_its_signal_or_status() {
        use std::os::unix::process::ExitStatusExt;
        let segv = std::process::ExitStatus::from_raw(11);
        assert!(how_it_ended(Ok(segv)).contains("signal 11 (SIGSEGV"));
        let exit3 = std::process::ExitStatus::from_raw(3 << 8);
        assert_eq!(how_it_ended(Ok(exit3)), "exited with status 3");
    }
}
