//! The BaRS request headers of `$process-message`, checked the way the BaRS proxy checks them:
//! `X-Request-ID` and `X-Correlation-ID` must be UUIDs, and `NHSD-Target-Identifier` must be
//! base64 of `{"system": "...", "value": "..."}` naming a service the directory knows.

use axum::http::HeaderMap;
use serde::Deserialize;

use super::data::{self, ServiceSeed};
use super::outcome::Problem;

/// Identifier system of the Directory of Services ids that target identifiers use.
pub(crate) const DOS_SERVICE_ID: &str = "http://fhir.nhs.uk/Id/dos-service-id";

/// What the headers of one message say.
#[derive(Debug, Clone)]
pub(crate) struct MessageHeaders {
    /// `X-Request-ID`, lower-cased: new per message, reused on a retry of the same message.
    pub request_id: String,
    /// The service the message is for.
    pub target: &'static ServiceSeed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetIdentifier {
    system: String,
    value: String,
}

/// Reads and checks the three BaRS headers.
pub(crate) fn read(headers: &HeaderMap) -> Result<MessageHeaders, Problem> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let request_id = text("x-request-id");
    let correlation_id = text("x-correlation-id");
    let target = text("nhsd-target-identifier");
    let (Some(request_id), Some(correlation_id), Some(target)) =
        (request_id, correlation_id, target)
    else {
        return Err(Problem::bad_headers(
            "The X-Request-Id or the X-Correlation-Id was not included Or the NHSD-Target-Identifier was not included.",
        ));
    };
    if !is_uuid(request_id) {
        return Err(Problem::bad_headers("X-Request-ID must be a UUID").at("X-Request-ID"));
    }
    if !is_uuid(correlation_id) {
        return Err(Problem::bad_headers("X-Correlation-ID must be a UUID").at("X-Correlation-ID"));
    }
    let decoded = decode_base64(target).ok_or_else(Problem::target_not_base64)?;
    let target: TargetIdentifier =
        serde_json::from_slice(&decoded).map_err(|_| Problem::target_malformed())?;
    if target.system != DOS_SERVICE_ID {
        return Err(Problem::target_unknown());
    }
    let service =
        data::by_dos_id(&target.value).filter(|s| s.active).ok_or_else(Problem::target_unknown)?;
    Ok(MessageHeaders { request_id: request_id.to_ascii_lowercase(), target: service })
}

/// Whether `text` is a UUID in its hyphenated form (any version, any case).
pub(crate) fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Decodes standard base64 (RFC 4648 §4), padding optional; `None` if it is not base64.
/// Written out here because the sandbox needs nothing else from a base64 crate.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 || trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.as_bytes().chunks(4) {
        let mut word = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            word |= sextet(*c)? << (18 - 6 * i);
        }
        let bytes = word.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding_and_refuses_junk() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("").unwrap(), b"");
        for junk in ["a", "aGVsbG8===", "a*Zk", "not base64!"] {
            assert!(decode_base64(junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn uuids_are_recognised() {
        assert!(is_uuid("c5957fdd-097b-409d-a406-49c52ceef2cd"));
        assert!(is_uuid("C5957FDD-097B-409D-A406-49C52CEEF2CD"));
        assert!(!is_uuid("c5957fdd097b409da40649c52ceef2cd"));
        assert!(!is_uuid("CAKC-000123"));
    }
}
