//! The validated-token cache: a token whose signature and claims were verified once is not verified again until
//! it expires. Keyed by the SHA-256 of the token (the token itself is never kept), bounded in entries (a
//! [`SlotCache`]: its hits write nothing shared, so one user's token read on both cores does not contend), and every
//! entry expires no later than its token (`exp` + leeway). What a hit skips is only the signature and claim
//! checks (and only while the validator's key set is unchanged); the audience asked for is still compared and the session epoch is still checked on every use
//! (crate::revocation), so a cached token is refused as soon as it is revoked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::slot_cache::SlotCache;

use crate::jwt::TokenClaims;

/// What is kept of a verified token.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: TokenClaims,
    /// The token's audiences; `None` for a legacy token verified without an audience check.
    pub audiences: Option<Vec<String>>,
    /// Last instant the token may be accepted (`exp` + leeway).
    pub valid_until: u64,
    /// The validator's key generation when it was verified: after a key rotation or retirement the token is
    /// verified again (a retired key's tokens are then refused, as without the cache).
    pub key_generation: u64,
}

/// A bounded cache of verified tokens.
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<SlotCache<[u8; 32], Verified>>,
}

impl TokenCache {
    /// A cache of at most `entries` tokens; `None` for 0 (every token is verified every time).
    pub fn new(entries: u64) -> Option<Self> {
        (entries > 0).then(|| TokenCache {
            inner: Arc::new(SlotCache::new(entries)),
        })
    }

    /// The key of a token.
    pub fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of a cached, unexpired token valid for one of `audiences`, verified under `key_generation`.
    pub fn get(&self, key: &[u8; 32], audiences: &[&str], key_generation: u64) -> Option<TokenClaims> {
        self.inner
            .get_map(key, |v| {
                // The slot's expiry is an `Instant` taken at insertion; the token's own is checked here too.
                if unix_now() > v.valid_until || v.key_generation != key_generation {
                    return None;
                }
                match &v.audiences {
                    Some(auds) if !auds.iter().any(|a| audiences.contains(&a.as_str())) => None,
                    _ => Some(v.claims.clone()),
                }
            })
            .flatten()
    }

    /// Remembers a token that was just verified, until its `valid_until`.
    pub fn insert(&self, key: [u8; 32], verified: Verified) {
        let remaining = Duration::from_secs(verified.valid_until.saturating_sub(unix_now()));
        self.inner.insert(key, verified, Instant::now() + remaining);
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
