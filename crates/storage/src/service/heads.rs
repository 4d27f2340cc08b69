//! Each user's sync marks (the feed's head and purge mark), kept briefly so that the usual poll, a device already
//! at the head, is answered without a database read (`storage.sync_head_ttl`, `storage.sync_head_entries`).
//!
//! Why this is safe: the cached marks only ever answer "nothing after your cursor". A device whose cursor differs
//! from the cached head takes the database path, which reads the marks afresh, so a stale entry can delay a change
//! (never lose one, never reorder one, never cause a reset). Writes made by this process drop the user's entry
//! before they return; a write made by another process is seen within the TTL. A stale purge mark is harmless too:
//! purged tombstones are older than `storage.tombstone_retention`, so their sequence numbers are at or below the
//! cursor of any device that is at the head now.
//!
//! Races: a reader takes a ticket (the user's write count) before it reads the database and files its marks under
//! that ticket; a writer bumps the count after its commit. Marks filed under an older count are never served, so a
//! read that started before a local commit cannot be served after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use walletd_common::slot_cache::SlotCache;

/// The marks of one user: `(head, purged)`.
pub(super) type Marks = (i64, i64);

/// The cache; `None` inside when `storage.sync_head_ttl` is 0. A [`SlotCache`] keyed by [`user_key`]: every sync
/// poll reads it, and its hits write nothing shared.
pub(super) struct SyncHeads {
    slots: Option<SlotCache<String, Arc<Slot>>>,
    ttl: Duration,
}

/// One user's entry.
#[derive(Default)]
struct Slot {
    /// Writes this process committed for the user since the slot was made.
    writes: AtomicU64,
    /// The last marks read, with the write count they were read under and when.
    filed: ArcSwapOption<Filed>,
}

#[derive(Clone, Copy)]
struct Filed {
    marks: Marks,
    writes: u64,
    at: Instant,
}

/// What a reader must do: use the marks, or read them and file them with the ticket.
pub(super) enum Lookup {
    Hit(Marks),
    Miss(Option<Ticket>),
}

/// Permission to file marks read after it was issued.
pub(super) struct Ticket {
    slot: Arc<Slot>,
    writes: u64,
}

/// The cache key of a user: tenant ids never contain NUL (`is_valid_tenant_id`), so the pair is unambiguous.
fn user_key(tenant_id: &str, user_id: &str) -> String {
    let mut key = String::with_capacity(tenant_id.len() + 1 + user_id.len());
    key.push_str(tenant_id);
    key.push('\0');
    key.push_str(user_id);
    key
}

impl SyncHeads {
    /// A cache of at most `entries` users, each entry served for `ttl` (0: no cache).
    pub(super) fn new(ttl: Duration, entries: u64) -> Self {
        let slots = (!ttl.is_zero()).then(|| SlotCache::new(entries));
        SyncHeads { slots, ttl }
    }

    /// How long a user's slot (its write count) lives: longer than its marks' freshness, so the write count stays
    /// meaningful while a reader holds a ticket. A replaced or expired slot only costs a database read: a ticket
    /// on a slot that is no longer in the cache files marks nobody reads.
    fn slot_life(&self) -> Duration {
        self.ttl.saturating_mul(4)
    }

    /// The user's marks when fresh ones were filed since the last local write; else a ticket to file them.
    pub(super) fn lookup(&self, tenant_id: &str, user_id: &str) -> Lookup {
        let Some(slots) = &self.slots else {
            return Lookup::Miss(None);
        };
        let key = user_key(tenant_id, user_id);
        let found = slots.get_map(key.as_str(), |slot| {
            let writes = slot.writes.load(Ordering::Acquire);
            match slot.filed.load().as_deref() {
                Some(f) if f.writes == writes && f.at.elapsed() < self.ttl => Lookup::Hit(f.marks),
                _ => Lookup::Miss(Some(Ticket {
                    slot: slot.clone(),
                    writes,
                })),
            }
        });
        found.unwrap_or_else(|| {
            // No slot for the user yet (or it expired): a fresh one, whose count starts at 0.
            let slot = Arc::<Slot>::default();
            slots.insert(key, slot.clone(), Instant::now() + self.slot_life());
            Lookup::Miss(Some(Ticket { slot, writes: 0 }))
        })
    }

    /// Files marks read from the database after `ticket` was issued.
    pub(super) fn file(&self, ticket: Option<Ticket>, marks: Marks) {
        let Some(Ticket { slot, writes }) = ticket else { return };
        slot.filed.store(Some(Arc::new(Filed {
            marks,
            writes,
            at: Instant::now(),
        })));
    }

    /// Records that this process committed a write for the user (call after the commit, whatever its outcome).
    pub(super) fn note_write(&self, tenant_id: &str, user_id: &str) {
        let Some(slots) = &self.slots else { return };
        slots.get_map(user_key(tenant_id, user_id).as_str(), |slot| {
            slot.writes.fetch_add(1, Ordering::AcqRel)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(h: &SyncHeads) -> Option<Marks> {
        match h.lookup("t", "u") {
            Lookup::Hit(m) => Some(m),
            Lookup::Miss(_) => None,
        }
    }

    fn ticket(h: &SyncHeads) -> Option<Ticket> {
        match h.lookup("t", "u") {
            Lookup::Hit(_) => panic!("expected a miss"),
            Lookup::Miss(t) => t,
        }
    }

    #[test]
    fn filed_marks_answer_until_a_local_write() {
        let h = SyncHeads::new(Duration::from_secs(60), 10);
        let t = ticket(&h);
        h.file(t, (5, 1));
        assert_eq!(hit(&h), Some((5, 1)));
        h.note_write("t", "u");
        assert_eq!(hit(&h), None, "a local write drops the marks");
        // Other users are untouched.
        h.file(ticket(&h), (6, 1));
        h.note_write("t", "other");
        assert_eq!(hit(&h), Some((6, 1)));
    }

    #[test]
    fn marks_read_before_a_write_are_not_served_after_it() {
        let h = SyncHeads::new(Duration::from_secs(60), 10);
        // A reader takes its ticket, then (while it reads the database) a write commits.
        let t = ticket(&h);
        h.note_write("t", "u");
        h.file(t, (5, 0));
        assert_eq!(hit(&h), None, "filed under an older write count");
    }

    #[test]
    fn marks_expire_and_a_zero_ttl_keeps_nothing() {
        let h = SyncHeads::new(Duration::from_millis(30), 10);
        h.file(ticket(&h), (5, 0));
        assert_eq!(hit(&h), Some((5, 0)));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(hit(&h), None, "older than the TTL");
        let off = SyncHeads::new(Duration::ZERO, 10);
        assert!(matches!(off.lookup("t", "u"), Lookup::Miss(None)));
        off.file(None, (1, 0));
        off.note_write("t", "u");
        assert!(matches!(off.lookup("t", "u"), Lookup::Miss(None)));
    }
}
