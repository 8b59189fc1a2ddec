//! What a BaRS error answer means: already delivered, or which [`PartnerError`] kind.
//!
//! - A referral POST answered 409 with a `REC_CONFLICT` OperationOutcome, or any answer whose
//!   OperationOutcome has an issue of type `duplicate`, means the receiver already holds the
//!   message: delivered, never retried (DOMAIN.md). A 409 `REC_CONFLICT` of type `conflict`
//!   counts too: for a *new* referral it can only mean that the receiver already holds a
//!   ServiceRequest with this referral's identifier.
//! - Otherwise the status decides, as for every connector (`pathways_sdk::http`): 408, 429
//!   and 5xx transient (with `Retry-After`), 401/403 unauthorized, 400/422 invalid request,
//!   other 4xx permanent. BaRS adds one exception: 501 `REC_NOT_IMPLEMENTED` is permanent,
//!   since the receiver will not grow the feature by being asked again.
//! - The message names the path, the status, the BaRS error code and issue type, and the
//!   FHIRPath of the element at fault; never `diagnostics`, which may echo what was sent.

use pathways_sdk::http::status_error;
use pathways_sdk::{PartnerError, PartnerErrorKind};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::fhir::{OperationOutcome, Resource};

/// How a non-2xx answer to a referral POST is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The receiver already holds this message or referral.
    AlreadyDelivered,
    /// A failure to report.
    Failed(PartnerError),
}

/// Reads an error answer's body as an OperationOutcome, if it is one.
fn operation_outcome(body: &[u8]) -> Option<OperationOutcome> {
    match serde_json::from_slice::<Resource>(body) {
        Ok(Resource::OperationOutcome(outcome)) => Some(outcome),
        _ => None,
    }
}

/// What a non-2xx answer to a referral POST means.
pub(crate) fn refusal(status: StatusCode, headers: &HeaderMap, path: &str, body: &[u8]) -> Refusal {
    let outcome = operation_outcome(body);
    if let Some(outcome) = &outcome {
        let duplicate = outcome.issue.iter().any(|i| i.code == "duplicate");
        let conflict = status == StatusCode::CONFLICT
            && outcome.issue.iter().any(|i| bars_codes(i).any(|c| c == "REC_CONFLICT"));
        if duplicate || conflict {
            return Refusal::AlreadyDelivered;
        }
    }
    Refusal::Failed(error(status, headers, path, outcome.as_ref()))
}

/// The error a non-2xx answer means (for any request).
pub(crate) fn answer_error(
    status: StatusCode,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> PartnerError {
    error(status, headers, path, operation_outcome(body).as_ref())
}

fn error(
    status: StatusCode,
    headers: &HeaderMap,
    path: &str,
    outcome: Option<&OperationOutcome>,
) -> PartnerError {
    let mut err = status_error(status, headers, path).unwrap_or_else(|| {
        PartnerError::permanent(format!("partner answered {} at `{path}`", status.as_u16()))
    });
    if status == StatusCode::NOT_IMPLEMENTED {
        err.kind = PartnerErrorKind::Permanent;
    }
    if let Some(issue) = outcome.and_then(|o| o.issue.first()) {
        let code = bars_codes(issue).next().unwrap_or("no BaRS code");
        let mut detail = format!(" ({code}, issue `{}`", safe_token(&issue.code));
        if let Some(at) = issue.expression.first() {
            detail.push_str(&format!(" at `{}`", safe_token(at)));
        }
        detail.push(')');
        err.message.push_str(&detail);
    }
    err
}

/// The BaRS error codes of an issue (`details.coding[].code`).
fn bars_codes(issue: &crate::fhir::OutcomeIssue) -> impl Iterator<Item = &str> {
    issue.details.iter().flat_map(|d| &d.coding).filter_map(|c| c.code.as_deref())
}

/// A code or a plain FHIRPath (`Patient.name`, `Bundle.entry[2].resource`) as the partner gave
/// it; anything else (a `where(...)` clause can quote a value) is not repeated.
fn safe_token(text: &str) -> String {
    let plain = !text.is_empty()
        && text.len() <= 120
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.[]".contains(c));
    if plain {
        text.to_string()
    } else {
        "?".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: &str, bars: &str) -> Vec<u8> {
        serde_json::json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error",
            "code": code, "details": {"coding": [{"code": bars}]},
            "diagnostics": "Patient Jane Secret, 07700 900123", "expression": ["Patient.name"]}]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn duplicates_and_rec_conflict_are_delivered_whatever_else() {
        let headers = HeaderMap::new();
        for (status, code, bars) in [
            (409, "duplicate", "REC_CONFLICT"),
            (409, "conflict", "REC_CONFLICT"),
            (422, "duplicate", "REC_UNPROCESSABLE_ENTITY"),
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            let got = refusal(status, &headers, "/$process-message", &outcome(code, bars));
            assert_eq!(got, Refusal::AlreadyDelivered, "{status} {code}");
        }
        let bare = refusal(StatusCode::CONFLICT, &headers, "/p", b"not json");
        assert!(matches!(bare, Refusal::Failed(e) if e.kind == PartnerErrorKind::Permanent));
    }

    #[test]
    fn errors_name_the_code_and_element_but_never_the_diagnostics() {
        let err = answer_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            "/$process-message",
            &outcome("required", "REC_BAD_REQUEST"),
        );
        assert_eq!(err.kind, PartnerErrorKind::InvalidRequest);
        for expected in
            ["400", "/$process-message", "REC_BAD_REQUEST", "`required`", "Patient.name"]
        {
            assert!(err.message.contains(expected), "{expected}: {}", err.message);
        }
        assert!(!err.message.contains("Jane") && !err.message.contains("07700"), "{}", err.message);
        assert_eq!(safe_token("Patient.name.where(text='Jane')"), "?");
        let not_implemented =
            answer_error(StatusCode::NOT_IMPLEMENTED, &HeaderMap::new(), "/p", b"");
        assert_eq!(not_implemented.kind, PartnerErrorKind::Permanent);
    }
}
