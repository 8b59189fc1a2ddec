//! The one error type every partner call returns, and what the orchestrator may do about it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a partner call failed. The kind decides retries; the message is for the operator and
/// must not contain personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[error("{kind}: {message}")]
pub struct PartnerError {
    /// What kind of failure.
    #[serde(flatten)]
    pub kind: PartnerErrorKind,
    /// What happened, for the operator.
    pub message: String,
}

/// The words every [`PartnerErrorKind::PluginFault`] carries when the plugin host process of
/// a partner died during the call; see [`PartnerError::is_plugin_host_crash`].
pub const PLUGIN_HOST_DIED: &str = "the plugin host died";

/// What kind of failure, and so whether trying again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PartnerErrorKind {
    /// Try again later (connection refused, 5xx, 429); `retry_after_ms` when the partner said.
    Transient {
        /// How long the partner asked us to wait.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// Trying again will not help (the partner refused it for good).
    Permanent,
    /// The request was wrong: a bug on our side, or missing information.
    InvalidRequest,
    /// The partner rejected our credentials.
    Unauthorized,
    /// No answer in time.
    Timeout,
    /// The partner is switched off or unreachable by design (maintenance, not configured).
    Unavailable,
    /// The plugin itself failed: panicked, answered nonsense, or broke the ABI contract.
    PluginFault,
    /// The partner's system, or its connector, cannot do this at all (e.g. an Open311 council
    /// has no way to withdraw a service request): someone must tell the partner another way.
    NotSupported,
}

impl PartnerErrorKind {
    /// Whether the same call may succeed if repeated later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            PartnerErrorKind::Transient { .. }
                | PartnerErrorKind::Timeout
                | PartnerErrorKind::Unavailable
        )
    }
}

impl fmt::Display for PartnerErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartnerErrorKind::Transient { retry_after_ms: Some(ms) } => {
                write!(f, "transient (retry after {ms} ms)")
            }
            PartnerErrorKind::Transient { retry_after_ms: None } => f.write_str("transient"),
            PartnerErrorKind::Permanent => f.write_str("permanent"),
            PartnerErrorKind::InvalidRequest => f.write_str("invalid request"),
            PartnerErrorKind::Unauthorized => f.write_str("unauthorized"),
            PartnerErrorKind::Timeout => f.write_str("timeout"),
            PartnerErrorKind::Unavailable => f.write_str("unavailable"),
            PartnerErrorKind::PluginFault => f.write_str("plugin fault"),
            PartnerErrorKind::NotSupported => f.write_str("not supported"),
        }
    }
}

impl PartnerError {
    /// An error of `kind` with `message`.
    pub fn new(kind: PartnerErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A transient failure, optionally with the partner's `Retry-After`.
    pub fn transient(message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        Self::new(PartnerErrorKind::Transient { retry_after_ms }, message)
    }

    /// A permanent failure.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(PartnerErrorKind::Permanent, message)
    }

    /// A request the partner (or the connector) found wrong.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(PartnerErrorKind::InvalidRequest, message)
    }

    /// Whether this is the fault of a call whose plugin host process died while the call was
    /// in flight (`isolation = "process"`): the call may be what crashed it, so a referral
    /// whose sends keep crashing their host is failed instead of sent again and again.
    pub fn is_plugin_host_crash(&self) -> bool {
        self.kind == PartnerErrorKind::PluginFault && self.message.contains(PLUGIN_HOST_DIED)
    }

    /// A failure of the plugin itself.
    pub fn plugin_fault(message: impl Into<String>) -> Self {
        Self::new(PartnerErrorKind::PluginFault, message)
    }

    /// An operation the partner or its connector cannot do; say what to do instead.
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(PartnerErrorKind::NotSupported, message)
    }

    /// No answer in time.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(PartnerErrorKind::Timeout, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_flat_and_round_trips() {
        let err = PartnerError::transient("503 from partner", Some(2000));
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "transient", "retry_after_ms": 2000, "message": "503 from partner"})
        );
        assert_eq!(serde_json::from_value::<PartnerError>(json).unwrap(), err);
        assert!(err.kind.is_retryable());
        assert!(!PartnerErrorKind::Permanent.is_retryable());
    }
}
