//! `[console]`: the web console served beside the API, and how it signs people in.

use std::time::Duration;

use pathways_console::ConsoleSettings;
use serde::Deserialize;

/// `[console]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSection {
    /// Whether the daemon serves the console at `/` (the API stays under `/v1`).
    pub enabled: bool,
    /// The address people reach the console at, e.g. `https://pathways.example.gov.uk`:
    /// `pathways users add` prints links that start with it. Defaults to `http://` and
    /// `server.listen`.
    pub public_url: Option<String>,
    /// Whether cookies are sent over HTTPS only (`Secure`, and the `__Host-` prefix). Turn it
    /// off only to serve plain HTTP on a loopback address (a demo, a test); the daemon refuses
    /// it off on any other address.
    pub secure_cookies: bool,
    /// Minutes without use after which a session ends; 1 to 720.
    pub idle_timeout_mins: u64,
    /// Hours after sign-in after which a session ends, used or not; 1 to 24.
    pub absolute_timeout_hours: u64,
    /// Failed sign-ins before an account is locked; 1 to 100.
    pub lock_after: u32,
    /// Minutes a locked account stays locked; 1 to 1440.
    pub lock_minutes: u64,
    /// Sign-in attempts allowed from one address per `address_window_mins`; 1 to 10000.
    pub address_attempts: u32,
    /// The window of `address_attempts`, in minutes; 1 to 1440.
    pub address_window_mins: u64,
    /// Hours a link to set a password stays valid; 1 to 336.
    pub setup_link_hours: u64,
    /// Single sign-on with OpenID Connect, when the council uses it.
    pub oidc: Option<OidcSection>,
}

/// `[console.oidc]`: single sign-on with an OpenID Connect provider (Microsoft Entra ID and
/// the like), by the authorisation code flow with PKCE. Register
/// `<public_url>/sign-in/oidc/callback` as the redirect URI with the provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSection {
    /// The issuer, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`; its
    /// `/.well-known/openid-configuration` is read at the first sign-in.
    pub issuer: String,
    /// The client id registered with the provider.
    pub client_id: String,
    /// The environment variable that holds the client secret (never the secret itself).
    pub client_secret_env: String,
    /// The ID token claim naming the person's organisation id.
    #[serde(default = "default_organisation_claim")]
    pub organisation_claim: String,
    /// The ID token claim naming their role (a string, or a list whose first known role is
    /// taken): pathfinder, coordinator, admin or partner.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
}

fn default_organisation_claim() -> String {
    "organisation".into()
}

fn default_role_claim() -> String {
    "roles".into()
}

impl Default for ConsoleSection {
    fn default() -> Self {
        Self {
            enabled: true,
            public_url: None,
            secure_cookies: true,
            idle_timeout_mins: 30,
            absolute_timeout_hours: 12,
            lock_after: 5,
            lock_minutes: 15,
            address_attempts: 20,
            address_window_mins: 15,
            setup_link_hours: 72,
            oidc: None,
        }
    }
}

impl ConsoleSection {
    /// The single sign-on settings with the client secret read from its environment variable;
    /// `Err((field, problem))` when the variable is not set.
    pub fn oidc_settings(
        &self,
    ) -> Result<Option<pathways_console::OidcSettings>, (String, String)> {
        let Some(oidc) = &self.oidc else { return Ok(None) };
        let secret = std::env::var(&oidc.client_secret_env).ok().filter(|s| !s.is_empty());
        let Some(client_secret) = secret else {
            return Err((
                "console.oidc.client_secret_env".into(),
                format!("the environment variable `{}` is not set", oidc.client_secret_env),
            ));
        };
        Ok(Some(pathways_console::OidcSettings {
            issuer: oidc.issuer.clone(),
            client_id: oidc.client_id.clone(),
            client_secret,
            organisation_claim: oidc.organisation_claim.clone(),
            role_claim: oidc.role_claim.clone(),
        }))
    }

    /// The console's settings, for a daemon listening on `listen`.
    pub fn to_settings(&self, listen: std::net::SocketAddr) -> ConsoleSettings {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        ConsoleSettings {
            public_url: self.public_url.clone().unwrap_or_else(|| {
                let scheme = if self.secure_cookies { "https" } else { "http" };
                format!("{scheme}://{listen}")
            }),
            secure_cookies: self.secure_cookies,
            idle_timeout: minutes(self.idle_timeout_mins),
            absolute_timeout: minutes(self.absolute_timeout_hours * 60),
            lock_after: self.lock_after,
            lock_for: minutes(self.lock_minutes),
            address_attempts: self.address_attempts,
            address_window: minutes(self.address_window_mins),
            setup_link_valid: minutes(self.setup_link_hours * 60),
            oidc: None,
        }
    }

    /// Checks what serde cannot; returns the field and the problem.
    pub(super) fn validate(&self, listen: std::net::SocketAddr) -> Result<(), (String, String)> {
        let ranges: [(&str, u64, u64, u64); 7] = [
            ("idle_timeout_mins", self.idle_timeout_mins, 1, 720),
            ("absolute_timeout_hours", self.absolute_timeout_hours, 1, 24),
            ("lock_after", u64::from(self.lock_after), 1, 100),
            ("lock_minutes", self.lock_minutes, 1, 1440),
            ("address_attempts", u64::from(self.address_attempts), 1, 10_000),
            ("address_window_mins", self.address_window_mins, 1, 1440),
            ("setup_link_hours", self.setup_link_hours, 1, 336),
        ];
        for (field, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err((
                    format!("console.{field}"),
                    format!("{value} is out of range ({min} to {max})"),
                ));
            }
        }
        if !self.secure_cookies && !listen.ip().is_loopback() {
            return Err((
                "console.secure_cookies".into(),
                format!(
                    "may be false only when `server.listen` is a loopback address, not {listen}: \
                     people's sessions must not travel over plain HTTP (put the daemon behind \
                     HTTPS and leave this true)"
                ),
            ));
        }
        if let Some(oidc) = &self.oidc {
            if !(oidc.issuer.starts_with("https://") || oidc.issuer.starts_with("http://127.0.0.1"))
            {
                return Err((
                    "console.oidc.issuer".into(),
                    format!("`{}` must be an https:// address", oidc.issuer),
                ));
            }
            for (field, value) in [
                ("client_id", &oidc.client_id),
                ("client_secret_env", &oidc.client_secret_env),
                ("organisation_claim", &oidc.organisation_claim),
                ("role_claim", &oidc.role_claim),
            ] {
                if value.trim().is_empty() {
                    return Err((format!("console.oidc.{field}"), "must not be empty".into()));
                }
            }
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err((
                    "console.public_url".into(),
                    format!("`{url}` must start with https://"),
                ));
            }
        }
        Ok(())
    }
}
