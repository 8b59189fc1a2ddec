//! Reading a JSON request body without ever answering in axum's plain-text rejections.
//!
//! The extractor never rejects: it hands the handler a `Result`, so the handler checks the
//! caller's role first (a 403 must not depend on whether the body parses) and then the body.
//! A body that does not arrive within `Limits::body_read_timeout` once the headers are in is
//! answered 408, so a stalled client holds its slot for seconds, not for the request timeout.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};

use crate::error::ApiError;
use crate::state::AppState;

/// The raw bytes of a JSON request body, or why they cannot be had.
#[derive(Debug)]
pub struct JsonBody(pub Result<Bytes, ApiError>);

impl FromRequest<AppState> for JsonBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(JsonBody(read(req, state).await))
    }
}

/// The raw bytes of a request body of any type, within the same size and time limits (for
/// partners' callbacks, whose signature covers the exact bytes).
#[derive(Debug)]
pub struct RawBody(pub Result<Bytes, ApiError>);

impl FromRequest<AppState> for RawBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(RawBody(bytes(req, state).await))
    }
}

async fn read(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let is_json = content_type.is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json")
    });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON: send `Content-Type: application/json`",
        ));
    }
    bytes(req, state).await
}

/// The body's bytes, within the body limit and the body read timeout.
async fn bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let within = state.limits().body_read_timeout;
    let read = tokio::time::timeout(within, Bytes::from_request(req, state)).await;
    let Ok(read) = read else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the request body did not arrive within {} ms", within.as_millis()),
        ));
    };
    read.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the body is larger than the server accepts (64 KiB by default)",
            )
        } else {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        }
    })
}
