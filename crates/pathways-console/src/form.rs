//! Form posts: read as an ordered list of fields (a checkbox group repeats its name), with the
//! errors a page shows in its error summary, each naming the field it links to.

use std::collections::HashMap;

use serde::Serialize;

/// The fields of one `application/x-www-form-urlencoded` post.
#[derive(Clone, Default)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl std::fmt::Debug for Form {
    // Form values are what a person typed about a client: never in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.fields.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Form").field("fields", &names).finish()
    }
}

impl Form {
    /// Reads a form body.
    pub fn parse(body: &[u8]) -> Self {
        Self { fields: form_urlencoded::parse(body).into_owned().collect() }
    }

    /// The first value of `name`, trimmed; `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// The value of `name` untrimmed (passwords).
    pub fn raw(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).collect()
    }

    /// Whether the field was sent at all.
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == name)
    }

    /// The fields as a map of first values, to fill a form again after an error.
    pub fn values(&self) -> HashMap<String, String> {
        let mut values = HashMap::new();
        for (k, v) in &self.fields {
            values.entry(k.clone()).or_insert_with(|| v.clone());
        }
        values
    }

    /// Every field, in order (the hidden fields that carry a form to its next page).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.fields
    }
}

/// One problem with a form: the field's id (the summary links to `#id`) and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The id of the input the message is about.
    pub field: String,
    /// The message, in the GOV.UK Design System's words ("Enter…", "Select…").
    pub message: String,
}

/// The problems found with a form, in the order of its fields. Templates read `list` (the
/// error summary) and `by_field` (each field's own message beside it).
#[derive(Debug, Clone, Default)]
pub struct Errors {
    /// The problems.
    pub list: Vec<FieldError>,
}

impl Serialize for Errors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Errors", 2)?;
        s.serialize_field("list", &self.list)?;
        s.serialize_field("by_field", &self.by_field())?;
        s.end()
    }
}

impl Errors {
    /// Adds a problem with `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        // One message per field: the first is the one to fix first.
        if !self.list.iter().any(|e| e.field == field) {
            self.list.push(FieldError { field, message: message.into() });
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The message for `field`, if it has one.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.list.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    /// A map from field id to message, for the templates.
    pub fn by_field(&self) -> HashMap<String, String> {
        self.list.iter().map(|e| (e.field.clone(), e.message.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_keep_every_value_and_errors_keep_the_first_per_field() {
        let form = Form::parse(b"need=food&need=debt_money&name=+Ada+&csrf=x");
        assert_eq!(form.all("need"), ["food", "debt_money"]);
        assert_eq!(form.get("name"), "Ada");
        assert_eq!(form.get("missing"), "");
        assert!(!format!("{form:?}").contains("Ada"));
        let mut errors = Errors::default();
        errors.add("name", "Enter the client's name");
        errors.add("name", "second");
        assert_eq!(errors.of("name"), Some("Enter the client's name"));
        assert_eq!(errors.list.len(), 1);
        let json = serde_json::to_value(&errors).unwrap();
        assert_eq!(json["by_field"]["name"], "Enter the client's name", "each field's own message");
        assert_eq!(json["list"][0]["field"], "name");
    }
}
