//! In-process fixed-window counters: what a process counts without Redis, or while Redis is unreachable.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters per key for the current window of each key.
pub(super) struct LocalCounters {
    window: Duration,
    max_keys: usize,
    map: Mutex<HashMap<String, (Instant, u64)>>,
}

impl LocalCounters {
    pub(super) fn new(window: Duration, max_keys: usize) -> Self {
        LocalCounters {
            window,
            max_keys: max_keys.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key`: the count in the key's window and the time left of that window.
    pub(super) fn incr(&self, key: &str) -> (u64, Duration) {
        let now = Instant::now();
        let window = self.window;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = key.to_string();
        if !map.contains_key(&key) && map.len() >= self.max_keys {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
            if map.len() >= self.max_keys {
                // Still full: new keys share one counter per budget, limited together rather than not at all.
                let budget = key.split(':').next().unwrap_or_default();
                key = format!("{budget}:~overflow");
            }
        }
        let entry = map.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (entry.1, window.saturating_sub(now.duration_since(entry.0)))
    }
}
