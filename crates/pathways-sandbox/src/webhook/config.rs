//! `[<simulator>.webhook]`: where a simulator sends its referral events and the secret it signs
//! them with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sign::SigningKey;

/// Where a simulator posts referral events, and how it signs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The daemon's event endpoint for this partner, e.g.
    /// `http://127.0.0.1:8080/v1/partners/foodbank-network/events`.
    pub url: String,
    /// Where events about referrals in one area (an ONS code) go instead of `url`: the
    /// housing and council simulators play one partner per authority, each with its own
    /// event endpoint.
    #[serde(default)]
    pub urls_by_area: BTreeMap<String, String>,
    /// The Standard Webhooks secret, `whsec_<base64 key>`. The sandbox is a test tool, so its
    /// secret may sit in its configuration; `secret_env` keeps it out.
    #[serde(default)]
    pub secret: Option<String>,
    /// The environment variable holding the secret instead.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Tries per event before it is given up (at least 1).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry, in milliseconds; doubled for each retry after it.
    #[serde(default = "default_retry_ms")]
    pub retry_ms: u64,
}

fn default_max_attempts() -> u32 {
    4
}

fn default_retry_ms() -> u64 {
    200
}

impl WebhookConfig {
    /// A webhook to `url` signed with `secret`, with the default retries.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            urls_by_area: BTreeMap::new(),
            secret: Some(secret.into()),
            secret_env: None,
            max_attempts: default_max_attempts(),
            retry_ms: default_retry_ms(),
        }
    }

    /// Checks what serde cannot; on error, the field and what is wrong.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        check_url(&self.url).map_err(|e| ("url", e))?;
        for (area, url) in &self.urls_by_area {
            check_url(url).map_err(|e| ("urls_by_area", format!("`{area}`: {e}")))?;
        }
        if self.max_attempts == 0 {
            return Err(("max_attempts", "must be at least 1".into()));
        }
        match (&self.secret, &self.secret_env) {
            (Some(secret), None) => {
                SigningKey::from_secret(secret).map(drop).map_err(|e| ("secret", e))
            }
            (None, Some(_)) => Ok(()),
            _ => Err(("secret", "set exactly one of `secret` and `secret_env`".into())),
        }
    }

    /// Where an event about a referral in `area` goes.
    pub(crate) fn url_for(&self, area: Option<&str>) -> &str {
        area.and_then(|area| self.urls_by_area.get(area)).unwrap_or(&self.url)
    }

    /// The signing key, reading `secret_env` now; on error, what is wrong and what to do.
    pub(crate) fn signing_key(&self) -> Result<SigningKey, String> {
        let secret = match (&self.secret, &self.secret_env) {
            (Some(secret), _) => secret.clone(),
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                format!("environment variable `{var}` (named by `secret_env`) is not set")
            })?,
            (None, None) => return Err("set `secret` or `secret_env`".into()),
        };
        SigningKey::from_secret(&secret)
    }
}

/// Whether `url` is an http(s) URL; if not, what is wrong.
fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a URL ({e})"))?;
    if matches!(parsed.scheme(), "http" | "https") {
        Ok(())
    } else {
        Err("must be an http:// or https:// URL".into())
    }
}
