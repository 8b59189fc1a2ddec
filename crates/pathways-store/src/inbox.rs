//! What an inbox partner's staff tell pathways in the console about their service: whether
//! it has places free, a waiting list, or is closed to new referrals. The `inbox` connector
//! answers availability from it.
//!
//! None of it is personal data: it describes the service, and its note is shown to every
//! pathfinder whose plan asks the partner (as the offer's wait estimate). It is kept plain.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether an inbox partner can take new referrals now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum CapacityState {
    /// Places free: new clients can start.
    Places,
    /// Full, with a waiting list new clients join.
    Waitlist,
    /// Not taking new referrals.
    Closed,
}

impl CapacityState {
    /// Every state, in the order a form offers them.
    pub const ALL: [CapacityState; 3] =
        [CapacityState::Places, CapacityState::Waitlist, CapacityState::Closed];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityState::Places => "places",
            CapacityState::Waitlist => "waitlist",
            CapacityState::Closed => "closed",
        }
    }

    /// The state spelt `code`.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == code)
    }
}

/// An inbox partner's capacity as its staff last set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerCapacity {
    /// The partner id from configuration.
    pub partner_id: String,
    /// Places free, a waiting list, or closed.
    pub state: CapacityState,
    /// Places free (`places`) or people waiting (`waitlist`), when staff gave a number.
    pub count: Option<u32>,
    /// The staff's words on it ("next group starts in 3 weeks"), shown to pathfinders; never
    /// about a client.
    pub note: Option<String>,
    /// Who set it: a console user id.
    pub set_by: String,
    /// When.
    pub set_at: DateTime<Utc>,
}
