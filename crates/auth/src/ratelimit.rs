//! Brute-force protection for the ceremony and token routes: per client IP and per passkey, in process
//! (governor's GCRA). Each replica limits on its own, so the effective limit behind a load balancer is the
//! configured one times the replica count.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{AuthError, ErrorKind};

/// One keyed limiter.
pub struct Limiter<K: Hash + Eq + Clone> {
    inner: Option<DefaultKeyedRateLimiter<K>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `per_minute` requests per key per minute (bursts up to that); 0 disables the limit.
    pub fn per_minute(per_minute: u32) -> Self {
        Limiter {
            inner: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request for `key`; 429 `rate_limited` when over the limit.
    pub fn check(&self, key: &K, what: &str) -> Result<(), AuthError> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        // Forget idle keys now and then so the map does not grow with every address ever seen.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        limiter.check_key(key).map_err(|_| {
            AuthError::new(
                ErrorKind::TooManyRequests,
                "rate_limited",
                format!("too many requests {what}; slow down"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_zero_disables() {
        let l = Limiter::per_minute(2);
        assert!(l.check(&"a", "x").is_ok());
        assert!(l.check(&"a", "x").is_ok());
        let err = l.check(&"a", "x").unwrap_err();
        assert_eq!(err.kind, ErrorKind::TooManyRequests);
        assert!(l.check(&"b", "x").is_ok(), "keys are independent");
        let off = Limiter::per_minute(0);
        for _ in 0..100 {
            assert!(off.check(&"a", "x").is_ok());
        }
    }
}
