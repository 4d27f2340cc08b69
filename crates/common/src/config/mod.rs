//! walletd configuration: the typed shape of the YAML file, its defaults, and how it is loaded.
//!
//! Loading order (later wins): built-in defaults, the YAML file (`--config`), `${VAR}` expansion inside the YAML's
//! string values, then `WALLET_<PATH>` environment overrides (`WALLET_SERVER__HTTP_PORT=9000`). Every struct denies
//! unknown keys, and every error names the key path it is about, so a typo never silently falls back to a default.

mod load;
mod secret;

pub use load::{ConfigError, load, load_from_str};
pub use secret::{ConnectionUrl, Secret};

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
    /// Serve `/metrics` on the admin listener instead of the main one.
    pub metrics_on_admin_port: bool,
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
            metrics_on_admin_port: false,
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            readiness_timeout: Duration::from_secs(2),
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

/// Optional shared cache.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `redis://host:port`; unset keeps caches in process.
    pub redis_url: Option<ConnectionUrl>,
}

/// Token validation (every role) and signing (auth role).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// `iss` of issued tokens, and the issuer required of validated ones.
    pub issuer: String,
    /// `aud` of the general access token handed to the web client; every role accepts it.
    pub audience: String,
    /// Where roles without the auth role fetch the signing keys.
    pub jwks_url: Option<Url>,
    /// Legacy HS256 shared secret. Accepted for validation only when set.
    pub secret: Option<Secret>,
    /// PKCS#8 PEM file of the ES256 signing key; generated on first start when missing. Defaults to
    /// `<data_dir>/signing-key.pem`.
    pub signing_key_file: Option<PathBuf>,
    /// Lifetime of access tokens.
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// Clock skew tolerated on `exp`/`nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// How long a fetched JWKS is used before it is fetched again.
    #[serde(with = "humantime_serde")]
    pub jwks_cache_ttl: Duration,
    /// Least time between two JWKS fetches caused by unknown `kid`s (stops a flood of forged kids from hammering auth).
    #[serde(with = "humantime_serde")]
    pub jwks_refetch_interval: Duration,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            issuer: "walletd".into(),
            audience: "walletd".into(),
            jwks_url: None,
            secret: None,
            signing_key_file: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            leeway: Duration::from_secs(30),
            jwks_cache_ttl: Duration::from_secs(300),
            jwks_refetch_interval: Duration::from_secs(10),
        }
    }
}

/// WebAuthn relying party (auth role); tenants may override `rp_id` and `rp_origins`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnConfig {
    pub rp_id: String,
    pub rp_name: String,
    pub rp_origins: Vec<Url>,
}

impl Default for WebauthnConfig {
    fn default() -> Self {
        WebauthnConfig {
            rp_id: "localhost".into(),
            rp_name: "walletd".into(),
            rp_origins: vec![
                Url::parse("http://localhost:8080").expect("static URL"),
                Url::parse("http://localhost:3000").expect("static URL"),
            ],
        }
    }
}

