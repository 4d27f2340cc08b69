//! What engine tests and benches share about the engine process itself: the shared secret its holders' tokens are
//! signed with, those tokens, the WebSocket URL, and the configuration of an engine that may reach local peers.

use crate::{Config, Walletd, jwt};

/// The `jwt.secret` of engine-only test processes.
pub const SECRET: &str = "engine-test-shared-secret";

/// An HS256 access token on [`SECRET`] for `sub` in tenant `default`, valid `ttl_secs` (negative: expired).
pub fn token(sub: &str, ttl_secs: i64) -> String {
    jwt::hs256_access(SECRET, "default", sub, ttl_secs)
}

/// The API v2 WebSocket URL of the main listener of `w`.
pub fn ws_url(w: &Walletd) -> String {
    format!("{}/api/v2/wallet", w.http_url().replace("http://", "ws://"))
}

/// An engine-only process on [`SECRET`] that may call peers on 127.0.0.1 over http, with outbound calls bounded
/// to 3 s (slow-peer tests stay short; a test may set its own `engine.outbound_timeout`).
pub fn config() -> Config {
    Config::new()
        .mode("engine")
        .jwt_secret(SECRET)
        .egress_loopback()
        .set("engine.outbound_timeout", "3s")
}

/// [`config`] plus extra `engine:` lines (indented two spaces, as under `engine:`).
pub fn config_with(extra_engine: &str) -> Config {
    config().yaml(&format!("engine:\n{extra_engine}"))
}

/// The engine process's settings the flow benchmarks take from their environment, applied to `config`:
/// `ENGINE_BENCH_WORKERS=n` sets `server.worker_threads` (the engine's runtime threads; the bench process keeps
/// its own). Anything but a positive number leaves the setting alone.
pub fn with_bench_knobs(config: Config) -> Config {
    match std::env::var("ENGINE_BENCH_WORKERS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n > 0)
    {
        Some(n) => config.set("server.worker_threads", n),
        None => config,
    }
}
