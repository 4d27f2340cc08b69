//! What to run (the [`Plan`], checked without I/O) and the running application's parts (the [`App`]).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use walletd_auth::KeyRing;
use walletd_common::config::{Config, ConfigError};
use walletd_common::http::{self, Authenticator, HealthState, Readiness, StatusInfo};
use walletd_common::jwt::JwtValidator;
use walletd_common::revocation::EpochCheck;
use walletd_common::{Role, RoleSet};
use walletd_db::Store;
use walletd_egress::EgressClient;
use walletd_trust::TrustClient;

use crate::checks;
use crate::private_data::StoragePrivateData;
use crate::tenant_directory::{StoreDirectory, StoreLimitSource};
use crate::type_metadata::LocalRegistry;

/// Most users whose session epoch one process caches.
const REVOCATION_CACHE_ENTRIES: u64 = 100_000;

/// A validated decision of which roles run with which configuration. Building it does no I/O.
pub struct Plan {
    pub config: Config,
    pub roles: RoleSet,
}

impl Plan {
    /// Combines the configuration with `--mode` (which wins over `mode:` in the file; the default is all roles)
    /// and checks that every chosen role has what it needs.
    pub fn new(config: Config, cli_mode: Option<RoleSet>) -> Result<Plan, ConfigError> {
        let roles = match cli_mode {
            Some(r) => r,
            None => config.configured_roles()?.unwrap_or_else(RoleSet::all),
        };
        if roles.needs_database() && config.database.is_none() {
            let needing: Vec<&str> = roles.iter().filter(|r| r.needs_database()).map(Role::name).collect();
            return Err(ConfigError::Invalid {
                key: "database.url".into(),
                message: format!("the {} role(s) need a database; set database.url", needing.join(", ")),
            });
        }
        let validates_tokens = roles.contains(Role::Storage)
            || roles.contains(Role::Engine)
            || roles.contains(Role::Backend)
            || roles.contains(Role::WalletProvider);
        if validates_tokens
            && !roles.contains(Role::Auth)
            && config.jwt.jwks_url.is_none()
            && config.jwt.secret.is_none()
        {
            return Err(ConfigError::Invalid {
                key: "jwt.jwks_url".into(),
                message: "without the auth role in this process, tokens are validated with the auth role's JWKS: \
                          set jwt.jwks_url (or the legacy jwt.secret)"
                    .into(),
            });
        }
        Ok(Plan { config, roles })
    }

    /// The effective configuration as YAML, secrets redacted, with `mode` showing the roles that will run.
    pub fn effective_config_yaml(&self) -> String {
        let mut config = self.config.clone();
        config.mode = Some(self.roles.to_string());
        serde_yaml_ng::to_string(&config).unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
    }

    /// Where the auth role keeps its signing key.
    pub fn signing_key_path(&self) -> PathBuf {
        self.config
            .jwt
            .signing_key_file
            .clone()
            .unwrap_or_else(|| self.config.data_dir.0.join("signing-key.pem"))
    }
}

/// The routers of each listener plus what shutdown needs.
pub struct App {
    /// Main listener: health, metrics, every role's REST routes.
    pub http: Router,
    /// WebSocket-only listener (engine role), when configured.
    pub ws: Option<Router>,
    /// Admin listener (backend and wallet-provider roles), when configured.
    pub admin: Option<Router>,
    pub readiness: Readiness,
    pub store: Option<Store>,
    /// The engine role, closed (1001) at shutdown before the listeners stop.
    pub engine: Option<walletd_engine::Engine>,
}

