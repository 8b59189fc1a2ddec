//! Email notices: "a new referral is waiting for you", sent by SMTP (`[email]` in the
//! configuration) to an inbox partner's `notify_email`. A notice carries no personal data,
//! only a link to the console, where the partner's staff sign in to read the referral.
//!
//! Sending is best effort: it never delays or fails the referral, and a failure is logged
//! with the partner's id and the kind of failure, never the address.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain SMTP: only to a relay on this machine (the configuration refuses it elsewhere).
    Off,
    /// Plain, upgraded with STARTTLS before anything is sent (port 587); required.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where and how notices are sent (`[email]`).
#[derive(Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// The SMTP server's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The sender, e.g. `Pathways <pathways@council.example>`.
    pub from: String,
    /// How the connection is protected.
    pub tls: TlsMode,
    /// User name and password, read from the environment variables the configuration names.
    pub credentials: Option<(String, String)>,
    /// The console's address, e.g. `https://pathways.council.example`: notices link to it.
    pub console_url: String,
    /// Longest a notice may take to send.
    pub timeout: Duration,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("credentials", &self.credentials.as_ref().map(|_| "[set]"))
            .finish_non_exhaustive()
    }
}

/// Sends notices over one SMTP configuration.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    console_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").finish_non_exhaustive()
    }
}

/// A mailer that cannot be built from its settings: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {problem}")]
pub struct EmailError {
    /// The key inside `[email]`.
    pub key: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl Mailer {
    /// A mailer for `settings`; nothing is connected until a notice is sent.
    pub fn new(settings: &EmailSettings) -> Result<Self, EmailError> {
        let from: Mailbox = settings.from.parse().map_err(|e| EmailError {
            key: "from",
            problem: format!("`{}` is not a sender address: {e}", settings.from),
        })?;
        let tls = |required: bool| {
            TlsParameters::new(settings.host.clone())
                .map(|p| if required { Tls::Required(p) } else { Tls::Wrapper(p) })
                .map_err(|e| EmailError { key: "smtp_host", problem: e.to_string() })
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
                .port(settings.port)
                .timeout(Some(settings.timeout));
        builder = match settings.tls {
            TlsMode::Off => builder.tls(Tls::None),
            TlsMode::Starttls => builder.tls(tls(true)?),
            TlsMode::Tls => builder.tls(tls(false)?),
        };
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            console_url: settings.console_url.trim_end_matches('/').to_string(),
        })
    }

    /// The link a notice for referral `referral_id` carries.
    pub fn link(&self, referral_id: &str) -> String {
        format!("{}/referrals/{referral_id}", self.console_url)
    }

    /// Sends the notice of a new referral to `to`. The error says what kind of failure it
    /// was, never the address (a server's answer may quote it, so it is not passed on).
    pub async fn notify_new_referral(&self, to: &str, referral_id: &str) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|_| "the notify_email address does not parse")?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject("A new referral is waiting for you in Pathways")
            .header(ContentType::TEXT_PLAIN)
            .body(notice_text(&self.link(referral_id)))
            .map_err(|_| "the notice could not be built".to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| describe(&e))
    }
}

/// The notice's words: a link, and nothing about the person referred.
pub fn notice_text(link: &str) -> String {
    // Short lines, the link on its own: plain 7-bit text that no mail program rewraps.
    format!(
        "A new referral is waiting for you in Pathways:\n\n{link}\n\n\
         Sign in to read it and to tell the referrer whether\n\
         you can help. For the person's privacy, this email\n\
         does not say who they are.\n"
    )
}

/// What went wrong, without anything the server said.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_tls() {
        "TLS failed"
    } else if error.is_permanent() {
        "refused by the server (permanent)"
    } else if error.is_transient() {
        "refused by the server (try later)"
    } else if error.is_client() {
        "a client error"
    } else {
        "connection failed"
    };
    match error.status() {
        Some(code) => format!("{kind}, SMTP {code}"),
        None => kind.to_string(),
    }
}
