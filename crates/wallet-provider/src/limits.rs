//! Rate limits of attestation issuance, per user and per wallet instance, behind a small interface. The
//! implementation here counts in process (governor's GCRA), so each replica limits on its own; a shared limiter
//! (Redis) can replace it through [`crate::WalletProviderService::with_limiters`].

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Over the limit: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// How long until one more request is allowed.
    pub retry_after: Duration,
    /// What was limited (`user`, `instance`, `live attestations`).
    pub what: &'static str,
}

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many attestations for this {}; retry in {} s",
            self.what,
            self.retry_after.as_secs().max(1)
        )
    }
}

/// Counts one request for a key and says whether it is allowed.
pub trait Limiter: Send + Sync {
    /// Counts one request for `key`; `Err` when over the limit.
    fn check(&self, key: &str) -> Result<(), RateLimited>;
}

/// A per-key limit of `n` per minute, in this process; 0 disables it.
pub struct InProcessLimiter {
    inner: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
    what: &'static str,
}

impl InProcessLimiter {
    /// `per_minute` requests per key per minute (bursts up to that); 0 never limits.
    pub fn per_minute(per_minute: u32) -> Self {
        InProcessLimiter {
            inner: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            checks: AtomicU64::new(0),
            what: "caller",
        }
    }
}

impl Limiter for InProcessLimiter {
    fn check(&self, key: &str) -> Result<(), RateLimited> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        // Forget idle keys now and then so the map does not grow with every user ever seen.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        limiter.check_key(&key.to_string()).map_err(|not_until| RateLimited {
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            what: self.what,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_zero_disables() {
        let l = InProcessLimiter::per_minute(2);
        assert!(l.check("a").is_ok() && l.check("a").is_ok());
        let e = l.check("a").unwrap_err();
        assert!(e.retry_after > Duration::ZERO && e.retry_after <= Duration::from_secs(30));
        assert!(l.check("b").is_ok(), "keys are independent");
        let off = InProcessLimiter::per_minute(0);
        assert!((0..100).all(|_| off.check("a").is_ok()));
    }
}
