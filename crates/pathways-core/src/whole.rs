//! Whole numbers however JSON writes them: `3` and `3.0` are the same integer to JSON
//! Schema (and so to a client generating requests from the OpenAPI document), so a field that
//! the schema calls an integer accepts both; `3.5` and out-of-range values are still refused.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A `u8` written as `3` or `3.0`.
pub(crate) fn u8_value<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    deserializer.deserialize_any(WholeU8)
}

/// A list of `u8`s, each written as `3` or `3.0`.
pub(crate) fn u8_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of whole numbers from 0 to 255")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(Whole(n)) = seq.next_element()? {
                out.push(n);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(List)
}

struct Whole(u8);

impl<'de> de::Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WholeU8).map(Whole)
    }
}

struct WholeU8;

impl Visitor<'_> for WholeU8 {
    type Value = u8;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number from 0 to 255")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u8, E> {
        u8::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u8, E> {
        u8::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u8, E> {
        if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
            // Whole and in range, checked just above: the cast is exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(v as u8)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Household {
        #[serde(deserialize_with = "super::u8_value")]
        adults: u8,
        #[serde(deserialize_with = "super::u8_list")]
        ages: Vec<u8>,
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_point_zero() {
        let h: Household = serde_json::from_str(r#"{"adults": 2.0, "ages": [4, 7.0]}"#).unwrap();
        assert_eq!((h.adults, h.ages), (2, vec![4, 7]));
        for bad in [
            r#"{"adults": 2.5, "ages": []}"#,
            r#"{"adults": 256, "ages": []}"#,
            r#"{"adults": 1, "ages": [-1]}"#,
            r#"{"adults": "1", "ages": []}"#,
        ] {
            assert!(serde_json::from_str::<Household>(bad).is_err(), "{bad}");
        }
    }
}
