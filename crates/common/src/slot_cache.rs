//! A bounded cache for the per-request lookups of hot paths (validated tokens, session epochs, tenant settings,
//! sync marks), whose hits write no memory shared between threads.
//!
//! Why not moka, which the rest of walletd uses: every moka read records the access for its eviction policy
//! (an atomic timestamp on the entry, a queue of read events), so two cores reading the same entry, such as one
//! user's token on many connections, take turns owning the same cache lines. Measured on the 2-core bench machine:
//! 220 ns per moka `get` on one thread and 835 ns with two threads reading one key; four such lookups were the
//! largest part of what an authenticated request cost over `/healthz` (docs/performance.md "Findings").
//!
//! The layout is two-way associative: `capacity` slots, a key may live in either of two slots its hash picks, and an
//! insert takes the one holding the key, else a free or expired one, else evicts whichever of the two entries
//! expires first. That bounds the cache by construction (at most `capacity` entries, no eviction pass); keys
//! compete only with the few others that share a slot, so two hot keys rarely push each other out (with one slot per
//! key, two colliding keys read in turn would evict each other on every read). A lost entry costs the lookup it saves
//! (a signature check, a primary-key read, an upstream fetch). Each slot is an [`ArcSwapOption`], whose reads take no lock and
//! write only thread-local state. Every entry carries its own expiry, checked on read.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwapOption;

/// The most slots a cache allocates (8 bytes each, allocated at the first insert): larger capacities are clamped
/// to this.
pub const MAX_SLOTS: u64 = 1 << 22;

struct Entry<K, V> {
    key: K,
    value: V,
    expires: Instant,
}

/// One slot: empty or one entry, swapped whole.
type Slot<K, V> = ArcSwapOption<Entry<K, V>>;

/// A two-way associative cache of at most `capacity` entries, each served until its expiry.
pub struct SlotCache<K, V> {
    /// Allocated on the first insert: an unused cache (a role that never sees the request kind) costs nothing,
    /// and start-up does not fault in megabytes of slots.
    slots: OnceLock<Box<[Slot<K, V>]>>,
    capacity: usize,
    hasher: RandomState,
}

impl<K: Hash + Eq, V> SlotCache<K, V> {
    /// A cache of `capacity` slots (at least 1, at most [`MAX_SLOTS`]).
    pub fn new(capacity: u64) -> Self {
        SlotCache {
            slots: OnceLock::new(),
            capacity: capacity.clamp(1, MAX_SLOTS) as usize,
            hasher: RandomState::new(),
        }
    }

