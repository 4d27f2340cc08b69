//! The one rate limiter every role uses: per-tenant budgets (configured defaults, overrides in the tenant record),
//! counted in fixed windows in Redis when `cache.redis_url` is set (one budget across all replicas) and in process
//! otherwise. While Redis is unreachable each process counts on its own (never "unlimited", never an error for the
//! client), with a metric and a log line; counting returns to Redis when it answers again.

mod local;
mod shared;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::config::Config;
use crate::redis::SharedRedis;
use crate::tenant::TenantRateLimits;

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// Auth ceremony and token requests, per client IP.
    AuthPerIp,
    /// Login finishes, per passkey.
    AuthPerCredential,
    /// Storage writes, per user.
    StorageWrites,
    /// Engine flow starts, per user.
    EngineFlows,
    /// Engine connections (handshakes), per user.
    EngineConnections,
    /// Wallet-provider attestations and challenges, per user.
    WalletProviderPerUser,
    /// Wallet-provider attestations, per wallet instance.
    WalletProviderPerInstance,
    /// Upstream fetches of type or issuer metadata outside the tenant's configured sources, per client (the user
    /// of a valid token, else the client address).
    MetadataFetches,
}

impl LimitKind {
    /// The name used in counter keys, metrics and the tenant record's field.
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::AuthPerIp => "auth_per_ip",
            LimitKind::AuthPerCredential => "auth_per_credential",
            LimitKind::StorageWrites => "storage_writes_per_user",
            LimitKind::EngineFlows => "engine_flows_per_user",
            LimitKind::EngineConnections => "engine_connections_per_user",
            LimitKind::WalletProviderPerUser => "wallet_provider_per_user",
            LimitKind::WalletProviderPerInstance => "wallet_provider_per_instance",
            LimitKind::MetadataFetches => "metadata_fetches_per_client",
        }
    }

    fn overridden(self, o: &TenantRateLimits) -> Option<u32> {
        match self {
            LimitKind::AuthPerIp => o.auth_per_ip,
            LimitKind::AuthPerCredential => o.auth_per_credential,
            LimitKind::StorageWrites => o.storage_writes_per_user,
            LimitKind::EngineFlows => o.engine_flows_per_user,
            LimitKind::EngineConnections => o.engine_connections_per_user,
            LimitKind::WalletProviderPerUser => o.wallet_provider_per_user,
            LimitKind::WalletProviderPerInstance => o.wallet_provider_per_instance,
            LimitKind::MetadataFetches => o.metadata_fetches_per_client,
        }
    }
}

