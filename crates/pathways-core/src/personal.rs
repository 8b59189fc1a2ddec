//! A wrapper for personal data that never prints itself.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Personal data: serialises as the inner value (it has to reach the partner the client agreed
/// to), but `Debug` prints `[redacted]` and there is no `Display`, so it cannot reach a log by
/// accident. Read it with [`Personal::expose`], which makes every use visible in review.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Personal<T>(T);

/// On the wire a `Personal<T>` is just a `T`: its schema is `T`'s, inline, so a field's own
/// constraints (a pattern, a length) apply to it.
#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for Personal<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<T>()
    }
}

impl<T> Personal<T> {
    /// Wraps a value that identifies or describes a person.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the personal value; call only where it is about to be sent to a partner.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the personal value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> From<T> for Personal<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let name = Personal::new("Daniel Okafor".to_string());
        assert_eq!(format!("{name:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&name)), "Some([redacted])");
    }

    #[test]
    fn serialises_as_the_inner_value() {
        let name = Personal::new("Karen".to_string());
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"Karen\"");
    }
}
