//! `[email]`: the SMTP server notices are sent through (today: "a new referral is waiting"
//! to an inbox partner's `notify_email`). Without the section nothing is emailed.

use std::time::Duration;

use pathways_inbox::{EmailSettings, TlsMode};
use serde::Deserialize;

/// `[email]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSection {
    /// The SMTP server, e.g. `smtp.council.example`.
    pub smtp_host: String,
    /// Its port: 587 for STARTTLS (the default), 465 for `tls`, 25 for a local relay.
    #[serde(default = "default_port")]
    pub smtp_port: u16,
    /// The sender, e.g. `Pathways <pathways@council.example>`.
    pub from: String,
    /// `starttls` (the default), `tls` (TLS from the first byte), or `off` (plain SMTP, only
    /// to a relay on this machine: 127.0.0.1, ::1 or localhost).
    #[serde(default = "default_tls")]
    pub tls: TlsMode,
    /// The environment variable holding the SMTP user name (with `password_env`); none for a
    /// server that needs no sign-in.
    #[serde(default)]
    pub username_env: Option<String>,
    /// The environment variable holding the SMTP password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Longest one notice may take to send, in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_port() -> u16 {
    587
}

fn default_tls() -> TlsMode {
    TlsMode::Starttls
}

fn default_timeout() -> u64 {
    10_000
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

impl EmailSection {
    /// Checks what serde cannot; returns the field and the problem.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let at = |key: &str| format!("email.{key}");
        if self.smtp_host.trim().is_empty() {
            return Err((at("smtp_host"), "must name the SMTP server".into()));
        }
        if self.tls == TlsMode::Off && !is_loopback(&self.smtp_host) {
            return Err((
                at("tls"),
                format!(
                    "`off` sends in plain text, so it is only for a relay on this machine; \
                     use `starttls` or `tls` for `{}`",
                    self.smtp_host
                ),
            ));
        }
        if !self.from.contains('@') {
            return Err((
                at("from"),
                format!(
                    "`{}` is not a sender address, e.g. `Pathways <pathways@council.example>`",
                    self.from
                ),
            ));
        }
        if self.username_env.is_some() != self.password_env.is_some() {
            return Err((
                at(if self.username_env.is_some() { "password_env" } else { "username_env" }),
                "give both `username_env` and `password_env`, or neither".into(),
            ));
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err((at("timeout_ms"), "must be between 100 and 120000".into()));
        }
        Ok(())
    }

    /// The mailer's settings, with the credentials read from the environment; an unset
    /// variable is an error naming the field and the variable (never a value).
    pub fn to_settings(&self, console_url: &str) -> Result<EmailSettings, (String, String)> {
        let var = |field: &str, name: &str| {
            std::env::var(name).map_err(|_| {
                (format!("email.{field}"), format!("the variable `{name}` is not set"))
            })
        };
        let credentials = match (&self.username_env, &self.password_env) {
            (Some(user), Some(password)) => {
                Some((var("username_env", user)?, var("password_env", password)?))
            }
            _ => None,
        };
        Ok(EmailSettings {
            host: self.smtp_host.clone(),
            port: self.smtp_port,
            from: self.from.clone(),
            tls: self.tls,
            credentials,
            console_url: console_url.to_string(),
            timeout: Duration::from_millis(self.timeout_ms),
        })
    }
}