/// Auth role settings beyond `jwt` (token signing) and `webauthn` (the relying party).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of refresh tokens (each use rotates the token; the new one gets a fresh lifetime).
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// How long a WebAuthn ceremony may take between begin and finish.
    #[serde(with = "humantime_serde")]
    pub challenge_ttl: Duration,
    /// Ceremony and token requests allowed per client IP per minute (begin, finish, token refresh); more get 429.
    pub rate_limit_per_ip: u32,
    /// Login finishes allowed per passkey (credential id) per minute; more get 429.
    pub rate_limit_per_credential: u32,
    /// What a sign-count regression (possible cloned authenticator) does.
    pub sign_count_policy: SignCountPolicy,
    /// Attestation requested at registration.
    pub attestation: AttestationPolicy,
    /// With `attestation: direct`: AAGUIDs allowed to register (empty allows any not denied).
    pub aaguid_allow: Vec<String>,
    /// AAGUIDs refused at registration.
    pub aaguid_deny: Vec<String>,
    /// How often the token signing key is rotated; `~` never rotates automatically.
    #[serde(with = "humantime_serde")]
    pub key_rotation_interval: Option<Duration>,
    /// How long a new signing key is published in the JWKS before it signs tokens, so validators that cached the
    /// JWKS (and replicas that have not reloaded the key ring yet) learn it first. At least `jwks_max_age` and
    /// `key_reload_interval`.
    #[serde(with = "humantime_serde")]
    pub key_publish_delay: Duration,
    /// How often each auth replica reloads the shared key ring from the database (it also reloads, at most once
    /// per `jwt.jwks_refetch_interval`, when a token names a `kid` it does not know).
    #[serde(with = "humantime_serde")]
    pub key_reload_interval: Duration,
    /// `Cache-Control: max-age` of `/.well-known/jwks.json`.
    #[serde(with = "humantime_serde")]
    pub jwks_max_age: Duration,
    /// Most passkeys one account may hold.
    pub max_passkeys_per_user: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            challenge_ttl: Duration::from_secs(5 * 60),
            rate_limit_per_ip: 60,
            rate_limit_per_credential: 20,
            sign_count_policy: SignCountPolicy::Flag,
            attestation: AttestationPolicy::None,
            aaguid_allow: Vec::new(),
            aaguid_deny: Vec::new(),
            key_rotation_interval: None,
            key_publish_delay: Duration::from_secs(10 * 60),
            key_reload_interval: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(5 * 60),
            max_passkeys_per_user: 20,
        }
    }
}

/// Reaction to a passkey whose signature counter did not increase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignCountPolicy {
    /// Accept the login, mark the passkey and log a warning.
    #[default]
    Flag,
    /// Refuse the login (401 `sign_count_regression`).
    Reject,
}

/// Attestation conveyance requested at registration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestationPolicy {
    /// No attestation: the privacy-friendly default.
    #[default]
    None,
    /// Ask for the authenticator's attestation, verify its statement and apply `aaguid_allow`/`aaguid_deny`.
    Direct,
}

/// Where tenant configuration comes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantsConfig {
    /// Database URL holding the tenants table, read-only (engine role). Roles with a `database` use that one.
    pub source: Option<ConnectionUrl>,
}

/// The VCTM registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Base URL of the registry role, used by the engine (omit in `all` mode: it is in process).
    pub url: Option<Url>,
    /// Sources of VCTM documents polled by the registry role.
    pub vctm_sources: Vec<String>,
    /// Largest image embedded into type metadata as a `data:` URI.
    pub max_image_bytes: usize,
    /// Directory of local override documents (`*.json`, one VCTM each); they win over sources and fetches.
    pub overrides_dir: Option<PathBuf>,
    /// How often `vctm_sources` and `overrides_dir` are read again.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Fetch type metadata from an http(s) `vct` (through the egress guard) when no source knows it.
    pub fetch_on_demand: bool,
    /// Longest `extends` chain followed (a longer chain or a loop is an error).
    pub max_extends_depth: usize,
    /// Largest VCTM document or source list fetched.
    pub max_document_bytes: usize,
    /// Image media types that may be embedded; `image/svg+xml` images are refused when they contain scripts, event
    /// handlers or external references.
    pub image_content_types: Vec<String>,
    /// Freshness of resolved type metadata when upstream sends no `Cache-Control: max-age`/`Expires`.
    #[serde(with = "humantime_serde")]
    pub default_ttl: Duration,
    /// Upper bound of the freshness upstream headers may ask for.
    #[serde(with = "humantime_serde")]
    pub max_ttl: Duration,
    /// After freshness runs out, how long the old value is still served when upstream fails.
    #[serde(with = "humantime_serde")]
    pub stale_ttl: Duration,
    /// How long `/issuer-metadata` answers (metadata + trust verdict) are cached per tenant.
    #[serde(with = "humantime_serde")]
    pub issuer_metadata_ttl: Duration,
    /// Prefix of the registry's keys in the shared Redis cache.
    pub cache_prefix: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            url: None,
            vctm_sources: Vec::new(),
            max_image_bytes: 256 * 1024,
            overrides_dir: None,
            poll_interval: Duration::from_secs(300),
            fetch_on_demand: true,
            max_extends_depth: 5,
            max_document_bytes: 1024 * 1024,
            image_content_types: ["image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"]
                .map(String::from)
                .to_vec(),
            default_ttl: Duration::from_secs(3600),
            max_ttl: Duration::from_secs(24 * 3600),
            stale_ttl: Duration::from_secs(24 * 3600),
            issuer_metadata_ttl: Duration::from_secs(600),
            cache_prefix: "walletd:registry:".into(),
        }
    }
}

