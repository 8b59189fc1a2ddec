//! The one error shape of the API, `{"error": {"code": "…", "message": "…"}}`, and the typed
//! errors of the library itself.
//!
//! Every failure a client can meet goes through [`ApiError`], including axum's own rejections
//! and what the tower layers answer (see `layers::json_errors`), so no client ever sees a
//! plain-text error or an empty body. Messages never quote stored personal data; a 400 may
//! quote what the caller itself sent, which is theirs already.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pathways_store::AuditOutcome;
use serde::Serialize;

/// An error answered to an API client: a status, a stable code and a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code, e.g. `invalid_case`.
    pub code: &'static str,
    /// What was wrong and what to do, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// 400: the request cannot be read.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404, the same for a missing case and one the caller may not see.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no {what} with this id"))
    }

    /// 500 for a failure of ours; the detail goes to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            AuditOutcome::Internal.as_str(),
            "the server failed; the request id in the `x-request-id` header finds it in the log",
        )
    }

    /// The answer to a store failure, logged with its reason (store errors never quote stored
    /// values): a stored value that cannot be opened or read (a missing data key, an altered
    /// row) is a 500 naming the record, since retrying will not help; anything else is the
    /// database being unreachable, a 503.
    pub fn from_store(error: pathways_store::StoreError) -> Self {
        use pathways_store::StoreError;
        tracing::error!(error = %error, "store failed");
        match error {
            StoreError::Sealed { what, id, .. } | StoreError::Corrupt { what, id, .. } => {
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    AuditOutcome::StoredDataUnreadable.as_str(),
                    format!(
                        "the stored {what} `{id}` cannot be read (a missing data key or an \
                         altered record); the operator has the details in the log"
                    ),
                )
            }
            _ => Self::unavailable("storage is not available; retry shortly"),
        }
    }

    /// 503 for a dependency that is down (the store).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, AuditOutcome::Unavailable.as_str(), message)
    }

    /// The audit outcome of a request that ended in this error: the outcome spelt as its code.
    /// The codes of errors that are audited this way are taken from the audit vocabulary where
    /// they are made, so this finds one; a code outside it is a bug, logged and recorded as
    /// `internal` rather than lost.
    pub fn audit_outcome(&self) -> AuditOutcome {
        self.code.parse().unwrap_or_else(|_| {
            tracing::error!(code = self.code, "an error code outside the audit vocabulary");
            AuditOutcome::Internal
        })
    }

    /// The default error for a status that some layer produced without a body.
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status.as_u16() {
            400 => ("bad_request", "the request cannot be read"),
            401 => ("unauthorized", "a valid `Authorization: Bearer <key>` header is required"),
            403 => ("forbidden", "this key's role may not do this"),
            404 => ("not_found", "no such route"),
            405 => ("method_not_allowed", "this route does not accept this method"),
            408 => ("timeout", "the request took too long"),
            413 => ("too_large", "the request body is larger than the server accepts"),
            415 => ("unsupported_media_type", "send `Content-Type: application/json`"),
            429 => ("overloaded", "too many requests in flight; retry shortly"),
            503 => ("unavailable", "the service is not available now; retry shortly"),
            _ if status.is_server_error() => ("internal", "the server failed"),
            _ => ("error", "the request failed"),
        };
        Self::new(status, code, message)
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// The body every error is answered with: `{"error": {"code": "…", "message": "…"}}`.
    pub(crate) fn json_body(&self) -> Vec<u8> {
        serde_json::to_vec(&Envelope { error: Body { code: self.code, message: &self.message } })
            .unwrap_or_else(|_| b"{\"error\":{\"code\":\"internal\",\"message\":\"\"}}".to_vec())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.json_body();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Why the daemon could not start or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (is another process using it? see `server.listen`)"
    )]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why not.
        source: std::io::Error,
    },
    /// Accepting connections failed in a way that will not pass.
    #[error("the listener failed: {0}")]
    Listener(std::io::Error),
    /// An API key entry cannot be used.
    #[error("api key `{id}`: {problem}")]
    BadKey {
        /// The key's id.
        id: String,
        /// What is wrong.
        problem: String,
    },
    /// An in-process request ([`Daemon::request`](crate::Daemon::request)) could not be built
    /// or its answer read.
    #[error("in-process request: {0}")]
    Request(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use pathways_store::StoreError;

    #[test]
    fn an_audited_error_is_recorded_under_its_code_and_an_unknown_code_as_internal() {
        let unreadable =
            StoreError::Corrupt { what: "case", id: "c1".into(), problem: "bad".into() };
        let down = StoreError::Database {
            backend: "SQLite",
            operation: "reading a case",
            code: None,
            message: "locked".into(),
        };
        for (error, outcome) in [
            (ApiError::from_store(unreadable), AuditOutcome::StoredDataUnreadable),
            (ApiError::from_store(down), AuditOutcome::Unavailable),
            (ApiError::internal(), AuditOutcome::Internal),
            (ApiError::new(StatusCode::CONFLICT, "no_plan", "no plan"), AuditOutcome::NoPlan),
            (ApiError::new(StatusCode::CONFLICT, "made_up", "?"), AuditOutcome::Internal),
        ] {
            assert_eq!(error.audit_outcome(), outcome, "{error:?}");
        }
    }
}
