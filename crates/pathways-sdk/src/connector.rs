//! What every HTTP connector's settings and health check have in common (feature `http`).
//!
//! Each connector keeps its own flat `Settings` struct with `deny_unknown_fields`, so a
//! misspelt key is refused by name (serde cannot combine that with `flatten`). What the
//! structs share is behaviour, not fields: the request deadlines with their defaults and
//! checks, reading the API key from the environment variable the settings name, building
//! [`HttpOptions`] from them, and a health check that times one probe of the partner. A
//! connector implements [`HttpSettings`]'s three accessors (or lets
//! [`http_settings!`](crate::http_settings) do it) and gets the rest.
//!
//! ```
//! use pathways_sdk::connector::{default_connect_timeout_ms, default_timeout_ms, HttpSettings};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Settings {
//!     base_url: String,
//!     #[serde(default)]
//!     api_key_env: Option<String>,
//!     #[serde(default = "default_timeout_ms")]
//!     timeout_ms: u64,
//!     #[serde(default = "default_connect_timeout_ms")]
//!     connect_timeout_ms: u64,
//! }
//!
//! impl HttpSettings for Settings {
//!     const API_KEY_HOLDS: &'static str = "the example API key";
//!     fn api_key_env(&self) -> Option<&str> { self.api_key_env.as_deref() }
//!     fn timeout_ms(&self) -> u64 { self.timeout_ms }
//!     fn connect_timeout_ms(&self) -> u64 { self.connect_timeout_ms }
//! }
//!
//! let settings: Settings = serde_json::from_str(r#"{"base_url": "http://127.0.0.1:1"}"#).unwrap();
//! assert!(settings.validate_timeouts().is_ok());
//! assert_eq!(settings.api_key(), Ok(None));
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use crate::http::HttpOptions;
use crate::{Health, HealthStatus, PartnerError};

/// Default deadline for one request, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 1500;

/// Default deadline for opening a connection, in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 500;

/// [`DEFAULT_TIMEOUT_MS`], for `#[serde(default = "...")]`.
pub fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// [`DEFAULT_CONNECT_TIMEOUT_MS`], for `#[serde(default = "...")]`.
pub fn default_connect_timeout_ms() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_MS
}

/// The settings every HTTP connector has: an API key named by an environment variable and
/// the two request deadlines.
pub trait HttpSettings {
    /// What the environment variable holds, for the error when it is unset, e.g. `the
    /// e-voucher API key`.
    const API_KEY_HOLDS: &'static str;

    /// The `api_key_env` setting: the name of the environment variable holding the key.
    fn api_key_env(&self) -> Option<&str>;

    /// The `timeout_ms` setting: deadline for one request, including reading its answer.
    fn timeout_ms(&self) -> u64;

    /// The `connect_timeout_ms` setting: deadline for opening a connection.
    fn connect_timeout_ms(&self) -> u64;

    /// Checks both deadlines are at least 1 ms; the error names the setting.
    fn validate_timeouts(&self) -> Result<(), String> {
        for (key, value) in
            [("timeout_ms", self.timeout_ms()), ("connect_timeout_ms", self.connect_timeout_ms())]
        {
            if value == 0 {
                return Err(format!("settings key `{key}`: must be at least 1"));
            }
        }
        Ok(())
    }

    /// The API key from the environment variable named by `api_key_env`, if any.
    fn api_key(&self) -> Result<Option<String>, String> {
        read_api_key(self.api_key_env(), Self::API_KEY_HOLDS)
    }

    /// HTTP client options with these deadlines and `user_agent`.
    fn http_options(&self, user_agent: &str) -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_millis(self.timeout_ms()),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms()),
            ..HttpOptions::new(user_agent)
        }
    }
}

/// Implements [`HttpSettings`] for a settings struct with the usual fields `api_key_env:
/// Option<String>`, `timeout_ms: u64` and `connect_timeout_ms: u64`; the second argument is
/// what the key's environment variable holds, e.g. `"the e-voucher API key"`.
#[macro_export]
macro_rules! http_settings {
    ($settings:ty, $holds:expr) => {
        impl $crate::connector::HttpSettings for $settings {
            const API_KEY_HOLDS: &'static str = $holds;

            fn api_key_env(&self) -> Option<&str> {
                self.api_key_env.as_deref()
            }

            fn timeout_ms(&self) -> u64 {
                self.timeout_ms
            }

            fn connect_timeout_ms(&self) -> u64 {
                self.connect_timeout_ms
            }
        }
    };
}

/// Reads the secret in the environment variable `env` names (`None`: no key configured). An
/// unset or empty variable is an error naming the variable and what it should hold
/// (`holds`), never a silent request without a key.
pub fn read_api_key(env: Option<&str>, holds: &str) -> Result<Option<String>, String> {
    let Some(name) = env else {
        return Ok(None);
    };
    match std::env::var(name) {
        Ok(key) if !key.trim().is_empty() => Ok(Some(key)),
        Ok(_) => Err(format!("settings key `api_key_env`: environment variable `{name}` is empty")),
        Err(_) => Err(format!(
            "settings key `api_key_env`: environment variable `{name}` is not set (it should hold {holds})"
        )),
    }
}

/// Times `probe` (one cheap call to the partner) and reports health: a failure is the error,
/// an answer slower than half of `timeout_ms` is `degraded` (working, but calls are at risk
/// of timing out), otherwise `ok`. The detail reads "`answered` answered in N ms".
pub async fn timed_health<T>(
    timeout_ms: u64,
    answered: &str,
    probe: impl Future<Output = Result<T, PartnerError>>,
) -> Result<Health, PartnerError> {
    let started = Instant::now();
    probe.await?;
    let elapsed_ms = started.elapsed().as_millis();
    let status = if elapsed_ms * 2 > u128::from(timeout_ms) {
        HealthStatus::Degraded
    } else {
        HealthStatus::Ok
    };
    Ok(Health { status, detail: Some(format!("{answered} answered in {elapsed_ms} ms")) })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Option<&'static str>, u64, u64);

    impl HttpSettings for Fixed {
        const API_KEY_HOLDS: &'static str = "the test key";
        fn api_key_env(&self) -> Option<&str> {
            self.0
        }
        fn timeout_ms(&self) -> u64 {
            self.1
        }
        fn connect_timeout_ms(&self) -> u64 {
            self.2
        }
    }

    #[test]
    fn zero_deadlines_are_refused_by_name() {
        assert_eq!(
            Fixed(None, 0, 1).validate_timeouts().unwrap_err(),
            "settings key `timeout_ms`: must be at least 1"
        );
        assert_eq!(
            Fixed(None, 1, 0).validate_timeouts().unwrap_err(),
            "settings key `connect_timeout_ms`: must be at least 1"
        );
        let options = Fixed(None, 1200, 300).http_options("ua/1");
        assert_eq!(options.timeout, Duration::from_millis(1200));
        assert_eq!(options.connect_timeout, Duration::from_millis(300));
        assert_eq!(options.user_agent, "ua/1");
    }

    #[test]
    fn an_unset_key_variable_names_the_variable_and_what_it_holds() {
        let err = Fixed(Some("PATHWAYS_SDK_TEST_SURELY_UNSET"), 1, 1).api_key().unwrap_err();
        assert!(err.contains("`PATHWAYS_SDK_TEST_SURELY_UNSET` is not set"), "{err}");
        assert!(err.contains("the test key"), "{err}");
        assert_eq!(Fixed(None, 1, 1).api_key(), Ok(None));
    }
}
