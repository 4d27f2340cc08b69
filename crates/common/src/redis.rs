//! The process's one Redis connection (`cache.redis_url`), shared by the registry's cache and the rate limiter.
//!
//! The connection is made lazily and re-made by the connection manager after a failure; every command has the
//! deadline `cache.redis_timeout`, so a Redis that is down or slow costs a caller at most that long and never
//! blocks a request indefinitely. What a failure means is the caller's decision (a cache miss, a per-process limit).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue};

/// A cheap-to-clone handle on the shared connection.
#[derive(Clone)]
pub struct SharedRedis {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    timeout: Duration,
}

impl SharedRedis {
    /// A handle for `url`; no I/O happens until the first command. Must be called inside a Tokio runtime.
    pub fn connect(url: &str, timeout: Duration) -> Result<SharedRedis, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid cache.redis_url: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // One quick retry: a caller that waits longer than `timeout` is worse off than one told "unavailable".
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot set up the Redis connection: {e}"))?;
        Ok(SharedRedis {
            inner: Arc::new(Inner { conn, timeout }),
        })
    }

    /// Runs one command within the deadline. The error text names no secret (the URL is never part of it).
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, String> {
        let mut conn = self.inner.conn.clone();
        match tokio::time::timeout(self.inner.timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.inner.timeout)),
        }
    }

    /// `PING` for readiness: `Err` with a short reason that names no address or secret.
    pub async fn ping(&self) -> Result<(), String> {
        match self.query::<String>(&redis::cmd("PING")).await {
            Ok(pong) if pong == "PONG" => Ok(()),
            Ok(_) => Err("unexpected reply".into()),
            Err(_) => Err("unreachable".into()),
        }
    }
}