    /// How many slots (the most entries it holds at once).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The two slots `key` may live in (the same one when there is one slot, or by chance).
    fn slots_in<'a, Q: Hash + ?Sized>(&self, slots: &'a [Slot<K, V>], key: &Q) -> [&'a Slot<K, V>; 2] {
        let hash = self.hasher.hash_one(key);
        // Lemire's multiply-shift maps a hash onto 0..len without a division; the second index comes from the hash
        // multiplied by an odd constant (the golden ratio's), so the two are independent enough.
        let index = |h: u64| ((h as u128 * slots.len() as u128) >> 64) as usize;
        [
            &slots[index(hash)],
            &slots[index(hash.wrapping_mul(0x9E37_79B9_7F4A_7C15))],
        ]
    }

    /// The two slots of `key`, when any slot exists yet.
    fn slots_of<Q: Hash + ?Sized>(&self, key: &Q) -> Option<[&Slot<K, V>; 2]> {
        self.slots.get().map(|slots| self.slots_in(slots, key))
    }

    /// `read` applied to the value of `key` while it is unexpired; `None` when absent or expired. The value is
    /// read in place: nothing is cloned unless `read` clones it.
    pub fn get_map<Q, R>(&self, key: &Q, read: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = Instant::now();
        for slot in self.slots_of(key)? {
            let guard = slot.load();
            if let Some(entry) = guard.as_ref()
                && entry.key.borrow() == key
                && now < entry.expires
            {
                return Some(read(&entry.value));
            }
        }
        None
    }

    /// A copy of the value of `key` while unexpired.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_map(key, V::clone)
    }

    /// Stores `value` for `key` until `expires`: in the slot that holds `key` already, else in an empty or expired
    /// one of its two, else in place of whichever of the two entries expires first.
    pub fn insert(&self, key: K, value: V, expires: Instant) {
        let slots = self
            .slots
            .get_or_init(|| (0..self.capacity).map(|_| ArcSwapOption::empty()).collect());
        let [a, b] = self.slots_in(slots, &key);
        let now = Instant::now();
        let (ga, gb) = (a.load(), b.load());
        let holds_key = |g: &Option<Arc<Entry<K, V>>>| g.as_ref().is_some_and(|e| e.key == key);
        let free = |g: &Option<Arc<Entry<K, V>>>| g.as_ref().is_none_or(|e| e.expires <= now);
        let expiry = |g: &Option<Arc<Entry<K, V>>>| g.as_ref().map_or(now, |e| e.expires);
        let target = if holds_key(&ga) {
            a
        } else if holds_key(&gb) {
            b
        } else if free(&ga) {
            a
        } else if free(&gb) || expiry(&gb) < expiry(&ga) {
            b
        } else {
            a
        };
        drop((ga, gb));
        target.store(Some(Arc::new(Entry { key, value, expires })));
    }

    /// Drops the entry of `key`, if present.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(slots) = self.slots_of(key) else { return };
        for slot in slots {
            // Only this key's entry: a colliding key's entry stays.
            slot.rcu(|current| match current {
                Some(e) if e.key.borrow() == key => None,
                other => other.clone(),
            });
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for slot in self.slots.get().into_iter().flatten() {
            slot.store(None);
        }
    }

    /// How many slots hold an unexpired entry (a full scan: for tests and diagnostics).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.slots
            .get()
            .into_iter()
            .flatten()
            .filter(|s| s.load().as_ref().is_some_and(|e| now < e.expires))
            .count()
    }

    /// Whether no slot holds an unexpired entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn stores_reads_and_removes() {
        let c: SlotCache<String, u32> = SlotCache::new(64);
        assert_eq!(c.get("a"), None);
        c.remove("a");
        c.clear();
        assert!(c.slots.get().is_none(), "reads allocate nothing");
        c.insert("a".into(), 1, later());
        c.insert("b".into(), 2, later());
        // A collision may have replaced "a"; "b", the last write, is there.
        assert_eq!(c.get("b"), Some(2));
        assert_eq!(c.get_map("b", |v| v * 10), Some(20));
        c.remove("b");
        assert_eq!(c.get("b"), None);
        assert_eq!(c.get("c"), None);
    }

    #[test]
    fn expired_entries_are_not_served() {
        let c: SlotCache<&'static str, u32> = SlotCache::new(8);
        c.insert("gone", 1, Instant::now());
        assert_eq!(c.get("gone"), None);
        c.insert("soon", 2, Instant::now() + Duration::from_millis(30));
        assert_eq!(c.get("soon"), Some(2));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get("soon"), None);
        assert!(c.is_empty());
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let c: SlotCache<u64, u64> = SlotCache::new(100);
        for k in 0..10_000 {
            c.insert(k, k, later());
        }
        assert_eq!(c.capacity(), 100);
        assert!(c.len() <= 100);
        // Whatever is kept is right: no key ever reads another key's value.
        for k in 0..10_000 {
            if let Some(v) = c.get(&k) {
                assert_eq!(v, k);
            }
        }
        // The slots are spread: far more than a handful of the 100 are in use.
        assert!(c.len() > 50, "only {} slots used", c.len());
        c.clear();
        assert!(c.is_empty());
    }

    #[test]
    fn a_sparse_cache_keeps_what_it_holds() {
        // 100 keys in 10 000 slots: with two slots to choose from, an insert evicts only when both of a key's
        // slots are taken (expected well under one eviction in this whole run).
        let c: SlotCache<u64, u64> = SlotCache::new(10_000);
        for k in 0..100 {
            c.insert(k, k, later());
        }
        let kept = (0..100).filter(|k| c.get(k) == Some(*k)).count();
        assert!(kept >= 99, "kept {kept} of 100");
        // An insert for a present key replaces its entry instead of taking a second slot.
        c.insert(7, 70, later());
        assert_eq!(c.get(&7), Some(70));
        assert_eq!(c.len(), kept);
    }

    #[test]
    fn one_slot_cache_keeps_the_last_key_only() {
        let c: SlotCache<u64, u64> = SlotCache::new(0);
        assert_eq!(c.capacity(), 1);
        c.insert(1, 10, later());
        c.insert(2, 20, later());
        assert_eq!(c.get(&1), None);
        assert_eq!(c.get(&2), Some(20));
        // Removing a key that is not in the slot leaves the slot alone.
        c.remove(&1);
        assert_eq!(c.get(&2), Some(20));
    }

    #[test]
    fn concurrent_readers_and_writers_see_only_whole_entries() {
        let c = Arc::new(SlotCache::<u64, (u64, u64)>::new(16));
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000u64 {
                        let k = (i + w) % 64;
                        c.insert(k, (k, k * 3), later());
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000u64 {
                        let k = i % 64;
                        if let Some((key, triple)) = c.get(&k) {
                            assert_eq!((key, triple), (k, k * 3));
                        }
                    }
                })
            })
            .collect();
        for t in writers.into_iter().chain(readers) {
            t.join().unwrap();
        }
    }
}
