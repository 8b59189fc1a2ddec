//! Protocol errors in the API's own shape. hyper reads the request line and headers before any
//! of our code runs, and answers what it cannot read itself: an empty `400` (a malformed request
//! line or header, two different `Content-Length`s, an unknown version), `414` (a target longer
//! than it accepts) or `431` (too many or too large headers), and it closes a connection whose
//! headers stall past the header-read timeout without a word. A client then gets no JSON body
//! and no reason, unlike every other refusal of the API.
//!
//! [`Guarded`] wraps each connection's socket. It holds back hyper's bodiless automatic answer
//! (noting its status), notes whether bytes of a request arrived since the last answer, and when
//! hyper lets the connection go it leaves the socket in a [`Shared`] slot. The accept loop then
//! answers with [`answer_after`]: the held-back status with a JSON body, or `408` for headers
//! that began and never finished. A connection that was merely idle between requests (hyper's
//! header timer runs then too) is closed silently, as before: a client sending its next request
//! at that moment must not read a 408 meant for nobody.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::error::ApiError;

/// What the accept loop needs once hyper is done with a connection.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// The socket, left here when hyper drops its side.
    slot: Mutex<Option<TcpStream>>,
    /// The status of an automatic answer hyper wrote and [`Guarded`] held back; 0 for none.
    held_back: AtomicU16,
    /// Bytes arrived since the last answer was written: a request head had begun.
    reading: AtomicBool,
}

/// A connection's socket as hyper sees it.
#[derive(Debug)]
pub(crate) struct Guarded {
    stream: Option<TcpStream>,
    shared: Arc<Shared>,
}

impl Guarded {
    pub(crate) fn new(stream: TcpStream) -> (Self, Arc<Shared>) {
        let shared = Arc::new(Shared::default());
        (Self { stream: Some(stream), shared: shared.clone() }, shared)
    }

    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.stream.as_mut().expect("the stream is taken only on drop"))
    }

    /// Whether `bytes`, about to be written, are hyper's automatic answer to a request it could
    /// not parse: a status line of 400, 414 or 431 and an empty body (`content-length: 0`). No
    /// answer of ours has an empty body with these statuses: every refusal carries JSON or a
    /// page.
    fn automatic_answer(bytes: &[u8]) -> Option<u16> {
        let status = [(b"HTTP/1.1 400 ", 400), (b"HTTP/1.1 414 ", 414), (b"HTTP/1.1 431 ", 431)]
            .into_iter()
            .find_map(|(line, status)| bytes.starts_with(line).then_some(status))?;
        let head = std::str::from_utf8(bytes).ok()?.strip_suffix("\r\n\r\n")?;
        let empty = head.split("\r\n").any(|l| l.eq_ignore_ascii_case("content-length: 0"));
        (empty && !head.contains("\r\n\r\n")).then_some(status)
    }

    fn written(&self, bytes: &[u8]) -> Option<usize> {
        if let Some(status) = Self::automatic_answer(bytes) {
            self.shared.held_back.store(status, Ordering::SeqCst);
            return Some(bytes.len());
        }
        self.shared.reading.store(false, Ordering::SeqCst);
        None
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            if let Ok(mut slot) = self.shared.slot.lock() {
                *slot = Some(stream);
            }
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = self.stream().poll_read(cx, buf);
        if buf.filled().len() > before {
            self.shared.reading.store(true, Ordering::SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(n) = self.written(buf) {
            return Poll::Ready(Ok(n));
        }
        self.stream().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // hyper writes an automatic answer as one buffer: its head, with no body after it.
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if let Some(n) = self.written(only) {
                return Poll::Ready(Ok(n));
            }
        } else {
            self.shared.reading.store(false, Ordering::SeqCst);
        }
        self.stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(TcpStream::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shared.held_back.load(Ordering::SeqCst) != 0 {
            // The answer is still to be written, by the accept loop.
            return Poll::Ready(Ok(()));
        }
        self.stream().poll_shutdown(cx)
    }
}

/// The refusal for a request hyper could not read, in the API's JSON shape.
fn refusal(status: u16) -> ApiError {
    match status {
        414 => ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "the request target is longer than the server reads",
        ),
        431 => ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request has more or larger headers than the server reads",
        ),
        408 => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request's headers did not arrive in time; nothing was done",
        ),
        _ => ApiError::bad_request(
            "malformed_request",
            "the request is not well-formed HTTP/1.1 (its request line, a header's syntax, or \
             headers that frame the body, such as two different `Content-Length`s); nothing \
             was done",
        ),
    }
}

/// The whole answer (head and JSON body) for `error`, closing the connection.
fn answer_bytes(error: &ApiError) -> Vec<u8> {
    let body = error.json_body();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n\r\n",
        error.status.as_u16(),
        error.status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// After hyper has finished with a connection (`timed_out`: its header-read timeout ended it):
/// writes the JSON answer it owes, if any, and closes the socket.
pub(crate) async fn answer_after(shared: &Shared, timed_out: bool) {
    let held_back = shared.held_back.load(Ordering::SeqCst);
    let status = match held_back {
        0 if timed_out && shared.reading.load(Ordering::SeqCst) => 408,
        0 => return,
        status => status,
    };
    let Some(mut stream) = shared.slot.lock().ok().and_then(|mut slot| slot.take()) else {
        return;
    };
    let answer = answer_bytes(&refusal(status));
    let written = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::debug!(status, "could not write a protocol refusal; the client went away");
        return;
    }
    // Closing a socket with unread bytes (the rest of a request hyper gave up on) resets the
    // connection, and a reset can reach the client before it has read the refusal: read what
    // is left, briefly, until it closes its side.
    let _ = tokio::time::timeout(DRAIN, async {
        let mut rest = [0u8; 4096];
        while matches!(stream.read(&mut rest).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// How long a refused connection's unread bytes are read before it is closed anyway.
const DRAIN: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_refusals_are_held_back() {
        let automatic = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(Guarded::automatic_answer(automatic), Some(400));
        let long = b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(Guarded::automatic_answer(long), Some(431));
        for ours in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
        ] {
            assert_eq!(Guarded::automatic_answer(ours), None, "{}", String::from_utf8_lossy(ours));
        }
    }

    #[test]
    fn a_refusal_is_a_whole_json_answer() {
        let text = String::from_utf8(answer_bytes(&refusal(400))).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "malformed_request");
    }
}
