//! The shapes of a referral request's selection, each one definition that both parses and
//! describes itself in the OpenAPI document, so the two cannot disagree:
//! - [`Choice`]: a list of at least one item (an empty list chooses nothing, and is refused
//!   with 400 rather than read as "everything");
//! - [`Ordinal`]: a plan step's order or a plan version, an integer from 1, written `3` or `3.0` (JSON Schema
//!   counts both as integers, so a client generating from the schema may send either);
//! - [`present`]: a field that may be left out but not sent as `null`.

use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A list of at least one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Choice<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<T>::deserialize(deserializer)?;
        if items.is_empty() {
            return Err(de::Error::custom("choose at least one (or leave the field out)"));
        }
        Ok(Choice(items))
    }
}

impl<T: JsonSchema> JsonSchema for Choice<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Choice_of_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let items = generator.subschema_for::<T>();
        json_schema!({ "type": "array", "minItems": 1, "items": items })
    }
}

/// A whole number from 1: a plan step's order, a plan version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Ordinal(pub u32);

impl<'de> Deserialize<'de> for Ordinal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Order;
        impl Visitor<'_> for Order {
            type Value = Ordinal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer from 1 to 4294967295")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ordinal, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|&n| n >= 1)
                    .map(Ordinal)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ordinal, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ordinal, E> {
                if v.fract() == 0.0 && (1.0..=f64::from(u32::MAX)).contains(&v) {
                    // Checked whole and in range just above, so the cast is exact.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Ok(Ordinal(v as u32))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }
        deserializer.deserialize_any(Order)
    }
}

impl JsonSchema for Ordinal {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Ordinal".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": 1, "maximum": 4294967295u64 })
    }
}

/// For `#[serde(default, deserialize_with = "present")]`: the field may be absent (then
/// `None`, by the default) but `null` is refused, as the schema (which does not allow `null`)
/// says.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_orders_are_whole_numbers_from_one_however_written() {
        assert_eq!(serde_json::from_str::<Ordinal>("221").unwrap(), Ordinal(221));
        assert_eq!(serde_json::from_str::<Ordinal>("221.0").unwrap(), Ordinal(221));
        for bad in ["0", "-1", "1.5", "4294967296", r#""1""#, "null"] {
            assert!(serde_json::from_str::<Ordinal>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_choice_has_at_least_one_item() {
        assert_eq!(serde_json::from_str::<Choice<u8>>("[1, 2]").unwrap(), Choice(vec![1, 2]));
        let err = serde_json::from_str::<Choice<u8>>("[]").unwrap_err().to_string();
        assert!(err.contains("at least one"), "{err}");
    }
}
