//! Outcomes that matter to the client: the ONS personal wellbeing questions (ONS4) at intake and
//! at a follow-up, and the client's own account of whether each need was met.
//!
//! The four questions, each answered 0 (not at all) to 10 (completely), as the Office for
//! National Statistics asks them: overall, how satisfied are you with your life nowadays; to
//! what extent do you feel the things you do in your life are worthwhile; how happy did you
//! feel yesterday; how anxious did you feel yesterday. Higher is better for the first three,
//! lower for anxiety. Asked only when the client agrees to answer; each answer is theirs, so it
//! is personal data: sealed at rest, redacted in logs, reported only in groups of five or more.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The client's ONS4 answers, each 0 to 10.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Ons4 {
    /// Overall, how satisfied are you with your life nowadays? (0 not at all, 10 completely)
    #[cfg_attr(feature = "schema", schemars(range(max = 10)))]
    #[serde(deserialize_with = "crate::whole::u8_value")]
    pub life_satisfaction: u8,
    /// Overall, to what extent do you feel the things you do in your life are worthwhile?
    #[cfg_attr(feature = "schema", schemars(range(max = 10)))]
    #[serde(deserialize_with = "crate::whole::u8_value")]
    pub worthwhile: u8,
    /// Overall, how happy did you feel yesterday?
    #[cfg_attr(feature = "schema", schemars(range(max = 10)))]
    #[serde(deserialize_with = "crate::whole::u8_value")]
    pub happiness: u8,
    /// Overall, how anxious did you feel yesterday? (lower is better)
    #[cfg_attr(feature = "schema", schemars(range(max = 10)))]
    #[serde(deserialize_with = "crate::whole::u8_value")]
    pub anxiety: u8,
}

impl fmt::Debug for Ons4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ons4(redacted)")
    }
}

impl Ons4 {
    /// The four answers with their names, in the ONS order.
    pub fn answers(&self) -> [(&'static str, u8); 4] {
        [
            ("life_satisfaction", self.life_satisfaction),
            ("worthwhile", self.worthwhile),
            ("happiness", self.happiness),
            ("anxiety", self.anxiety),
        ]
    }

    /// The first answer above 10, by name: `Err("anxiety")`.
    pub fn check(&self) -> Result<(), &'static str> {
        match self.answers().into_iter().find(|(_, v)| *v > 10) {
            Some((name, _)) => Err(name),
            None => Ok(()),
        }
    }
}

/// Whether a need was met, in the client's own words at follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum NeedMet {
    /// The need was met.
    Met,
    /// Partly met.
    Partly,
    /// Not met.
    NotMet,
    /// The client no longer needs this help.
    NoLongerNeeded,
}

impl NeedMet {
    /// Every answer, in the order a form offers them.
    pub const ALL: [NeedMet; 4] =
        [NeedMet::Met, NeedMet::Partly, NeedMet::NotMet, NeedMet::NoLongerNeeded];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedMet::Met => "met",
            NeedMet::Partly => "partly",
            NeedMet::NotMet => "not_met",
            NeedMet::NoLongerNeeded => "no_longer_needed",
        }
    }

    /// In plain words.
    pub fn describe(self) -> &'static str {
        match self {
            NeedMet::Met => "Yes, it was met",
            NeedMet::Partly => "Partly",
            NeedMet::NotMet => "No, it was not met",
            NeedMet::NoLongerNeeded => "They no longer need this help",
        }
    }
}

/// The client's account of one need at follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NeedOutcome {
    /// The need's id in the case.
    pub need_id: String,
    /// Whether it was met.
    pub met: NeedMet,
}

/// A follow-up with the client, as recorded.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FollowUp {
    /// The ONS4 answers now, if the client agreed to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wellbeing: Option<Ons4>,
    /// The client's account of each need they spoke about.
    #[serde(default)]
    pub needs: Vec<NeedOutcome>,
    /// Who recorded it (a user id or a worker id).
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

impl fmt::Debug for FollowUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FollowUp")
            .field("wellbeing", &self.wellbeing)
            .field("needs", &self.needs.len())
            .field("recorded_by", &self.recorded_by)
            .field("recorded_at", &self.recorded_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_above_ten_are_named_and_debug_shows_none() {
        let ok = Ons4 { life_satisfaction: 3, worthwhile: 4, happiness: 5, anxiety: 10 };
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(format!("{ok:?}"), "Ons4(redacted)");
        let bad = Ons4 { happiness: 11, ..ok };
        assert_eq!(bad.check(), Err("happiness"));
        let json =
            r#"{"life_satisfaction": 1, "worthwhile": 2, "happiness": 3, "anxiety": 4, "x": 1}"#;
        assert!(serde_json::from_str::<Ons4>(json).is_err(), "unknown fields are refused");
        assert!(serde_json::from_str::<Ons4>(r#"{"life_satisfaction": -1}"#).is_err());
        let whole = r#"{"life_satisfaction": 7.0, "worthwhile": 2, "happiness": 3, "anxiety": 4}"#;
        assert_eq!(serde_json::from_str::<Ons4>(whole).unwrap().life_satisfaction, 7, "3.0 is 3");
    }
}
