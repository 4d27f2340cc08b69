//! walletd configuration: the typed shape of the YAML file, its defaults, and how it is loaded.
//!
//! Loading order (later wins): built-in defaults, the YAML file (`--config`), `${VAR}` expansion inside the YAML's
//! string values, then `WALLET_<PATH>` environment overrides (`WALLET_SERVER__HTTP_PORT=9000`). Every struct denies
//! unknown keys, and every error names the key path it is about, so a typo never silently falls back to a default.

mod auth;
mod engine;
mod features;
mod limits;
mod load;
mod registry;
mod secret;
mod storage;
mod validate;
mod wallet_provider;
mod workers;

pub use auth::{AttestationPolicy, AuthConfig, JwtConfig, SignCountPolicy, WebauthnConfig};
pub use engine::EngineConfig;
pub use features::{FeaturesConfig, LegacyProxyMode};
pub use limits::RateLimitsConfig;
pub use load::{ConfigError, load, load_from_str};
pub use registry::{RegistryConfig, SsrfAlias};
pub use secret::{ConnectionUrl, Secret};
pub use storage::StorageConfig;
pub use wallet_provider::{Pkcs11Config, SignerKind, TenantAttestationLevels, WalletProviderConfig};
pub use workers::WorkersConfig;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

pub use walletd_egress::EgressConfig;
pub use walletd_trust::TrustConfig;

use crate::roles::RoleSet;

/// The development database used when walletd starts without a config file.
pub const DEV_DATABASE_URL: &str = "sqlite://./data/walletd.db";

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Roles to run when `--mode` is not given on the command line (`all`, or a comma-separated list).
    pub mode: Option<String>,
    /// Directory for generated state in development (signing key, SQLite file).
    pub data_dir: DataDir,
    pub server: ServerConfig,
    /// Relational database. Required by auth, storage, backend; the engine never uses it.
    pub database: Option<DatabaseConfig>,
    pub cache: CacheConfig,
    pub jwt: JwtConfig,
    pub webauthn: WebauthnConfig,
    /// Auth role: token lifetimes, ceremony limits, brute-force protection, attestation policy, key rotation.
    pub auth: AuthConfig,
    pub tenants: TenantsConfig,
    pub registry: RegistryConfig,
    pub trust: TrustConfig,
    pub egress: EgressConfig,
    /// The design document's older name for part of `egress`; `ssrf.blocked_cidrs` is merged into
    /// `egress.blocked_cidrs` at load time.
    #[serde(skip_serializing)]
    pub ssrf: Option<SsrfAlias>,
    pub admin: AdminConfig,
    pub workers: WorkersConfig,
    pub engine: EngineConfig,
    /// Storage role: quotas, tombstone retention and page sizes.
    pub storage: StorageConfig,
    /// Per-tenant request budgets of storage writes and engine flows/connections (the auth ceremony budgets are
    /// `auth.rate_limit_*`), counted in Redis when `cache.redis_url` is set.
    pub rate_limits: RateLimitsConfig,
    /// Wallet-provider role: key attestations, wallet instance attestations, the status list, the signer.
    pub wallet_provider: WalletProviderConfig,
    pub features: FeaturesConfig,
    pub logging: LoggingConfig,
}

impl Config {
    /// The roles this configuration asks for, if it names any.
    pub fn configured_roles(&self) -> Result<Option<RoleSet>, ConfigError> {
        self.mode
            .as_deref()
            .map(|m| {
                m.parse::<RoleSet>().map_err(|e| ConfigError::Invalid {
                    key: "mode".into(),
                    message: e.to_string(),
                })
            })
            .transpose()
    }
}

/// Directory for state walletd generates itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DataDir(pub PathBuf);

impl Default for DataDir {
    fn default() -> Self {
        DataDir(PathBuf::from("./data"))
    }
}

