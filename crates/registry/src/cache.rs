//! The resolved-metadata cache: in process (`SlotCache`) by default, Redis when `cache.redis_url` is set so replicas
//! share entries. Entries carry their own freshness and stale deadlines; a short Redis lock lets one replica
//! fetch while the others wait for its result (cross-process coalescing). Redis trouble degrades to misses.
//! The connection is the process's shared one (`walletd_common::redis::SharedRedis`, also used by the limits).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use walletd_common::redis::SharedRedis;
use walletd_common::slot_cache::SlotCache;

/// One cached answer.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The serialised JSON answer.
    pub body: Bytes,
    /// Strong validator of `body` (unquoted).
    pub etag: String,
    /// `etag` quoted, as the `ETag` header carries it (made once per entry, not per answer).
    pub etag_header: HeaderValue,
    /// Milliseconds since the epoch until which the entry is fresh.
    pub fresh_until: i64,
    /// Milliseconds since the epoch until which the entry may be served when upstream fails.
    pub stale_until: i64,
}

impl Entry {
    /// An entry for `body` with validator `etag` (unquoted; base64url, so always a valid header value).
    pub fn new(body: Bytes, etag: String, fresh_until: i64, stale_until: i64) -> Entry {
        let etag_header = HeaderValue::from_str(&format!("\"{etag}\"")).unwrap_or(HeaderValue::from_static("\"\""));
        Entry {
            body,
            etag,
            etag_header,
            fresh_until,
            stale_until,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct WireEntry {
    body: String,
    etag: String,
    fresh_until: i64,
    stale_until: i64,
}

/// Where entries live.
#[derive(Clone)]
pub enum Cache {
    /// In this process only: a [`SlotCache`] (every cached answer is a read of it, and its hits write nothing
    /// shared), each entry kept until its stale deadline or `max_life`, whichever comes first.
    Memory(Arc<MemoryCache>),
    /// Shared through Redis (errors count as misses).
    Redis(Arc<RedisCache>),
}

/// The in-process side.
pub struct MemoryCache {
    entries: SlotCache<String, Arc<Entry>>,
    max_life: Duration,
}

/// The Redis side: the shared connection and the key prefix.
pub struct RedisCache {
    redis: SharedRedis,
    prefix: String,
}

/// How long one replica may hold the fetch lock of a key.
pub const LOCK_TTL: Duration = Duration::from_secs(15);

impl Cache {
    /// An in-process cache holding at most `capacity` entries, each for at most `max_life`.
    pub fn memory(capacity: u64, max_life: Duration) -> Cache {
        Cache::Memory(Arc::new(MemoryCache {
            entries: SlotCache::new(capacity),
            max_life,
        }))
    }

    /// A Redis cache over the process's shared connection; `prefix` starts every key.
    pub fn redis(redis: SharedRedis, prefix: &str) -> Cache {
        Cache::Redis(Arc::new(RedisCache {
            redis,
            prefix: prefix.to_string(),
        }))
    }

    /// The entry under `key`, fresh or stale.
    pub async fn get(&self, key: &str) -> Option<Arc<Entry>> {
        match self {
            Cache::Memory(m) => m.entries.get(key),
            Cache::Redis(r) => {
                let raw: Option<String> = r
                    .redis
                    .query(redis::cmd("GET").arg(r.key(key)))
                    .await
                    .map_err(
                        |e| tracing::warn!(error = %e, "redis GET failed; the registry cache falls back to a miss"),
                    )
                    .ok()?;
                let w: WireEntry = serde_json::from_str(&raw?).ok()?;
                Some(Arc::new(Entry::new(
                    Bytes::from(w.body),
                    w.etag,
                    w.fresh_until,
                    w.stale_until,
                )))
            }
        }
    }

    /// Stores an entry until its stale deadline.
    pub async fn put(&self, key: &str, entry: Arc<Entry>, now: i64) {
        let life_ms = (entry.stale_until - now).max(1) as u64;
        match self {
            Cache::Memory(m) => {
                let life = Duration::from_millis(life_ms).min(m.max_life);
                m.entries.insert(key.to_string(), entry, Instant::now() + life);
            }
            Cache::Redis(r) => {
                let wire = WireEntry {
                    body: String::from_utf8_lossy(&entry.body).into_owned(),
                    etag: entry.etag.clone(),
                    fresh_until: entry.fresh_until,
                    stale_until: entry.stale_until,
                };
                let Ok(text) = serde_json::to_string(&wire) else { return };
                let done: Result<(), _> = r
                    .redis
                    .query(redis::cmd("SET").arg(r.key(key)).arg(text).arg("PX").arg(life_ms))
                    .await;
                if let Err(e) = done {
                    tracing::warn!(error = %e, "redis SET failed");
                }
            }
        }
    }

    /// Removes an entry (a registered document changed).
    pub async fn remove(&self, key: &str) {
        match self {
            Cache::Memory(m) => m.entries.remove(key),
            Cache::Redis(r) => {
                let _: Result<(), _> = r.redis.query(redis::cmd("DEL").arg(r.key(key))).await;
            }
        }
    }

    /// Drops every in-process entry (sources changed). Redis entries expire on their own deadlines.
    pub fn clear_local(&self) {
        if let Cache::Memory(m) = self {
            m.entries.clear();
        }
    }

    /// Takes the cross-replica fetch lock of `key`; `true` when this replica should fetch. Always `true` in memory
    /// (in-process coalescing is done by the caller) and when Redis is unreachable.
    pub async fn try_lock(&self, key: &str) -> bool {
        let Cache::Redis(r) = self else { return true };
        let got: Result<Option<String>, _> = r
            .redis
            .query(
                redis::cmd("SET")
                    .arg(r.key(&format!("lock:{key}")))
                    .arg("1")
                    .arg("NX")
                    .arg("PX")
                    .arg(LOCK_TTL.as_millis() as u64),
            )
            .await;
        got.map(|v| v.is_some()).unwrap_or(true)
    }

    /// Releases the fetch lock of `key`.
    pub async fn unlock(&self, key: &str) {
        if let Cache::Redis(r) = self {
            let _: Result<(), _> = r
                .redis
                .query(redis::cmd("DEL").arg(r.key(&format!("lock:{key}"))))
                .await;
        }
    }

    /// Whether entries are shared with other replicas.
    pub fn is_shared(&self) -> bool {
        matches!(self, Cache::Redis(_))
    }
}

impl RedisCache {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}
