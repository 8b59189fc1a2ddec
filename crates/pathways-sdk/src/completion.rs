//! Finishing a call exactly once.
//!
//! A [`CompletionGuard`] owns the host's completion for one call. Finishing it consumes it;
//! dropping it unfinished (the task was aborted by `cancel`, or dropped at shutdown) reports
//! `CANCELLED`. So every path out of a call, including ones nobody thought of, completes it
//! exactly once.

use pathways_abi::{Bytes, Completion, STATUS_CANCELLED};

/// The host's completion for one call, fired exactly once.
pub(crate) struct CompletionGuard {
    completion: Option<Completion>,
}

// SAFETY: the ABI requires the host's completion context to be valid for the life of the
// process and its callback to be callable from any thread.
unsafe impl Send for CompletionGuard {}

impl CompletionGuard {
    pub(crate) fn new(completion: Completion) -> Self {
        Self { completion: Some(completion) }
    }

    /// Reports the call's result to the host.
    pub(crate) fn complete(mut self, status: i32, data: &[u8]) {
        self.fire(status, data);
    }

    fn fire(&mut self, status: i32, data: &[u8]) {
        if let Some(c) = self.completion.take() {
            // SAFETY: the host passed this callback and context for exactly this call; the
            // bytes are borrowed for the duration of the callback only.
            unsafe { (c.callback)(c.ctx, c.token, status, Bytes::from_slice(data)) };
        }
    }
}

impl Drop for CompletionGuard {
    fn drop(&mut self) {
        self.fire(STATUS_CANCELLED, &[]);
    }
}
