//! Counters in Redis: one budget for every replica. INCR and the expiry are one Lua script, so a counter can never
//! be left without an expiry and concurrent replicas never lose a count. Failures are reported to the caller (which
//! then counts in process) with a metric and one log line per outage.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::redis::SharedRedis;

/// INCR the key; on the first count (or a key somehow without expiry) set the window as its expiry; answer the
/// count and the milliseconds left.
const INCR_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// After a failure, Redis is not asked again for this long (each request would otherwise wait for the deadline).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

pub(super) struct SharedCounters {
    redis: SharedRedis,
    prefix: String,
    window_ms: u64,
    degraded: AtomicBool,
    skip_until_ms: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl SharedCounters {
    pub(super) fn new(redis: SharedRedis, prefix: String, window: Duration) -> Self {
        SharedCounters {
            redis,
            prefix,
            window_ms: window.as_millis().max(1) as u64,
            degraded: AtomicBool::new(false),
            skip_until_ms: AtomicU64::new(0),
        }
    }

    /// The count in `key`'s current window and the time left of it; `None` when Redis cannot be used now.
    pub(super) async fn incr(&self, key: &str) -> Option<(u64, Duration)> {
        if now_ms() < self.skip_until_ms.load(Ordering::Relaxed) {
            metrics::counter!("walletd_rate_limit_redis_fallback_total").increment(1);
            return None;
        }
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(INCR_SCRIPT)
            .arg(1)
            .arg(format!("{}{key}", self.prefix))
            .arg(self.window_ms);
        match self.redis.query::<(u64, i64)>(&cmd).await {
            Ok((count, left_ms)) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis answers again; rate limits are shared across replicas again");
                }
                Some((count, Duration::from_millis(left_ms.max(0) as u64)))
            }
            Err(e) => {
                self.skip_until_ms
                    .store(now_ms() + RETRY_AFTER_FAILURE.as_millis() as u64, Ordering::Relaxed);
                metrics::counter!("walletd_rate_limit_redis_fallback_total").increment(1);
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "redis unavailable; rate limits are counted per process until it answers");
                }
                None
            }
        }
    }
}
