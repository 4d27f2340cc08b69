//! Token revocation by session epoch. Every user has an epoch in the database (0 until first bumped); the auth role
//! writes the current one into each access token it issues (claim `sep`), and logout, passkey removal, account
//! deletion and tenant disablement bump it. A token whose `sep` is below the user's current epoch is refused by
//! every role. Each process caches epochs for `jwt.revocation_cache_ttl`; a bump made in this process clears the
//! cache at once (a process-wide generation counter), one made elsewhere is seen within the TTL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::jwt::JwtError;
use crate::slot_cache::SlotCache;

/// Where epochs are read: the database (this process's store, or `tenants.source` read-only for the engine).
pub trait SessionEpochs: Send + Sync {
    /// The user's current epoch (0 when none was recorded). The error text is logged, never shown.
    fn current<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, Result<i64, String>>;
}

static LOCAL_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Records that this process bumped an epoch: every cached epoch is read again on its next use. Bumps are rare
/// (logout, deletion, passkey removal, tenant disablement), so dropping the whole cache costs nothing noticeable.
pub fn note_local_revocation() {
    LOCAL_GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// The epoch check of one process: the source plus a short cache.
#[derive(Clone)]
pub struct EpochCheck {
    source: Arc<dyn SessionEpochs>,
    /// user id -> (epoch, generation when read). `None` when the TTL is 0 (always read). A [`SlotCache`]: every
    /// authenticated request reads it, and its hits write nothing shared.
    cache: Option<Arc<SlotCache<String, (i64, u64)>>>,
    ttl: Duration,
}

impl EpochCheck {
    /// A check reading `source`, caching each user's epoch for `ttl` (0: no cache) in at most `capacity` entries.
    pub fn new(source: Arc<dyn SessionEpochs>, ttl: Duration, capacity: u64) -> Self {
        let cache = (!ttl.is_zero()).then(|| Arc::new(SlotCache::new(capacity)));
        EpochCheck { source, cache, ttl }
    }

    /// The user's current epoch; `RevocationUnavailable` when it cannot be read (the caller fails closed).
    pub async fn current(&self, user_id: &str) -> Result<i64, JwtError> {
        let generation = LOCAL_GENERATION.load(Ordering::Acquire);
        if let Some(cache) = &self.cache
            && let Some((epoch, seen)) = cache.get(user_id)
            && seen == generation
        {
            return Ok(epoch);
        }
        let read_at = std::time::Instant::now();
        let epoch = self.source.current(user_id).await.map_err(|e| {
            tracing::warn!(error = %e, "cannot read the session epoch; refusing the token");
            JwtError::RevocationUnavailable
        })?;
        if let Some(cache) = &self.cache {
            // The entry's life starts when the read started, not after it: a bump made elsewhere is seen within
            // the TTL of the read that missed it.
            cache.insert(user_id.to_string(), (epoch, generation), read_at + self.ttl);
        }
        Ok(epoch)
    }

    /// Refuses claims whose session epoch is below the user's current one.
    pub async fn check(&self, user_id: &str, token_epoch: i64) -> Result<(), JwtError> {
        if token_epoch < self.current(user_id).await? {
            return Err(JwtError::Revoked);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::sync::atomic::AtomicI64;

    struct Counter(AtomicI64, AtomicU64);

    impl SessionEpochs for Counter {
        fn current<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<i64, String>> {
            self.1.fetch_add(1, Ordering::SeqCst);
            let v = self.0.load(Ordering::SeqCst);
            async move { if v < 0 { Err("down".into()) } else { Ok(v) } }.boxed()
        }
    }

    #[tokio::test]
    async fn cached_until_a_local_bump_and_fails_closed() {
        let src = Arc::new(Counter(AtomicI64::new(0), AtomicU64::new(0)));
        let check = EpochCheck::new(src.clone(), Duration::from_secs(60), 100);
        check.check("u", 0).await.unwrap();
        check.check("u", 0).await.unwrap();
        assert_eq!(src.1.load(Ordering::SeqCst), 1, "second check is served from the cache");
        src.0.store(1, Ordering::SeqCst);
        note_local_revocation();
        assert_eq!(check.check("u", 0).await, Err(JwtError::Revoked));
        check.check("u", 1).await.unwrap();
        src.0.store(-1, Ordering::SeqCst);
        let uncached = EpochCheck::new(src, Duration::ZERO, 100);
        assert_eq!(uncached.check("u", 1).await, Err(JwtError::RevocationUnavailable));
    }
}