/// Connects what the roles need and assembles their routes.
pub async fn build(plan: &Plan) -> anyhow::Result<App> {
    let cfg = &plan.config;
    let roles = &plan.roles;
    // Every outbound HTTP client shares one TLS configuration; the system CA roots it verifies with are read after
    // start-up (serve::run), since nothing before the first outbound request needs them.
    // The metrics recorder calibrates its clock for milliseconds: installed on a thread of its own, waited for by
    // nothing (telemetry::start_metrics_recorder).
    walletd_common::telemetry::start_metrics_recorder();

    let store = match (&cfg.database, roles.needs_database()) {
        (Some(db), true) => Some(
            Store::connect(db)
                .await
                .with_context(|| format!("cannot open the database {}", db.url.redacted()))?,
        ),
        _ => None,
    };

    let mut readiness = Readiness::new(cfg.server.readiness_timeout);
    if let Some(store) = &store {
        let store = store.clone();
        readiness.add("database", move || {
            let store = store.clone();
            async move { store.ping().await.map_err(|_| "database unreachable".to_string()) }
        });
    }
    // One Redis connection per process: the registry's cache and the rate limiter share it.
    let redis = match &cfg.cache.redis_url {
        Some(url) => Some(
            walletd_common::redis::SharedRedis::connect(url.expose(), cfg.cache.redis_timeout)
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    if let Some(redis) = &redis {
        let redis = redis.clone();
        // Optional: without Redis the limiter counts per process and the registry caches per process.
        readiness.add_optional("redis", move || {
            let redis = redis.clone();
            async move { redis.ping().await }
        });
    }
    // Tenant configuration for the roles without a database of their own (the engine): `tenants.source`, read-only.
    let tenants = match (&store, &cfg.tenants.source) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(url)) if roles.contains(Role::Engine) => Some(
            Store::connect_read_only(&walletd_common::config::DatabaseConfig::with_url(url.expose()))
                .await
                .with_context(|| format!("cannot open tenants.source {}", url.redacted()))?,
        ),
        _ => None,
    };
    // One rate limiter per process (every role's budgets; tenant overrides from the tenant table when there is one).
    let limiter = walletd_common::limits::RateLimiter::new(
        cfg,
        redis.clone(),
        tenants.clone().map(|s| {
            let src: Arc<dyn walletd_common::limits::TenantLimitSource> = Arc::new(StoreLimitSource(s));
            src
        }),
    );
    if roles.contains(Role::Engine)
        && !roles.contains(Role::Registry)
        && let Some(registry) = &cfg.registry.url
    {
        let health = registry
            .join("healthz")
            .context("registry.url cannot be joined with /healthz")?;
        let client = checks::dependency_client(cfg.server.readiness_timeout);
        readiness.add("registry", move || {
            let (client, health) = (client.clone(), health.clone());
            async move { checks::http_ok(&client, health).await }
        });
    }

    // One egress guard and one trust client for every role of the process: one outbound connection pool and one
    // verdict cache (an issuer the engine found trusted is not asked about again by the registry). Both are cheap to
    // build and clone; the backend's trust worker keeps its own uncached client on purpose.
    let egress = EgressClient::new(cfg.egress.clone()).context("invalid egress configuration")?;
    let trust = TrustClient::new(cfg.trust.clone()).context("invalid trust configuration")?;

    let auth_ring = async {
        if !roles.contains(Role::Auth) {
            return Ok(None);
        }
        // The signing key ring lives in the database, shared by every auth replica; the key file seeds it and its
        // key wraps the stored keys (docs/keyring.md).
        let path = plan.signing_key_path();
        let ring_store = store.clone().context("the auth role needs the database")?;
        let ring = KeyRing::open(ring_store, &path, walletd_auth::RingSettings::from_config(cfg))
            .await
            .context("cannot open the signing key ring")?;
        anyhow::Ok(Some(ring))
    };
    let provider_signer = async {
        if !roles.contains(Role::WalletProvider) {
            return Ok(None);
        }
        let store = store.clone().context("the wallet-provider role needs the database")?;
        crate::wallet_provider::open_signer(cfg, store).await.map(Some)
    };
    let registry = async {
        if !roles.contains(Role::Registry) {
            return None;
        }
        let rc = &cfg.registry;
        let cache = match &redis {
            Some(redis) => walletd_registry::Cache::redis(redis.clone(), &rc.cache_prefix),
            None => walletd_registry::Cache::memory(10_000, rc.max_ttl + rc.stale_ttl),
        };
        // Anonymous callers may have the registry fetch only the configured sources for free; anything else spends
        // their budget (docs/security.md "Anonymous fetchers"). The engine of this process is not counted.
        let gate = walletd_registry::FetchGate::new(rc, limiter.clone(), store.clone());
        let registry =
            walletd_registry::Registry::new(rc.clone(), egress.clone(), cache, store.clone(), gate.clone()).await;
        Some((registry, gate))
    };
    // One after the other, not together: started together, each took a pooled SQLite connection of its own, so
    // start-up opened three more connections (a thread each, and each parsing the schema) where one suffices: with
    // one connection a start costs a quarter less CPU and is no slower (docs/performance.md "Start-up").
    let keyring = auth_ring.await?;
    let provider_signer = provider_signer.await?;
    let registry = registry.await;
    let validator = JwtValidator::new(&cfg.jwt, keyring.as_ref().map(KeyRing::local_keys));
    // The engine reads tenant configuration (and session epochs) from this process's own store in all-mode, else
    // from `tenants.source` opened read-only: the `tenants` opened above, not a second pool on the same source.
    let tenants = if roles.contains(Role::Engine) { tenants } else { None };
    // Revocation: every role's bearer validation checks the user's session epoch in the database.
    match store.clone().or_else(|| tenants.clone()) {
        Some(epochs) => validator.check_session_epochs(EpochCheck::new(
            Arc::new(epochs),
            cfg.jwt.revocation_cache_ttl,
            REVOCATION_CACHE_ENTRIES,
        )),
        None if roles.contains(Role::Engine) => tracing::warn!(
            "the engine has no tenants.source: revoked access tokens (logout, deleted accounts) are accepted \
             until they expire"
        ),
        None => {}
    }

    // Role routes: one block per role, each merging the role's routers (service API and compat API) into `routes`
    // (what each offers in `/status` is crate::capabilities).
    let mut routes = Router::new();
    // One storage service per process: the storage role's routes and the auth role's keystore writes share its
    // caches, so a keystore write is seen by the next sync poll at once (storage.sync_head_ttl).
    let storage_service = match &store {
        Some(store) if keyring.is_some() || roles.contains(Role::Storage) => Some(
            walletd_storage::StorageService::with_limits(store.clone(), cfg.storage.clone(), limiter.clone()),
        ),
        _ => None,
    };
    // -- auth --
    if let Some(ring) = &keyring {
        routes = routes.merge(walletd_auth::jwks_routes(ring.clone(), cfg.auth.jwks_max_age));
        let store = store.clone().context("the auth role needs the database")?;
        // privateData is the storage role's keystore blob: auth reads and writes it through the storage service
        // (same database), also when the storage role runs in another process.
        // The auth role's writes spend no storage write budget (the private data is auth's own step).
        let storage = storage_service.as_ref().context("the auth role needs the database")?;
        let private: Arc<dyn walletd_auth::PrivateDataStore> =
            Arc::new(StoragePrivateData(storage.without_write_budget()));
        let service = Arc::new(
            walletd_auth::AuthService::new(store.clone(), cfg, ring.clone(), private)
                .with_oidc_gate(egress.clone(), cfg)
                .with_limits(limiter.clone()),
        );
        let auth = http::Authenticator::new(validator.clone(), vec![cfg.jwt.audience.clone()]);
        routes = routes.merge(walletd_auth::routes(service, auth));
        walletd_auth::spawn_maintenance(ring.clone(), store, cfg);
    }
    // -- storage --
    if roles.contains(Role::Storage) {
        let service = storage_service.clone().context("the storage role needs the database")?;
        // The general access token (aud `jwt.audience`) and a storage-scoped one (aud `storage`) are both accepted.
        let auth = http::Authenticator::new(validator.clone(), vec![cfg.jwt.audience.clone(), "storage".into()]);
        routes = routes
            .merge(walletd_storage::routes(service.clone(), auth.clone()))
            .merge(walletd_storage::compat_routes(
                service.clone(),
                auth,
                cfg.features.legacy_credential_records,
            ));
        // Tombstones expire even when no backend role runs beside storage. With the backend role in this process
        // its cleanup worker purges them (every workers.cleanup_interval), so this hourly task would only repeat it.
        // The purge is idempotent, so separate storage replicas may all run it.
        if !roles.contains(Role::Backend) {
            tokio::spawn(async move {
                let mut every = walletd_common::background::interval(std::time::Duration::from_secs(3600));
                loop {
                    every.tick().await;
                    if let Err(e) = service.purge_expired_tombstones().await {
                        tracing::warn!(error = %e, "tombstone purge failed");
                    }
                }
            });
        }
    }
    // -- registry -- (before the engine, which asks it directly when both run in this process)
    let mut local_registry: Option<walletd_registry::Registry> = None;
    if let Some((registry, gate)) = registry {
        let rc = &cfg.registry;
        registry.spawn_polling();
        let issuers =
            walletd_registry::IssuerMetadataResolver::new(egress.clone(), trust.clone(), rc.issuer_metadata_ttl, gate);
        routes = routes.merge(walletd_registry::registry_routes(walletd_registry::RegistryState {
            registry: registry.clone(),
            issuers,
            store: store.clone(),
            admin_token: cfg.admin.token.clone(),
            auth: Some(Authenticator::new(validator.clone(), vec![cfg.jwt.audience.clone()])),
            trusted_proxies: cfg.server.trusted_proxies.clone(),
        }));
        local_registry = Some(registry);
    }
    // -- wallet-provider -- (before the engine, which asks it directly when both run in this process)
    let mut provider_admin: Option<Router> = None;
    let mut local_provider: Option<walletd_wallet_provider::WalletProviderService> = None;
    if let Some(signer) = provider_signer {
        let store = store.clone().context("the wallet-provider role needs the database")?;
        let auth = Authenticator::new(validator.clone(), vec![cfg.jwt.audience.clone()]);
        let provider = crate::wallet_provider::build(cfg, store, signer, auth, limiter.clone());
        routes = routes.merge(provider.routes);
        provider_admin = Some(provider.admin);
        local_provider = Some(provider.service);
    }
    // One IACA list cache per process: the engine's mdoc checks and the backend's /helper/iaca-list.
    let iacas = Arc::new(walletd_common::mdoc_iacas::IacaCache::default());
    // -- engine --
    // `engine_routes` serves `/api/v2/wallet` (WebSocket) and `/api/v2/wallet/sse*`; it joins the main listener and
    // is the whole WebSocket-only listener, with its own request body limit (SSE frames up to
    // `engine.max_message_bytes`, like WebSocket frames).
    let mut engine_routes = Router::new();
    let engine = if roles.contains(Role::Engine) {
        // The upgrade accepts the CORS origins and the WebAuthn RP origins (a missing Origin is a native client).
        let mut origins = cfg.server.cors_origins.clone();
        origins.extend(cfg.webauthn.rp_origins.iter().map(|u| u.origin().ascii_serialization()));
        // Tenant configuration: this process's own store (all-mode), else `tenants.source` opened read-only.
        let directory = tenants.clone().map(|store| {
            let d: Arc<dyn walletd_engine::TenantDirectory> = Arc::new(StoreDirectory(store));
            d
        });
        let engine = walletd_engine::Engine::new(walletd_engine::EngineOptions {
            config: cfg.engine.clone(),
            // The general token (the web client's `appToken`) or one exchanged for the `engine` audience at
            // `/auth/token` (a native wallet's: it opens nothing else).
            authenticator: http::Authenticator::new(validator.clone(), vec![cfg.jwt.audience.clone(), "engine".into()]),
            egress: egress.clone(),
            allowed_origins: origins,
            // Always present: a tenant may have its own PDP even when there is no global one.
            trust: Some(trust.clone()),
            registry_url: cfg.registry.url.clone(),
            type_metadata: local_registry.map(|r| {
                let port: Arc<dyn walletd_engine::TypeMetadataSource> = Arc::new(LocalRegistry(r));
                port
            }),
            directory,
            rate_limits: limiter.clone(),
            wallet_provider: local_provider.map(|p| {
                let port: Arc<dyn walletd_engine::WalletProviderPort> =
                    Arc::new(crate::wallet_provider::LocalProvider(p));
                port
            }),
            iacas: Some(iacas.clone()),
        })
        .context("cannot build the engine")?;
        engine_routes = engine.router();
        Some(engine)
    } else {
        None
    };
    let engine_server = {
        let mut s = cfg.server.clone();
        s.max_body_bytes = s.max_body_bytes.max(cfg.engine.max_message_bytes);
        s
    };
    // -- backend --
    let mut admin_routes: Option<Router> = None;
    if roles.contains(Role::Backend)
        && let Some(store) = &store
    {
        let auth = Authenticator::new(validator.clone(), vec![cfg.jwt.audience.clone(), "backend".into()]);
        routes = routes
            .merge(walletd_backend::trust_routes(walletd_backend::TrustRoutesState {
                store: store.clone(),
                trust: trust.clone(),
                auth: auth.clone(),
            }))
            .merge(walletd_backend::proxy_routes(walletd_backend::ProxyState {
                mode: cfg.features.legacy_proxy,
                max_response_bytes: cfg.features.legacy_proxy_max_response_bytes,
                metadata: walletd_backend::MetadataProxy::new(
                    egress.clone(),
                    walletd_backend::MetadataProxySettings {
                        max_response_bytes: cfg.features.metadata_proxy_max_response_bytes,
                        cache_max_bytes: cfg.features.metadata_proxy_cache_max_bytes,
                        cache_ttl: cfg.features.metadata_proxy_cache_ttl,
                    },
                ),
                egress: egress.clone(),
                auth: auth.clone(),
            }));
        let admin_service = walletd_backend::AdminService::new(store.clone());
        routes = routes.merge(walletd_backend::compat_routes(walletd_backend::CompatState {
            service: admin_service.clone(),
            auth,
            egress: egress.clone(),
            iacas: walletd_backend::IacaSettings {
                cache: iacas.clone(),
                limits: walletd_common::mdoc_iacas::IacaLimits::from_config(&cfg.engine),
                max_issuers: cfg.engine.mdoc_iacas_max_issuers,
            },
        }));
        admin_routes = Some(walletd_backend::admin_routes(walletd_backend::AdminState {
            service: admin_service,
            token: cfg.admin.token.clone(),
        }));
        // Key rotation stays with the auth role's maintenance task (the shared key ring, auth.key_rotation_interval);
        // the backend's hook is left unset so keys are never rotated twice.
        let settings = walletd_backend::WorkerSettings {
            trust_interval: cfg.workers.trust_interval,
            default_trust_ttl: cfg.trust.cache_ttl,
            refresh_fraction: cfg.workers.trust_refresh_fraction,
            trust_batch: i64::from(cfg.workers.trust_batch),
            cleanup_interval: cfg.workers.cleanup_interval,
            tombstone_retention: cfg.storage.tombstone_retention,
            ..Default::default()
        };
        walletd_backend::Workers::new(
            store.clone(),
            &cfg.trust,
            Arc::new(walletd_backend::SystemClock),
            settings,
        )
        .context("invalid trust configuration")?
        .spawn();
    }
    if roles.contains(Role::Backend) || roles.contains(Role::Registry) {
        routes = routes.merge(walletd_backend::openapi_routes());
    }
    // -- end of role routes --

    walletd_common::telemetry::spawn_metrics_upkeep(cfg.server.metrics_upkeep_interval);
    let health = HealthState {
        readiness: readiness.clone(),
        status: Arc::new(StatusInfo {
            roles: roles.names(),
            capabilities: crate::capabilities::advertised(roles, cfg),
        }),
        metrics: !cfg.server.metrics_on_admin_port,
    };
    let routes = routes.merge(http::health_routes(health));
    let http =
        http::with_plumbing(routes, &cfg.server).merge(http::with_plumbing(engine_routes.clone(), &engine_server));

    let ws = match (roles.contains(Role::Engine), cfg.server.ws_port) {
        // The engine's `/api/v2/wallet` joins this listener (and the main one) with the engine role's routes.
        (true, Some(_)) => Some(http::with_plumbing(engine_routes, &engine_server)),
        _ => None,
    };

    let admin_listener = roles.contains(Role::Backend) || roles.contains(Role::WalletProvider);
    let admin = match (admin_listener, cfg.server.admin_port) {
        (true, Some(_)) => {
            let role_names = roles.names();
            let mut admin = Router::new().route(
                "/admin/status",
                get(move || {
                    let roles = role_names.clone();
                    async move {
                        axum::Json(
                            serde_json::json!({"status": "ok", "service": "wallet-backend-admin", "roles": roles}),
                        )
                    }
                }),
            );
            if cfg.server.metrics_on_admin_port {
                admin = admin.merge(http::metrics_route());
            }
            if let Some(extra) = provider_admin {
                admin = admin.merge(extra);
            }
            if let Some(extra) = admin_routes {
                admin = admin.merge(extra);
            }
            Some(http::with_plumbing(admin, &cfg.server))
        }
        _ => None,
    };

    Ok(App {
        http,
        ws,
        admin,
        readiness,
        store,
        engine,
    })
}