/// Listeners and HTTP behaviour shared by every role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Every role's REST routes, health, metrics and the engine's `/api/v2/wallet`. `0` picks a free port.
    pub http_port: u16,
    /// Extra listener serving only `/api/v2/wallet` (engine role); `~` disables it.
    pub ws_port: Option<u16>,
    /// Admin API listener (backend role); `~` disables it.
    pub admin_port: Option<u16>,
    /// Address every listener binds to.
    pub listen: IpAddr,
    /// URL clients use to reach this deployment (used in tokens and generated links).
    pub public_url: Url,
    /// Origins allowed by CORS and at the WebSocket upgrade; `*` allows any.
    pub cors_origins: Vec<String>,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` names the client for rate limits; empty: the TCP peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Roles the deployment serves behind its public edge (`--mode` syntax, e.g. `"auth,storage,engine,registry"`),
    /// whose capabilities `/status` advertises besides this process's own: set on the process a split
    /// deployment's edge routes `/status` to, so the web client sees the WebSocket engine. `~`: only its own.
    pub public_roles: Option<crate::roles::RoleSet>,
    /// Serve `/metrics` on the admin listener instead of the main one.
    pub metrics_on_admin_port: bool,
    /// How often the metrics recorder folds the recorded histogram samples into its summaries. Between two folds
    /// (or two scrapes of `/metrics`) every sample is kept, so without it a process nobody scrapes grows by every
    /// request's timings. `0s` leaves it to the scrapes.
    #[serde(with = "humantime_serde")]
    pub metrics_upkeep_interval: Duration,
    /// Largest request body accepted by default (routes with their own limits may lower or raise it).
    pub max_body_bytes: usize,
    /// Longest a single HTTP request may take before it is answered with 408.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// After SIGTERM/SIGINT: how long in-flight requests may run before the process exits anyway.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Deadline for each dependency check of `/readyz`.
    #[serde(with = "humantime_serde")]
    pub readiness_timeout: Duration,
    /// Threads of the async runtime that run every request, session and flow. `0`: one per core (or
    /// `TOKIO_WORKER_THREADS` when set). Fewer than the cores suits a host the process shares with other busy
    /// processes: an idle worker is woken to steal every burst of work, and on a crowded host those wake-ups cost
    /// more than the parallelism gives (docs/performance.md, "Worker threads").
    pub worker_threads: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_port: 8080,
            ws_port: Some(8081),
            admin_port: Some(8082),
            listen: IpAddr::from([127, 0, 0, 1]),
            public_url: Url::parse("http://localhost:8080").expect("static URL"),
            cors_origins: vec!["http://localhost:3000".into(), "http://localhost:8080".into()],
            trusted_proxies: Vec::new(),
            public_roles: None,
            metrics_on_admin_port: false,
            metrics_upkeep_interval: Duration::from_secs(5),
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            readiness_timeout: Duration::from_secs(2),
            worker_threads: 0,
        }
    }
}

/// Database connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` or `postgres://user:password@host:port/db`.
    pub url: ConnectionUrl,
    /// Largest number of pooled connections.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How long a request waits for a pooled connection.
    #[serde(default = "default_acquire_timeout", with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the file lock before failing.
    #[serde(default = "default_busy_timeout", with = "humantime_serde")]
    pub busy_timeout: Duration,
}

impl DatabaseConfig {
    /// A database section with the given URL and default pool settings.
    pub fn with_url(url: impl Into<String>) -> Self {
        DatabaseConfig {
            url: ConnectionUrl::new(url),
            max_connections: default_max_connections(),
            acquire_timeout: default_acquire_timeout(),
            busy_timeout: default_busy_timeout(),
        }
    }
}

fn default_max_connections() -> u32 {
    10
}
fn default_acquire_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_busy_timeout() -> Duration {
    Duration::from_secs(5)
}

/// Optional shared cache (and shared rate-limit counters).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `redis://host:port`; unset keeps caches and rate-limit counters in process.
    pub redis_url: Option<ConnectionUrl>,
    /// Deadline of connecting to Redis and of every command; past it the caller treats Redis as unavailable.
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            redis_url: None,
            redis_timeout: Duration::from_millis(500),
        }
    }
}

/// Where tenant configuration comes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantsConfig {
    /// Database URL holding the tenants table, read-only (engine role). Roles with a `database` use that one.
    pub source: Option<ConnectionUrl>,
}

/// Admin API (backend role).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Bearer token of the admin API. The admin listener refuses every request while it is unset.
    pub token: Option<Secret>,
    /// Address the admin listener binds to, apart from `server.listen`: loopback unless the operator exposes it.
    pub listen: IpAddr,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            token: None,
            listen: IpAddr::from([127, 0, 0, 1]),
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// `trace`, `debug`, `info`, `warn`, `error`, or a tracing filter directive (`RUST_LOG` wins when set).
    pub level: String,
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".into(),
            format: LogFormat::Json,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (production, and what the test harness parses).
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}
