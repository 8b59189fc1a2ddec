//! The console's settings (`[console]` in the configuration; CONTRACT.md, "Configuration").

use std::time::Duration;

/// How the console signs people in and keeps them signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The address people reach the console at, e.g. `https://pathways.example.gov.uk`: the
    /// one-time links to set a password start with it.
    pub public_url: String,
    /// Cookies are `Secure` (sent over HTTPS only). Off only for plain HTTP on loopback
    /// (`cargo demo`, tests); the configuration refuses it off for any other address.
    pub secure_cookies: bool,
    /// A session unused this long ends (default 30 minutes).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not (default 12 hours).
    pub absolute_timeout: Duration,
    /// Failed sign-ins to one account before it is locked (default 5).
    pub lock_after: u32,
    /// How long a locked account stays locked (default 15 minutes).
    pub lock_for: Duration,
    /// Sign-in attempts from one address within [`Self::address_window`] (default 20).
    pub address_attempts: u32,
    /// The window the address limit counts in (default 15 minutes).
    pub address_window: Duration,
    /// How long a link to set a password stays valid (default 72 hours).
    pub setup_link_valid: Duration,
    /// Single sign-on, when configured.
    pub oidc: Option<OidcSettings>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            secure_cookies: true,
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
            lock_after: 5,
            lock_for: Duration::from_secs(15 * 60),
            address_attempts: 20,
            address_window: Duration::from_secs(15 * 60),
            setup_link_valid: Duration::from_secs(72 * 60 * 60),
            oidc: None,
        }
    }
}

/// OpenID Connect single sign-on (`[console.oidc]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`.
    pub issuer: String,
    /// The client id registered with the issuer.
    pub client_id: String,
    /// The client secret, read from the environment variable the configuration names.
    pub client_secret: String,
    /// The claim naming the person's organisation.
    pub organisation_claim: String,
    /// The claim naming the person's role.
    pub role_claim: String,
}
