//! The bookkeeping that makes a repeated POST harmless, shared by every simulator that takes
//! referrals: the record of which body each idempotency key first came with and what it
//! created (the same key with the same body gets the same answer; with another body it is
//! refused), and the per-key POST counts exactly-once tests read.

use std::collections::{BTreeMap, HashMap};

/// What an earlier POST under the same key says about this one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Replay<'a> {
    /// The key is new: handle the POST.
    Fresh,
    /// The same key with the same body: answer with what this id's POST created.
    Same(&'a str),
    /// The same key with another body: refuse (422).
    KeyReused,
}

/// Which body each idempotency key first came with and the id of what it created.
#[derive(Debug)]
pub(crate) struct IdempotencyRecord<B> {
    by_key: HashMap<String, (B, String)>,
}

impl<B> Default for IdempotencyRecord<B> {
    fn default() -> Self {
        Self { by_key: HashMap::new() }
    }
}

impl<B: PartialEq> IdempotencyRecord<B> {
    /// Looks `key` up against `body`.
    pub(crate) fn replay(&self, key: &str, body: &B) -> Replay<'_> {
        match self.by_key.get(key) {
            None => Replay::Fresh,
            Some((earlier, id)) if earlier == body => Replay::Same(id),
            Some(_) => Replay::KeyReused,
        }
    }

    /// Records that the POST under `key` with `body` created `id`.
    pub(crate) fn remember(&mut self, key: &str, body: B, id: String) {
        self.by_key.insert(key.to_string(), (body, id));
    }
}

/// Counts of POSTs per idempotency key, kept in a simulator's public stats.
pub(crate) trait PostCounts {
    /// The total, distinct-key and per-key counters, in that order.
    fn post_counters(&mut self) -> (&mut u64, &mut u64, &mut BTreeMap<String, u64>);

    /// Counts one POST carrying `key` (before faults or validation decide its fate).
    fn count_post(&mut self, key: Option<&str>) {
        let (total, distinct, per_key) = self.post_counters();
        *total += 1;
        if let Some(key) = key {
            let posts = per_key.entry(key.to_string()).or_insert(0);
            *posts += 1;
            if *posts == 1 {
                *distinct += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counts {
        total: u64,
        distinct: u64,
        per_key: BTreeMap<String, u64>,
    }

    impl PostCounts for Counts {
        fn post_counters(&mut self) -> (&mut u64, &mut u64, &mut BTreeMap<String, u64>) {
            (&mut self.total, &mut self.distinct, &mut self.per_key)
        }
    }

    #[test]
    fn same_key_same_body_replays_and_another_body_is_refused() {
        let mut record = IdempotencyRecord::default();
        assert_eq!(record.replay("k1", &"body"), Replay::Fresh);
        record.remember("k1", "body", "ID-1".into());
        assert_eq!(record.replay("k1", &"body"), Replay::Same("ID-1"));
        assert_eq!(record.replay("k1", &"other"), Replay::KeyReused);
        assert_eq!(record.replay("k2", &"body"), Replay::Fresh);
    }

    #[test]
    fn posts_are_counted_per_key_and_keyless_posts_only_in_the_total() {
        let mut counts = Counts::default();
        counts.count_post(Some("a"));
        counts.count_post(Some("a"));
        counts.count_post(Some("b"));
        counts.count_post(None);
        assert_eq!((counts.total, counts.distinct), (4, 2));
        assert_eq!(counts.per_key.get("a"), Some(&2));
    }
}
