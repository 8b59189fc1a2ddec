//! `[partners.settings]` of an inbox partner, read strictly: an unknown or misspelt key is an
//! error naming it (`services[0].phon`), as a plugin's own settings are.

use pathways_core::{ClientField, NeedCode, ServiceChannel, ServiceContact, ServiceRef};
use serde::Deserialize;

/// An inbox partner's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxSettings {
    /// The needs it helps with, e.g. `["social_isolation"]`.
    pub needs: Vec<NeedCode>,
    /// What a referral to it may carry of the client (its staff read it in the console),
    /// e.g. `["name", "phone", "postcode"]`.
    #[serde(default)]
    pub shares: Vec<ClientField>,
    /// Where to send a notice (no personal data: a link to the console) when a referral
    /// arrives; needs the `[email]` section.
    #[serde(default)]
    pub notify_email: Option<String>,
    /// Its services, as pathfinders and clients will read them.
    pub services: Vec<ServiceSettings>,
}

/// One `[[partners.settings.services]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    /// The partner's own id for it, e.g. `befriending`.
    pub id: String,
    /// A name a client would recognise, e.g. `Telephone befriending`.
    pub name: String,
    /// The needs it meets; empty (the default) means every need the partner lists.
    #[serde(default)]
    pub needs: Vec<NeedCode>,
    /// How it is delivered: `in_person`, `phone`, `online`, `home_visit` or `delivery`.
    #[serde(default)]
    pub channel: Option<ServiceChannel>,
    /// Its public telephone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Its public email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Its web page.
    #[serde(default)]
    pub url: Option<String>,
    /// Where it meets, in one line.
    #[serde(default)]
    pub address: Option<String>,
    /// How to get in touch or what happens next, in the partner's words.
    #[serde(default)]
    pub how_to_apply: Option<String>,
}

impl ServiceSettings {
    /// The service as plans name it.
    pub fn service_ref(&self) -> ServiceRef {
        ServiceRef { id: self.id.clone(), name: self.name.clone() }
    }

    /// Its public contact details, if it has any.
    pub fn contact(&self) -> Option<ServiceContact> {
        let contact = ServiceContact {
            phone: self.phone.clone(),
            email: self.email.clone(),
            url: self.url.clone(),
            address: self.address.clone(),
            opening_hours: Vec::new(),
            how_to_apply: self.how_to_apply.clone(),
        };
        (!contact.is_empty()).then_some(contact)
    }

    /// Whether it meets `need`, given the partner's `needs`.
    pub fn serves(&self, need: NeedCode, partner_needs: &[NeedCode]) -> bool {
        partner_needs.contains(&need) && (self.needs.is_empty() || self.needs.contains(&need))
    }
}

/// Settings that cannot be used: the key (a path inside `[partners.settings]`, e.g.
/// `services[0].phone`; empty for the table as a whole) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{problem}", if key.is_empty() { String::new() } else { format!("`{key}`: ") })]
pub struct SettingsError {
    /// Where, inside the settings table.
    pub key: String,
    /// What is wrong and what is expected.
    pub problem: String,
}

impl InboxSettings {
    /// Reads and checks `[partners.settings]`.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, SettingsError> {
        let settings: InboxSettings = serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            SettingsError { key, problem: e.into_inner().to_string() }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let fail = |key: String, problem: String| Err(SettingsError { key, problem });
        if self.needs.is_empty() {
            return fail(
                "needs".into(),
                "list at least one need, e.g. `[\"social_isolation\"]`".into(),
            );
        }
        if self.services.is_empty() {
            return fail(
                "services".into(),
                "add at least one `[[partners.settings.services]]` with an `id` and a `name`"
                    .into(),
            );
        }
        if let Some(email) = &self.notify_email {
            if !looks_like_an_address(email) {
                return fail("notify_email".into(), format!("`{email}` is not an email address"));
            }
        }
        for (i, service) in self.services.iter().enumerate() {
            let at = |key: &str| format!("services[{i}].{key}");
            if service.id.trim().is_empty() {
                return fail(at("id"), "must not be empty".into());
            }
            if service.name.trim().is_empty() {
                return fail(at("name"), "must not be empty".into());
            }
            if let Some(first) = self.services[..i].iter().position(|s| s.id == service.id) {
                return fail(
                    at("id"),
                    format!("`{}` is already the id of services[{first}]", service.id),
                );
            }
            if let Some(j) = service.needs.iter().position(|n| !self.needs.contains(n)) {
                return fail(
                    format!("services[{i}].needs[{j}]"),
                    format!(
                        "`{}` is not one of the partner's `needs`; add it there first",
                        service.needs[j].as_str()
                    ),
                );
            }
        }
        for (i, need) in self.needs.iter().enumerate() {
            if !self.services.iter().any(|s| s.serves(*need, &self.needs)) {
                return fail(
                    format!("needs[{i}]"),
                    format!("no service meets `{}`: list it in a service's `needs`", need.as_str()),
                );
            }
        }
        Ok(())
    }
}

/// One `@` with something either side and no spaces: enough to catch a slip, not a validator.
pub(crate) fn looks_like_an_address(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> serde_json::Value {
        json!({
            "needs": ["social_isolation"],
            "shares": ["name", "phone", "postcode"],
            "notify_email": "referrals@ludlow-good-neighbours.example",
            "services": [{"id": "befriending", "name": "Telephone befriending",
                          "phone": "01632 960112", "channel": "phone"}]
        })
    }

    #[test]
    fn a_valid_table_reads() {
        let settings = InboxSettings::from_json(&valid()).unwrap();
        assert_eq!(settings.needs, [NeedCode::SocialIsolation]);
        assert_eq!(settings.services[0].contact().unwrap().phone.as_deref(), Some("01632 960112"));
    }

    #[test]
    fn errors_name_the_key() {
        let mut unknown = valid();
        unknown["services"][0]["phon"] = json!("x");
        let err = InboxSettings::from_json(&unknown).unwrap_err();
        assert_eq!(err.key, "services[0].phon", "{err}");
        assert!(err.problem.contains("phon"), "{err}");

        let mut top = valid();
        top["plugin_url"] = json!("x");
        assert!(InboxSettings::from_json(&top).unwrap_err().problem.contains("plugin_url"));

        let mut bad_need = valid();
        bad_need["needs"] = json!(["loneliness"]);
        assert_eq!(InboxSettings::from_json(&bad_need).unwrap_err().key, "needs[0]");

        let mut no_services = valid();
        no_services["services"] = json!([]);
        assert_eq!(InboxSettings::from_json(&no_services).unwrap_err().key, "services");

        let mut twice = valid();
        twice["services"] = json!([{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]);
        assert_eq!(InboxSettings::from_json(&twice).unwrap_err().key, "services[1].id");

        let mut foreign = valid();
        foreign["services"][0]["needs"] = json!(["food"]);
        let err = InboxSettings::from_json(&foreign).unwrap_err();
        assert_eq!(err.key, "services[0].needs[0]", "{err}");

        let mut address = valid();
        address["notify_email"] = json!("not an address");
        assert_eq!(InboxSettings::from_json(&address).unwrap_err().key, "notify_email");

        let mut missing = valid();
        missing.as_object_mut().unwrap().remove("services");
        assert!(InboxSettings::from_json(&missing).unwrap_err().problem.contains("services"));
    }
}