/// A request over its budget: answer 429 with `Retry-After` (HTTP) or `TOO_MANY_REQUESTS` (API v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The budget that ran out.
    pub kind: LimitKind,
    /// When the current window ends.
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` in whole seconds (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_millis().div_ceil(1000).max(1) as u64
    }
}

impl fmt::Display for Limited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "too many requests; retry in {} s", self.retry_after_secs())
    }
}

/// Where the limiter reads a tenant's overrides: `None` for an unknown tenant (or one that cannot be read now; the
/// configured defaults then apply). The binary implements it over the store.
pub trait TenantLimitSource: Send + Sync {
    /// The tenant's overrides, `Some(default)` for a tenant without any.
    fn overrides<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Option<TenantRateLimits>>;
}

/// The rate limiter. Cheap to clone; one per process, shared by every role.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    defaults: TenantRateLimits,
    window: Duration,
    tenant_ttl: Duration,
    source: Option<Arc<dyn TenantLimitSource>>,
    tenants: Mutex<HashMap<String, (Instant, Option<TenantRateLimits>)>>,
    local: local::LocalCounters,
    shared: Option<shared::SharedCounters>,
}

/// Tenant entries cached at most; past it the cache starts over (ids come from clients).
const TENANT_CACHE_MAX: usize = 10_000;

impl RateLimiter {
    /// A limiter with the configured defaults; counting in Redis when `redis` is given.
    pub fn new(cfg: &Config, redis: Option<SharedRedis>, source: Option<Arc<dyn TenantLimitSource>>) -> Self {
        let rl = &cfg.rate_limits;
        RateLimiter {
            inner: Arc::new(Inner {
                defaults: TenantRateLimits {
                    auth_per_ip: Some(cfg.auth.rate_limit_per_ip),
                    auth_per_credential: Some(cfg.auth.rate_limit_per_credential),
                    storage_writes_per_user: Some(rl.storage_writes_per_user),
                    engine_flows_per_user: Some(rl.engine_flows_per_user),
                    engine_connections_per_user: Some(rl.engine_connections_per_user),
                    wallet_provider_per_user: Some(cfg.wallet_provider.rate_limit_per_user),
                    wallet_provider_per_instance: Some(cfg.wallet_provider.rate_limit_per_instance),
                    metadata_fetches_per_client: Some(rl.metadata_fetches_per_client),
                },
                window: rl.window,
                tenant_ttl: rl.tenant_cache_ttl,
                source,
                tenants: Mutex::new(HashMap::new()),
                local: local::LocalCounters::new(rl.window, rl.local_max_keys),
                shared: redis.map(|r| shared::SharedCounters::new(r, rl.redis_prefix.clone(), rl.window)),
            }),
        }
    }

    /// A limiter that never limits (tests of other things, tools).
    pub fn unlimited() -> Self {
        let mut cfg = Config::default();
        cfg.auth.rate_limit_per_ip = 0;
        cfg.auth.rate_limit_per_credential = 0;
        cfg.rate_limits.storage_writes_per_user = 0;
        cfg.rate_limits.engine_flows_per_user = 0;
        cfg.rate_limits.engine_connections_per_user = 0;
        cfg.wallet_provider.rate_limit_per_user = 0;
        cfg.wallet_provider.rate_limit_per_instance = 0;
        cfg.rate_limits.metadata_fetches_per_client = 0;
        RateLimiter::new(&cfg, None, None)
    }

    /// Spends one request of `kind` for `subject` (a user id, an address, a credential id) in `tenant_id`'s budget
    /// (`None`: the configured default, for requests whose tenant is not known yet).
    pub async fn check(&self, kind: LimitKind, tenant_id: Option<&str>, subject: &str) -> Result<(), Limited> {
        let (tenant_key, overrides) = match tenant_id {
            Some(t) => match self.overrides(t).await {
                Some(o) => (t.to_string(), Some(o)),
                // An unknown tenant id (they come from clients) gets the defaults in one shared bucket, so made-up
                // ids do not multiply a client's budget.
                None => ("-".to_string(), None),
            },
            None => ("-".to_string(), None),
        };
        let limit = overrides
            .and_then(|o| kind.overridden(&o))
            .or_else(|| kind.overridden(&self.inner.defaults))
            .unwrap_or(0);
        if limit == 0 {
            return Ok(());
        }
        let key = format!("{}:{tenant_key}:{}", kind.name(), subject_key(subject));
        let counted = match &self.inner.shared {
            Some(s) => s.incr(&key).await,
            None => None,
        };
        // No Redis, or Redis unavailable right now: this process counts alone.
        let (count, left) = counted.unwrap_or_else(|| self.inner.local.incr(&key));
        if count > u64::from(limit) {
            metrics::counter!("walletd_rate_limited_total", "limit" => kind.name()).increment(1);
            return Err(Limited {
                kind,
                retry_after: left.min(self.inner.window),
            });
        }
        Ok(())
    }

    async fn overrides(&self, tenant_id: &str) -> Option<TenantRateLimits> {
        let Some(source) = &self.inner.source else {
            return Some(TenantRateLimits::default());
        };
        let now = Instant::now();
        if let Some((at, v)) = self.lock_tenants().get(tenant_id)
            && now.duration_since(*at) < self.inner.tenant_ttl
        {
            return *v;
        }
        let found = source.overrides(tenant_id).await;
        let mut tenants = self.lock_tenants();
        if tenants.len() >= TENANT_CACHE_MAX {
            tenants.clear();
        }
        tenants.insert(tenant_id.to_string(), (now, found));
        found
    }

    fn lock_tenants(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Option<TenantRateLimits>)>> {
        // A panic while holding the lock cannot leave the map inconsistent (plain inserts): keep using it.
        self.inner.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Subjects can be long (credential ids) or carry characters Redis keys should not (IPv6 colons are fine):
/// anything over 64 bytes is replaced by its SHA-256.
fn subject_key(subject: &str) -> String {
    if subject.len() <= 64 {
        return subject.to_string();
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(subject.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
