//! The daemon's end of a plugin host child's stdin, written so that no caller ever blocks.
//!
//! The child's stdin is one end of a Unix socket pair. A caller writes its frame straight into
//! the socket without waiting (`MSG_DONTWAIT`): the usual case, no thread woken, as cheap as a
//! pipe write. What the socket does not take at once (the child is behind, or has stopped
//! reading because a plugin's `call` export blocks its reader) goes into a backlog, in order,
//! which a writer thread of the child's drains with blocking writes; while anything waits
//! there, later frames queue behind it, so frames are never interleaved. A backlog past
//! [`MAX_BACKLOG`] means the child is not reading at all: the frame is refused, the outbox is
//! marked stuck, and the supervisor kills the child. Before this a full pipe blocked the caller's
//! runtime thread, and with it every other partner's work on that thread.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The most bytes that may wait for a child before it is taken to have stopped reading.
pub(crate) const MAX_BACKLOG: usize = 8 * 1024 * 1024;

fn lock<V>(m: &Mutex<V>) -> MutexGuard<'_, V> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Debug)]
struct State {
    /// Bytes not yet written, in order.
    backlog: Vec<u8>,
    /// The writer thread holds bytes taken from the backlog and is writing them.
    writing: bool,
    /// The child is gone, or going: nothing more is written, and the writer thread ends.
    closed: bool,
}

/// Frames on their way to one child.
#[derive(Debug)]
pub(crate) struct Outbox {
    socket: Arc<UnixStream>,
    state: Mutex<State>,
    wake: Condvar,
    stuck: AtomicBool,
}

/// Whether a frame was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Written, or queued behind what waits.
    Taken,
    /// The child has not read [`MAX_BACKLOG`] bytes: refused, and the outbox is stuck.
    Refused,
}

impl Outbox {
    /// An outbox over `socket` (blocking), with its writer thread.
    pub(crate) fn start(socket: UnixStream, name: &str) -> std::io::Result<Arc<Self>> {
        let outbox = Arc::new(Self {
            socket: Arc::new(socket),
            state: Mutex::new(State { backlog: Vec::new(), writing: false, closed: false }),
            wake: Condvar::new(),
            stuck: AtomicBool::new(false),
        });
        let drained = outbox.clone();
        std::thread::Builder::new()
            .name(format!("plugin-host-out-{name}"))
            .spawn(move || drained.drain())?;
        Ok(outbox)
    }

    /// Writes `bytes` (one whole frame), or queues what the socket does not take at once.
    /// Never blocks.
    pub(crate) fn send(&self, bytes: &[u8]) -> Sent {
        let mut state = lock(&self.state);
        if state.closed {
            // The child is dying; its reader reports how.
            return Sent::Taken;
        }
        if state.backlog.len() >= MAX_BACKLOG {
            self.stuck.store(true, Ordering::SeqCst);
            return Sent::Refused;
        }
        let mut rest = bytes;
        if state.backlog.is_empty() && !state.writing {
            match send_now(&self.socket, rest) {
                Ok(n) => rest = &rest[n..],
                Err(_) => {
                    // The child closed its end: it is dying.
                    state.closed = true;
                    self.wake.notify_all();
                    return Sent::Taken;
                }
            }
        }
        if !rest.is_empty() {
            state.backlog.extend_from_slice(rest);
            self.wake.notify_all();
        }
        Sent::Taken
    }

    /// Whether the child stopped reading (a frame was refused).
    pub(crate) fn is_stuck(&self) -> bool {
        self.stuck.load(Ordering::SeqCst)
    }

    /// Bytes waiting for the child.
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.state).backlog.len()
    }

    /// Writes nothing more and ends the writer thread (the child is gone or being killed).
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.wake.notify_all();
    }

    /// The writer thread: drains the backlog with blocking writes until closed.
    fn drain(&self) {
        loop {
            let bytes = {
                let mut state = lock(&self.state);
                while state.backlog.is_empty() && !state.closed {
                    state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                }
                if state.closed {
                    return;
                }
                state.writing = true;
                std::mem::take(&mut state.backlog)
            };
            let written = (&*self.socket).write_all(&bytes);
            let mut state = lock(&self.state);
            state.writing = false;
            if written.is_err() {
                state.closed = true;
                return;
            }
        }
    }
}

/// Writes what the socket takes of `bytes` now, without waiting; how many it took.
fn send_now(socket: &UnixStream, bytes: &[u8]) -> std::io::Result<usize> {
    loop {
        // SAFETY: the descriptor is the socket's, open while `socket` lives; the buffer is
        // `bytes`, valid for `bytes.len()` bytes.
        let n = unsafe {
            libc::send(
                socket.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let error = std::io::Error::last_os_error();
        match error.kind() {
            std::io::ErrorKind::WouldBlock => return Ok(0),
            std::io::ErrorKind::Interrupted => continue,
            _ => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn frames_arrive_whole_and_in_order_though_the_reader_is_slow_and_no_send_waits() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let outbox = Outbox::start(ours, "test").unwrap();
        // Far more than the socket holds, while nobody reads.
        let frames: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 64 * 1024]).collect();
        let started = Instant::now();
        for frame in &frames {
            assert_eq!(outbox.send(frame), Sent::Taken);
        }
        assert!(started.elapsed() < Duration::from_secs(1), "no send waited for the reader");
        assert!(outbox.waiting() > 0, "the rest waits in the backlog");
        let mut received = vec![0u8; frames.len() * 64 * 1024];
        theirs.read_exact(&mut received).unwrap();
        for (i, chunk) in received.chunks(64 * 1024).enumerate() {
            assert!(chunk.iter().all(|&b| b == i as u8), "frame {i} arrived whole, in order");
        }
        outbox.close();
    }

    #[test]
    fn a_child_that_reads_nothing_gets_its_outbox_stuck_not_its_callers() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let outbox = Outbox::start(ours, "test").unwrap();
        let frame = vec![7u8; 1024 * 1024];
        let mut refused = false;
        // The socket itself holds a few MiB (the kernel's buffers), the backlog the rest.
        for _ in 0..64 {
            if outbox.send(&frame) == Sent::Refused {
                refused = true;
                break;
            }
        }
        assert!(
            refused && outbox.is_stuck(),
            "past the limit a frame is refused: {} waiting",
            outbox.waiting()
        );
        outbox.close();
    }
}