/// `ssrf:` alias section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsrfAlias {
    pub blocked_cidrs: Vec<ipnet::IpNet>,
}

/// Admin API (backend role).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Bearer token of the admin API. The admin listener refuses every request while it is unset.
    pub token: Option<Secret>,
}

/// Background workers of the backend role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// How often the trust worker looks for registered issuers/verifiers whose verdict is due.
    #[serde(with = "humantime_serde")]
    pub trust_interval: Duration,
    /// A verdict is refreshed once this fraction of its TTL has passed, so it never expires in use (0 < f <= 1).
    pub trust_refresh_fraction: f64,
    /// Most entities of each kind re-evaluated per trust run (bounds the load one run puts on the PDP).
    pub trust_batch: u32,
    /// How often expired challenges and old tombstones are removed.
    #[serde(with = "humantime_serde")]
    pub cleanup_interval: Duration,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig {
            trust_interval: Duration::from_secs(60),
            trust_refresh_fraction: 0.8,
            trust_batch: 200,
            cleanup_interval: Duration::from_secs(300),
        }
    }
}

/// Engine (API v2 WebSocket) limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Largest frame accepted after the handshake.
    pub max_message_bytes: usize,
    /// Largest frame accepted before the handshake.
    pub max_handshake_bytes: usize,
    /// Concurrent flows per WebSocket session.
    pub max_flows_per_session: usize,
    /// WebSocket connections per process; more are refused with 503 at upgrade.
    pub max_connections: usize,
    /// How long a new socket may take to send its handshake frame.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// Interval of the server's WebSocket pings.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// A socket from which nothing (frame or pong) arrives for this long is closed; so is one that accepts no frame
    /// the engine writes for this long (a client that does not read).
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
    /// Longest a whole flow may run.
    #[serde(with = "humantime_serde")]
    pub flow_timeout: Duration,
    /// Longest wait for a user action (PIN, selection, consent, authorization code).
    #[serde(with = "humantime_serde")]
    pub user_action_timeout: Duration,
    /// Longest wait for a `sign_response`.
    #[serde(with = "humantime_serde")]
    pub sign_timeout: Duration,
    /// Longest wait for a client-mediated `trust_result`.
    #[serde(with = "humantime_serde")]
    pub trust_timeout: Duration,
    /// Total deadline of each outbound request to an issuer or verifier (kept under the web client's 60 s).
    #[serde(with = "humantime_serde")]
    pub outbound_timeout: Duration,
    /// How long a web-profile client's deferred issuance is polled before the flow ends with `CREDENTIAL_ERROR`.
    #[serde(with = "humantime_serde")]
    pub web_deferred_window: Duration,
    /// How long what a `credential_notification` needs is kept in memory after `flow_complete`.
    #[serde(with = "humantime_serde")]
    pub notification_ttl: Duration,
    /// Frames queued for one flow before further frames for it are refused with `TOO_MANY_REQUESTS`.
    pub flow_inbox_frames: usize,
    /// Frames a session's flows may queue for the socket; a full queue makes the flows wait, so a client that does
    /// not read slows only itself and the engine never buffers without bound.
    pub outbound_queue_frames: usize,
    /// Frames that arrive before the handshake and are buffered until it is verified; more close the socket.
    pub max_buffered_frames: usize,
    /// WebSocket read buffer per socket (bytes); small keeps idle sockets cheap, frames grow it as needed.
    pub ws_read_buffer_bytes: usize,
    /// WebSocket write buffer per socket (bytes); 0 writes each frame at once (the engine flushes every frame).
    pub ws_write_buffer_bytes: usize,
    /// Most credentials requested in one credential request (`count` of `generate_proof`), further capped by the
    /// issuer's `batch_credential_issuance.batch_size`. 1 (the default) never asks for a batch.
    pub max_batch_size: usize,
    /// Issuer trust is decided by the client (`evaluating_trust` + `trust_result`) instead of the PDP.
    pub client_mediated_trust: bool,
    /// Largest issuer JWKS fetched from a metadata `jwks_uri` for the trust evaluation (bytes); the fetch also has
    /// `outbound_timeout`.
    pub jwks_max_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_message_bytes: 4 * 1024 * 1024,
            max_handshake_bytes: 64 * 1024,
            max_flows_per_session: 8,
            max_connections: 100_000,
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            flow_timeout: Duration::from_secs(10 * 60),
            user_action_timeout: Duration::from_secs(5 * 60),
            sign_timeout: Duration::from_secs(60),
            trust_timeout: Duration::from_secs(2 * 60),
            outbound_timeout: Duration::from_secs(15),
            web_deferred_window: Duration::from_secs(40),
            notification_ttl: Duration::from_secs(5 * 60),
            flow_inbox_frames: 16,
            outbound_queue_frames: 64,
            max_buffered_frames: 16,
            // Sized for idle sockets (docs/performance.md "Engine"): large frames still arrive, in more reads.
            ws_read_buffer_bytes: 1024,
            ws_write_buffer_bytes: 0,
            max_batch_size: 1,
            client_mediated_trust: false,
            jwks_max_bytes: 256 * 1024,
        }
    }
}

