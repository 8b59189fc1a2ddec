//! What the dispatcher's per-partner lanes need of the store: claims that take no more of a
//! partner's referrals than its lane can send at once ([`PartnerRoom`]), a stalled partner's
//! backlog set aside for a while (`Store::defer_outbox`), and a keyset-paged list of every
//! open referral to poll ([`OpenReferral`]).
//!
//! A partner whose lane is full (a hung partner holding its slots until the send timeout) has
//! no room: its due rows are left unclaimed, unleased and unspent, for this daemon's next claim
//! or another daemon's, while the other partners' rows are claimed in its place.

use std::collections::BTreeMap;

use pathways_core::TaskState;

use crate::ids::ReferralId;

/// How many more of each partner's referrals one claim may take: at most `n` of a partner
/// given room `n` (none of one given 0); a partner not named is limited only by the claim's
/// own limit. [`PartnerRoom::default`] limits no one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerRoom {
    free: BTreeMap<String, u32>,
}

impl PartnerRoom {
    /// Room for `free` more of `partner_id`'s referrals.
    pub fn set(&mut self, partner_id: impl Into<String>, free: u32) {
        self.free.insert(partner_id.into(), free);
    }

    /// The room left for `partner_id`; `None` when it is not limited.
    pub fn of(&self, partner_id: &str) -> Option<u32> {
        self.free.get(partner_id).copied()
    }

    /// Whether one more of `partner_id`'s referrals fits.
    pub fn fits(&self, partner_id: &str) -> bool {
        self.of(partner_id) != Some(0)
    }

    /// Takes room for one of `partner_id`'s referrals; `false` (and nothing taken) when
    /// there is none left.
    pub fn take(&mut self, partner_id: &str) -> bool {
        match self.free.get_mut(partner_id) {
            Some(0) => false,
            Some(free) => {
                *free -= 1;
                true
            }
            None => true,
        }
    }

    /// The partners with no room left, whose rows a claim need not even look at.
    pub fn full(&self) -> Vec<String> {
        self.free.iter().filter(|(_, &free)| free == 0).map(|(id, _)| id.clone()).collect()
    }

    /// The limited partners and their room, as two parallel lists (for a query).
    pub(crate) fn limited(&self) -> (Vec<String>, Vec<i64>) {
        self.free.iter().map(|(id, &free)| (id.clone(), i64::from(free))).unzip()
    }

    /// [`full`](Self::full) as a JSON array (SQLite's `json_each` reads it).
    pub(crate) fn full_json(&self) -> String {
        serde_json::to_string(&self.full()).unwrap_or_else(|_| "[]".into())
    }
}

/// A delivered referral its partner may still change (requested, accepted, in progress, on
/// hold): what a status poll needs, read from plain columns (nothing sealed is opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReferral {
    /// The referral.
    pub referral_id: ReferralId,
    /// Its partner.
    pub partner_id: String,
    /// The partner's reference for it.
    pub partner_reference: String,
    /// Our idempotency key for it.
    pub idempotency_key: String,
    /// Its state here now.
    pub state: TaskState,
}

/// The states in which a partner may still change a delivered referral.
pub(crate) const OPEN_STATES: [TaskState; 4] =
    [TaskState::Requested, TaskState::Accepted, TaskState::InProgress, TaskState::OnHold];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_taken_one_at_a_time_and_unnamed_partners_are_unlimited() {
        let mut room = PartnerRoom::default();
        room.set("hung", 0);
        room.set("fb", 2);
        assert_eq!(room.full(), vec!["hung".to_string()]);
        assert_eq!(room.full_json(), r#"["hung"]"#);
        assert!(!room.take("hung"));
        assert!(room.take("fb") && room.take("fb"));
        assert!(!room.fits("fb") && !room.take("fb"));
        assert!(room.take("nhs") && room.fits("nhs"));
        assert_eq!(room.of("nhs"), None);
        assert_eq!(room.limited(), (vec!["fb".to_string(), "hung".to_string()], vec![0, 0]));
    }
}
