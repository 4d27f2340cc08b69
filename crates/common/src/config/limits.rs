//! Configuration of the shared rate limiter (`rate_limits`): the counting window, the per-tenant default budgets of
//! storage writes and engine flows/connections, and how counters are kept. The auth ceremony budgets are
//! `auth.rate_limit_per_ip` and `auth.rate_limit_per_credential`; tenants override any budget in their record
//! (`Tenant::rate_limits`).

use super::*;

/// `rate_limits.*`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Every budget counts requests in fixed windows of this length.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Storage writes (blob create/replace/delete, private-data updates) per user per window; 0 disables.
    pub storage_writes_per_user: u32,
    /// Engine `flow_start`s per user per window; 0 disables.
    pub engine_flows_per_user: u32,
    /// Engine WebSocket handshakes (new connections) per user per window; 0 disables.
    pub engine_connections_per_user: u32,
    /// Upstream fetches of type metadata (`/type-metadata`) or issuer metadata (`/issuer-metadata`) for URLs
    /// outside the tenant's configured sources, per client per window: per user with a valid access token, else
    /// per client address. Cached answers and configured sources are not counted; 0 disables.
    pub metadata_fetches_per_client: u32,
    /// Prefix of every counter key in Redis (replicas sharing a budget must use the same prefix).
    pub redis_prefix: String,
    /// How long a process reuses a tenant's budget overrides before reading the tenant again.
    #[serde(with = "humantime_serde")]
    pub tenant_cache_ttl: Duration,
    /// Most counters one process keeps in memory (without Redis, or while Redis is down); keys beyond it share
    /// one overflow counter per budget, so they are still limited.
    pub local_max_keys: usize,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            window: Duration::from_secs(60),
            storage_writes_per_user: 300,
            engine_flows_per_user: 120,
            engine_connections_per_user: 60,
            metadata_fetches_per_client: 20,
            redis_prefix: "walletd:rl:".into(),
            tenant_cache_ttl: Duration::from_secs(10),
            local_max_keys: 100_000,
        }
    }
}
