//! Fault knobs and the middleware that applies them to a simulator's partner routes.
//!
//! Each request draws its fate from one seeded random stream, in a fixed order (delay, hang,
//! rate limit, server error, then malformed, oversized and slow answers), so a sequential test
//! sees the same faults on every run. Failures that stop a request (hang, 429, 5xx) happen before
//! the handler runs, so nothing is recorded; a malformed or oversized answer replaces the body
//! of a request that *was* handled, which is the case exactly-once delivery must survive.
//! A slow answer sends its status and headers at once, then trickles the body out in small
//! chunks: a client that only times out waiting for headers never notices.
//! The sandbox's own `/_sandbox` routes are never faulted.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// How a simulated partner misbehaves. Every fraction is between 0 and 1 (0: never, 1: always).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Fixed delay before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Extra random delay, uniformly 0..=jitter_ms, added to `latency_ms`.
    pub jitter_ms: u64,
    /// Fraction of requests answered 500 or 503 (503 carries `Retry-After`).
    pub error_rate: f64,
    /// Fraction of requests answered 429 with `Retry-After`.
    pub rate_limited_rate: f64,
    /// Seconds sent in `Retry-After` with 429 and 503.
    pub retry_after_s: u64,
    /// Fraction of requests never answered (the connection stays open until the client gives
    /// up or the sandbox shuts down).
    pub hang_rate: f64,
    /// Fraction of successful answers whose body is cut short (invalid JSON).
    pub malformed_rate: f64,
    /// Fraction of successful answers padded (with JSON whitespace) to `oversized_bytes`.
    pub oversized_rate: f64,
    /// Size of an oversized answer, in bytes.
    pub oversized_bytes: usize,
    /// Fraction of answers whose headers go out at once but whose body trickles in small
    /// chunks over `slow_body_ms`.
    pub slow_body_rate: f64,
    /// How long a slow answer's body takes from first to last chunk, in milliseconds.
    pub slow_body_ms: u64,
    /// Overrides every food bank's voucher capacity; `None` keeps the seeded data.
    pub capacity: Option<CapacityOverride>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            rate_limited_rate: 0.0,
            retry_after_s: 2,
            hang_rate: 0.0,
            malformed_rate: 0.0,
            oversized_rate: 0.0,
            oversized_bytes: 2 * 1024 * 1024,
            slow_body_rate: 0.0,
            slow_body_ms: 3_000,
            capacity: None,
        }
    }
}

/// A capacity forced on every service of a simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityOverride {
    /// Every service has places now.
    Open,
    /// Every service has a waiting list.
    Waitlist,
    /// No service accepts referrals.
    Full,
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every request answered with a server error (500 or 503).
    pub fn failing() -> Self {
        Self { error_rate: 1.0, ..Self::default() }
    }

    /// Checks that every fraction is between 0 and 1; on error, the field and what is wrong.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let fractions = [
            ("error_rate", self.error_rate),
            ("rate_limited_rate", self.rate_limited_rate),
            ("hang_rate", self.hang_rate),
            ("malformed_rate", self.malformed_rate),
            ("oversized_rate", self.oversized_rate),
            ("slow_body_rate", self.slow_body_rate),
        ];
        for (field, value) in fractions {
            if !(0.0..=1.0).contains(&value) {
                return Err((field, format!("is {value}; a fraction must be between 0 and 1")));
            }
        }
        Ok(())
    }
}

/// What one request will suffer, drawn before it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Answer,
    Hang,
    RateLimited,
    ServerError(StatusCode),
    Malformed,
    Oversized,
    SlowBody,
}

/// A simulator's live fault settings, its random stream, and the shutdown signal that frees
/// hanging requests.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    faults: RwLock<Faults>,
    rng: Mutex<fastrand::Rng>,
    shutdown: watch::Receiver<bool>,
}

