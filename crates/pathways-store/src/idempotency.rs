//! API idempotency records: the first request with an `Idempotency-Key` does the work, a
//! repeat gets the first response back.
//!
//! The protocol, per `(scope, key)`: [`Store::begin_idempotent`](crate::Store::begin_idempotent)
//! claims the key atomically (of any number of concurrent callers exactly one is told
//! [`IdempotencyOutcome::Started`]); the winner does the work and calls `complete_idempotent`
//! with the response, or `abandon_idempotent` if it failed before changing anything, so that
//! the client may try again. A claim older than the caller's `stale_after` belongs to a
//! request whose daemon died: the next caller with the same body takes it over
//! ([`IdempotencyOutcome::TakenOver`]), and of concurrent callers only one does.

use std::fmt;

use chrono::{DateTime, Utc};

/// What `begin_idempotent` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyOutcome {
    /// The key was new: the caller owns it and must complete or abandon it.
    Started,
    /// The key was claimed by a request that began at `since`, more than the caller's
    /// `stale_after` ago, and never finished (its daemon died): the caller now owns it, as with
    /// `Started`, but that request may have done some of its work already.
    TakenOver {
        /// When the dead request began.
        since: DateTime<Utc>,
    },
    /// Another request with the same key and body is still being handled (answer 409).
    InFlight {
        /// When that request began; a very old one means its daemon died mid-request.
        since: DateTime<Utc>,
    },
    /// A request with the same key and body finished: answer with its response.
    Completed(StoredResponse),
    /// The key was used with a different request body (answer 422).
    Mismatch,
}

/// A response kept for replay.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status code.
    pub status: u16,
    /// The body as sent.
    pub body: Vec<u8>,
}

impl fmt::Debug for StoredResponse {
    // The body is whatever the API answered; print its size, not its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredResponse")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}
