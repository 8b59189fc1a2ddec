//! BaRS error answers: FHIR `OperationOutcome`s shaped like the published BaRS examples
//! (`standards/bars/OperationOutcome`), and the FHIR JSON response helper every route uses.
//!
//! Each error carries the FHIR issue type (`code`), the BaRS error code in `details.coding`
//! (system `https://fhir.nhs.uk/Codesystem/http-error-codes`, e.g. `REC_CONFLICT`), a
//! `diagnostics` sentence and, where one field is at fault, its FHIRPath in `expression`.
//! Diagnostics name fields, never values: a value may be personal.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// The code system of BaRS HTTP error codes.
pub(crate) const HTTP_ERROR_CODES: &str = "https://fhir.nhs.uk/Codesystem/http-error-codes";

/// FHIR's JSON media type, sent on every answer of the simulator's FHIR API.
pub(crate) const FHIR_JSON: &str = "application/fhir+json";

/// A FHIR resource as an HTTP answer with the FHIR JSON media type.
pub(crate) fn fhir_json(status: StatusCode, resource: &Value) -> Response {
    let mut response = (status, axum::Json(resource)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

/// One BaRS error: the HTTP status and one OperationOutcome issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub status: StatusCode,
    /// FHIR `IssueType`, e.g. `required`, `duplicate`.
    pub issue: &'static str,
    /// BaRS error code, e.g. `REC_BAD_REQUEST`.
    pub bars_code: &'static str,
    pub diagnostics: String,
    /// FHIRPath of the offending element.
    pub expression: Option<String>,
}

impl Problem {
    fn new(
        status: StatusCode,
        issue: &'static str,
        bars_code: &'static str,
        diagnostics: impl Into<String>,
    ) -> Self {
        Self { status, issue, bars_code, diagnostics: diagnostics.into(), expression: None }
    }

    /// The same problem, pointing at `expression`.
    pub(crate) fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression = Some(expression.into());
        self
    }

    /// 400 `REC_BAD_REQUEST` with the issue type that says what is wrong (`structure`,
    /// `required`, `value`, `invariant`, `invalid`).
    pub(crate) fn bad_request(issue: &'static str, diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, issue, "REC_BAD_REQUEST", diagnostics)
    }

    /// 400 `SEND_BAD_REQUEST`: a BaRS header is missing or not a UUID.
    pub(crate) fn bad_headers(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", "SEND_BAD_REQUEST", diagnostics)
    }

    /// 400 `PROXY_BAD_REQUEST`: the NHSD-Target-Identifier header is not base64 (the
    /// published example uses the code `"400"`, which is not a FHIR issue type; `invalid` is).
    pub(crate) fn target_not_base64() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "PROXY_BAD_REQUEST",
            "The base64 decoding of the NHSD-Target-Identifier header failed.",
        )
    }

    /// 400 `PROXY_BAD_REQUEST`: the decoded target is not `{"system": ..., "value": ...}`.
    pub(crate) fn target_malformed() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "structure",
            "PROXY_BAD_REQUEST",
            "Invalid schema for NHSD-Target-Identifier header",
        )
    }

    /// 404 `PROXY_NOT_FOUND`: no service has the target identifier.
    pub(crate) fn target_unknown() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "PROXY_NOT_FOUND",
            "The target endpoint does not exist in the Endpoint Catalogue.",
        )
    }

    /// 422 `REC_UNPROCESSABLE_ENTITY` / `not-supported`: well formed, but not something this
    /// receiver does.
    pub(crate) fn not_supported(diagnostics: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not-supported",
            "REC_UNPROCESSABLE_ENTITY",
            diagnostics,
        )
    }

    /// 409 `REC_CONFLICT` / `duplicate`: this message (or this referral) was already processed.
    pub(crate) fn duplicate() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "duplicate",
            "REC_CONFLICT",
            "the message has been identified as having already been processed.",
        )
    }

    /// 409 `REC_CONFLICT` / `conflict`: the message would change a referral that has moved on.
    pub(crate) fn conflict(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "REC_CONFLICT", diagnostics)
    }

    /// 404 `REC_NOT_FOUND`.
    pub(crate) fn not_found(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "REC_NOT_FOUND", diagnostics)
    }

    /// 401 `SEND_UNAUTHORIZED`.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "security",
            "SEND_UNAUTHORIZED",
            "The user or system was not able to be authenticated: missing or wrong bearer token.",
        )
    }

    /// The problem an error status means when nothing more specific was said: used for
    /// answers the simulator did not write itself (injected faults, the router's own 404,
    /// 405 and 413), so that every answer of the FHIR API is an OperationOutcome.
    pub(crate) fn for_status(status: StatusCode) -> Self {
        let (issue, bars_code, diagnostics) = match status.as_u16() {
            400 => ("invalid", "REC_BAD_REQUEST", "the request could not be read"),
            401 => return Self::unauthorized(),
            404 => ("not-found", "NOT_FOUND", "Endpoint on the API does not exist."),
            405 => (
                "not-supported",
                "SEND_METHOD_NOT_ALLOWED",
                "using the wrong http verb. ie GET instead of POST",
            ),
            413 => {
                ("too-long", "REC_BAD_REQUEST", "the message is larger than the receiver accepts")
            }
            415 => ("not-supported", "REC_BAD_REQUEST", "send application/fhir+json"),
            429 => ("throttled", "SEND_TOO_MANY_REQUESTS", "when rate limiting is applied."),
            503 => (
                "transient",
                "REC_SERVICE_UNAVAILABLE",
                "The service is unavailable but is able to respond as such.",
            ),
            500..=599 => ("exception", "REC_SERVER_ERROR", "unhandled exception."),
            _ => ("processing", "REC_BAD_REQUEST", "the request could not be processed"),
        };
        Self::new(status, issue, bars_code, diagnostics)
    }

    /// The OperationOutcome resource.
    pub(crate) fn resource(&self) -> Value {
        let mut issue = json!({
            "severity": "error",
            "code": self.issue,
            "details": {"coding": [{"system": HTTP_ERROR_CODES, "code": self.bars_code}]},
            "diagnostics": self.diagnostics,
        });
        if let Some(expression) = &self.expression {
            issue["expression"] = json!([expression]);
        }
        json!({"resourceType": "OperationOutcome", "issue": [issue]})
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        fhir_json(self.status, &self.resource())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_has_the_published_shape() {
        let published: Value = serde_json::from_str(include_str!(
            "../../standards/bars/OperationOutcome/REC/409-REC_CONFLICT-duplicate.json"
        ))
        .unwrap();
        let ours = Problem::duplicate().resource();
        for path in ["/issue/0/severity", "/issue/0/code", "/issue/0/details/coding/0/code"] {
            assert_eq!(ours.pointer(path), published.pointer(path), "{path}");
        }
        assert_eq!(Problem::duplicate().status, StatusCode::CONFLICT);
    }

    #[test]
    fn fallback_statuses_keep_their_status_and_a_fhir_issue_type() {
        for status in [400u16, 401, 404, 405, 413, 429, 500, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            let problem = Problem::for_status(status);
            assert_eq!(problem.status, status);
            assert!(!problem.issue.chars().any(|c| c.is_ascii_digit()), "{status}");
        }
    }
}