impl FaultInjector {
    /// An injector with `faults`, drawing from `seed`.
    pub(crate) fn new(faults: Faults, seed: u64, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            faults: RwLock::new(faults),
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            shutdown,
        }
    }

    /// Replaces the fault settings; requests already in flight keep their fate.
    pub(crate) fn set(&self, faults: Faults) {
        *self.faults.write().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// The current fault settings.
    pub(crate) fn get(&self) -> Faults {
        self.faults.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Draws a delay and a fate. Always draws the same number of values, so changing one
    /// fraction does not shift the fates of later requests.
    fn draw(&self, faults: &Faults) -> (Duration, Fate) {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let jitter = rng.u64(0..=faults.jitter_ms);
        let rolls = [rng.f64(), rng.f64(), rng.f64(), rng.f64(), rng.f64(), rng.f64()];
        let pick_503 = rng.bool();
        let delay = Duration::from_millis(faults.latency_ms.saturating_add(jitter));
        let fate = if rolls[0] < fraction(faults.hang_rate) {
            Fate::Hang
        } else if rolls[1] < fraction(faults.rate_limited_rate) {
            Fate::RateLimited
        } else if rolls[2] < fraction(faults.error_rate) {
            let status = if pick_503 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            Fate::ServerError(status)
        } else if rolls[3] < fraction(faults.malformed_rate) {
            Fate::Malformed
        } else if rolls[4] < fraction(faults.oversized_rate) {
            Fate::Oversized
        } else if rolls[5] < fraction(faults.slow_body_rate) {
            Fate::SlowBody
        } else {
            Fate::Answer
        };
        (delay, fate)
    }
}

/// A fraction usable as a probability: NaN counts as 0, and values are clamped to 0..=1 (the
/// run-time setter does not validate, the configuration loader does).
fn fraction(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

/// Middleware applying the injector's faults to every request of the router it wraps.
pub(crate) async fn inject(
    State(injector): State<Arc<FaultInjector>>,
    request: Request,
    next: Next,
) -> Response {
    let faults = injector.get();
    let (delay, fate) = injector.draw(&faults);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fate {
        Fate::Hang => {
            // Never answer, but let go when the sandbox shuts down so shutdown cannot hang.
            let mut shutdown = injector.shutdown.clone();
            let _ = shutdown.wait_for(|stopping| *stopping).await;
            return error_answer(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", None);
        }
        Fate::RateLimited => {
            return error_answer(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Some(faults.retry_after_s),
            );
        }
        Fate::ServerError(status) => {
            let retry_after =
                (status == StatusCode::SERVICE_UNAVAILABLE).then_some(faults.retry_after_s);
            return error_answer(status, "simulated_failure", retry_after);
        }
        Fate::Answer | Fate::Malformed | Fate::Oversized | Fate::SlowBody => {}
    }
    let response = next.run(request).await;
    if fate == Fate::SlowBody {
        return trickled(response, Duration::from_millis(faults.slow_body_ms)).await;
    }
    if fate == Fate::Answer || !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return error_answer(StatusCode::INTERNAL_SERVER_ERROR, "simulator_body_error", None);
    };
    let bytes = if fate == Fate::Malformed {
        truncated(&bytes)
    } else {
        padded(&bytes, faults.oversized_bytes)
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// How many pieces a slow answer's body is sent in.
const SLOW_CHUNKS: usize = 10;

/// `response` with its headers (and an exact `Content-Length`) ready at once and its body sent
/// in [`SLOW_CHUNKS`] pieces spread over `over`.
async fn trickled(response: Response, over: Duration) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return error_answer(StatusCode::INTERNAL_SERVER_ERROR, "simulator_body_error", None);
    };
    let chunk = bytes.len().div_ceil(SLOW_CHUNKS).max(1);
    let pieces: Vec<Bytes> = (0..bytes.len())
        .step_by(chunk)
        .map(|at| bytes.slice(at..(at + chunk).min(bytes.len())))
        .collect();
    let pause = over / u32::try_from(pieces.len().max(1)).unwrap_or(1);
    // Each piece waits its turn first, so even the first byte of the body is late.
    let stream = futures::stream::iter(pieces).then(move |piece| async move {
        tokio::time::sleep(pause).await;
        Ok::<_, std::convert::Infallible>(piece)
    });
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The first half of a JSON document (an object or array cut short is never valid JSON).
fn truncated(bytes: &Bytes) -> Bytes {
    let half = (bytes.len() / 2).max(1);
    if bytes.len() <= 1 {
        Bytes::from_static(b"{")
    } else {
        bytes.slice(..half)
    }
}

/// The same document followed by whitespace up to `size` bytes: still valid JSON, just too big.
fn padded(bytes: &Bytes, size: usize) -> Bytes {
    let mut out = Vec::with_capacity(size.max(bytes.len()));
    out.extend_from_slice(bytes);
    out.resize(size.max(bytes.len()), b' ');
    Bytes::from(out)
}

/// A JSON error answer in the sandbox's error shape, with `Retry-After` when given.
pub(crate) fn error_answer(status: StatusCode, code: &str, retry_after_s: Option<u64>) -> Response {
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "too many requests; retry later",
        StatusCode::SERVICE_UNAVAILABLE => "service unavailable; retry later",
        _ => "internal error",
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after_s {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injector(faults: Faults, seed: u64) -> FaultInjector {
        let (_tx, rx) = watch::channel(false);
        FaultInjector::new(faults, seed, rx)
    }

    #[test]
    fn no_faults_always_answers() {
        let inj = injector(Faults::none(), 1);
        for _ in 0..200 {
            assert_eq!(inj.draw(&Faults::none()).1, Fate::Answer);
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_fates() {
        let faults =
            Faults { error_rate: 0.3, malformed_rate: 0.3, jitter_ms: 50, ..Faults::none() };
        let (a, b) = (injector(faults.clone(), 9), injector(faults.clone(), 9));
        let fates_a: Vec<_> = (0..50).map(|_| a.draw(&faults)).collect();
        let fates_b: Vec<_> = (0..50).map(|_| b.draw(&faults)).collect();
        assert_eq!(fates_a, fates_b);
        assert!(fates_a.iter().any(|(_, f)| matches!(f, Fate::ServerError(_))));
        assert!(fates_a.iter().any(|(_, f)| *f == Fate::Answer));
    }

    #[test]
    fn fractions_are_validated_by_name() {
        let bad = Faults { hang_rate: -0.1, ..Faults::none() };
        assert_eq!(bad.validate().unwrap_err().0, "hang_rate");
        assert!(Faults::failing().validate().is_ok());
    }

    #[test]
    fn truncated_json_does_not_parse_and_padded_json_does() {
        let body = Bytes::from_static(br#"{"voucher_id": "FBV-1", "status": "issued"}"#);
        assert!(serde_json::from_slice::<serde_json::Value>(&truncated(&body)).is_err());
        let big = padded(&body, 4096);
        assert_eq!(big.len(), 4096);
        assert!(serde_json::from_slice::<serde_json::Value>(&big).is_ok());
    }
}
