//! Accounts, for `pathways users add|disable|reset` and the console's administrators: a new
//! account gets a one-time link to set its password (the token is kept only as a hash, and
//! works once, within `setup_link_valid`).

use chrono::Utc;
use pathways_core::Personal;
use pathways_store::{AccountStatus, NewUser, Store, StoreError, UserId};

use crate::session::{new_token, token_hash, ConsoleRole};
use crate::ConsoleSettings;

/// Why an account could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The email address is not one.
    #[error("`{0}` is not an email address")]
    Email(String),
    /// The organisation id is empty or not an id.
    #[error("the organisation must be an id such as `citizens-advice-kc`, not `{0}`")]
    Organisation(String),
    /// No such role.
    #[error("the role must be one of pathfinder, coordinator, admin, partner; not `{0}`")]
    Role(String),
    /// No account has this address.
    #[error("no account has the address `{0}`")]
    Unknown(String),
    /// An account has this address already.
    #[error("an account with the address `{0}` exists already")]
    Exists(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether `email` looks like an address (something@something.something, no spaces).
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && email.len() <= 254
}

/// Whether `id` is an organisation id: lower-case letters, digits and hyphens.
pub fn is_organisation_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The one-time link for `token`.
pub fn setup_link(settings: &ConsoleSettings, token: &str) -> String {
    format!("{}/set-password?token={token}", settings.public_url.trim_end_matches('/'))
}

/// Adds an account and returns its id and its one-time link to set a password.
pub async fn add(
    store: &dyn Store,
    settings: &ConsoleSettings,
    organisation: &str,
    role: &str,
    email: &str,
    name: Option<&str>,
) -> Result<(UserId, String), AccountError> {
    let email = email.trim();
    if !is_email(email) {
        return Err(AccountError::Email(email.to_string()));
    }
    if !is_organisation_id(organisation) {
        return Err(AccountError::Organisation(organisation.to_string()));
    }
    let role = ConsoleRole::parse(role).ok_or_else(|| AccountError::Role(role.to_string()))?;
    let user = NewUser {
        organisation: organisation.to_string(),
        role: role.as_str().to_string(),
        email: Personal::new(email.to_string()),
        display_name: name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| Personal::new(n.into())),
    };
    let id = match store.insert_user(&user, Utc::now()).await {
        Ok(id) => id,
        Err(StoreError::DuplicateUser { .. }) => {
            return Err(AccountError::Exists(email.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    let link = new_link(store, settings, &id).await?;
    Ok((id, link))
}

async fn new_link(
    store: &dyn Store,
    settings: &ConsoleSettings,
    id: &UserId,
) -> Result<String, AccountError> {
    let token = new_token();
    let valid = chrono::Duration::from_std(settings.setup_link_valid)
        .unwrap_or(chrono::Duration::hours(72));
    store.create_setup_token(id, &token_hash(&token), Utc::now() + valid).await?;
    Ok(setup_link(settings, &token))
}

/// Resets an account: its password stops working at once (so does every session), and a new
/// one-time link is returned.
pub async fn reset(
    store: &dyn Store,
    settings: &ConsoleSettings,
    email: &str,
) -> Result<String, AccountError> {
    let user = store
        .user_by_email(email.trim())
        .await?
        .ok_or_else(|| AccountError::Unknown(email.trim().to_string()))?;
    store.set_user_status(&user.id, AccountStatus::Invited).await?;
    new_link(store, settings, &user.id).await
}

/// Disables an account: it cannot sign in, and its sessions end at once.
pub async fn disable(store: &dyn Store, email: &str) -> Result<UserId, AccountError> {
    let user = store
        .user_by_email(email.trim())
        .await?
        .ok_or_else(|| AccountError::Unknown(email.trim().to_string()))?;
    store.set_user_status(&user.id, AccountStatus::Disabled).await?;
    Ok(user.id)
}