/// Storage role (client-encrypted blobs) limits. Tenants may override the three quotas (`Tenant::storage_quota`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Largest single blob, in bytes (decoded, not base64).
    pub max_blob_bytes: u64,
    /// Most live blobs one user may hold (tombstones do not count).
    pub max_blobs_per_user: u64,
    /// Most bytes of live blobs one user may hold.
    pub max_bytes_per_user: u64,
    /// How long a deletion stays in the sync feed as a tombstone. A device whose cursor is older than a purged
    /// tombstone is told `reset_required`.
    #[serde(with = "humantime_serde")]
    pub tombstone_retention: Duration,
    /// Items per page of `GET /storage/credentials` when `limit` is not given.
    pub page_size_default: u32,
    /// Largest `limit` honoured by `GET /storage/credentials` (larger values are lowered to it).
    pub page_size_max: u32,
    /// Changes per page of `GET /storage/sync` when `limit` is not given.
    pub sync_limit_default: u32,
    /// Largest `limit` honoured by `GET /storage/sync`.
    pub sync_limit_max: u32,
    /// A page of the sync feed or of a listing with `include=data` stops adding blobs once their data reaches this
    /// many bytes (at least one change is always returned), so pages of large blobs stay bounded.
    pub max_page_data_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            max_blob_bytes: 1024 * 1024,
            max_blobs_per_user: 10_000,
            max_bytes_per_user: 100 * 1024 * 1024,
            tombstone_retention: Duration::from_secs(30 * 24 * 3600),
            page_size_default: 100,
            page_size_max: 1000,
            sync_limit_default: 100,
            sync_limit_max: 1000,
            max_page_data_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Compatibility features that are off by default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// The v1 open proxy `POST /proxy` (egress-guarded). Being eliminated; off by default.
    pub legacy_proxy: bool,
    /// Largest upstream response body the legacy proxy relays.
    pub legacy_proxy_max_response_bytes: usize,
    /// Server-side credential records `/storage/vc*`, `/storage/vp`. Off by default.
    pub legacy_credential_records: bool,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        FeaturesConfig {
            legacy_proxy: false,
            legacy_proxy_max_response_bytes: 4 * 1024 * 1024,
            legacy_credential_records: false,
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
