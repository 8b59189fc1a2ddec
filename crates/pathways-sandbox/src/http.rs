//! HTTP pieces the simulators' routes share: the sandbox's own JSON error shape, strict JSON
//! bodies whose errors name the field at fault but never quote a value (serde's own messages
//! can quote them, and a value may be personal), the `Idempotency-Key` header, and the
//! bearer API key check.
//!
//! A partner whose published API has its own error shape (FHIR's OperationOutcome, GeoReport's
//! error list) keeps it in its folder; these are for the shapes that are ours.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

/// The header carrying a POST's idempotency key (lower case, as `HeaderMap` stores names).
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Longest `Idempotency-Key` the simulators accept.
const MAX_KEY_LEN: usize = 255;

/// The sandbox's error shape: `{"error": {"code": "...", "message": "..."}}`.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

/// The `404 not_found` answer for a route no simulator has.
pub(crate) async fn no_such_route() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// A request refused with 400 before any handling: its code and a message naming the field
/// or header at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest {
    code: &'static str,
    message: String,
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.code, self.message)
    }
}

/// Parses a strict JSON body; a body that does not fit is refused as `invalid_body` with a
/// message naming where and how it is wrong.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, BadRequest> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|err| BadRequest { code: "invalid_body", message: body_error_message(err) })
}

/// Where and how a body is wrong, naming fields but never quoting values.
pub(crate) fn body_error_message(err: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let text = inner.to_string();
    let what = if let Some(rest) = text.strip_prefix("unknown field ") {
        format!("unknown field {}", rest.split(',').next().unwrap_or(rest))
    } else if text.starts_with("missing field ") {
        text.split(" at line").next().unwrap_or(&text).to_string()
    } else if text.starts_with("unknown variant ") {
        "unknown code (see the API documentation for the allowed codes)".to_string()
    } else {
        match inner.classify() {
            serde_json::error::Category::Data => "wrong type or value".to_string(),
            _ => "not valid JSON".to_string(),
        }
    };
    if path.is_empty() || path == "." {
        what
    } else {
        format!("at `{path}`: {what}")
    }
}

/// The request's `Idempotency-Key`: `Ok(None)` when absent, `Err(())` when present but not 1
/// to 255 visible characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    match headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(key)) if !key.trim().is_empty() && key.len() <= MAX_KEY_LEN => Ok(Some(key)),
        Some(_) => Err(()),
    }
}

/// A required `Idempotency-Key`, or the `missing_idempotency_key` refusal.
pub(crate) fn required_idempotency_key(headers: &HeaderMap) -> Result<String, BadRequest> {
    match idempotency_key(headers) {
        Ok(Some(key)) => Ok(key.to_string()),
        _ => Err(BadRequest {
            code: "missing_idempotency_key",
            message: "header `Idempotency-Key` (1 to 255 visible characters) is required".into(),
        }),
    }
}

/// Whether the request carries `Authorization: Bearer <expected>`; always true when no key
/// is configured.
pub(crate) fn bearer_matches(headers: &HeaderMap, expected: Option<&str>) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    given.and_then(|v| v.strip_prefix("Bearer ")).is_some_and(|key| key == expected)
}

/// Middleware answering 401 `unauthorized` unless the request carries the configured bearer
/// key (`State` holds it; `None` lets everything through).
pub(crate) async fn require_api_key(
    State(expected): State<Option<String>>,
    request: Request,
    next: Next,
) -> Response {
    if !bearer_matches(request.headers(), expected.as_deref()) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong API key");
    }
    next.run(request).await
}
