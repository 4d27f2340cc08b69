//! # walletd-engine: API v2 over WebSocket, as a library
//!
//! The engine runs OID4VCI, OID4VP and VCTM flows for a client connected over a WebSocket (docs/api-v2.md). It
//! keeps nothing but the state of live sockets: no database, no files. Every outbound call to a URL taken from an
//! offer or metadata goes through the egress guard; PDP and registry URLs are operator configuration.
//!
//! [`Engine::router`] serves `GET /api/v2/wallet`; [`Engine::shutdown`] closes every socket with 1001.
#![warn(missing_docs)]

mod directory;
mod failure;
mod flow;
pub mod mdoc;
pub mod oid4vci;
pub mod oid4vp;
mod session;
mod tenant_policy;
mod trust_step;
mod vctm;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use url::Url;
use walletd_common::config::EngineConfig;
use walletd_common::http::Authenticator;
use walletd_common::limits::RateLimiter;
use walletd_egress::EgressClient;
use walletd_trust::TrustClient;

pub use directory::{IssuerClient, RegisteredVerifier, TenantDirectory, TypeMetadataSource};
pub use failure::{FlowFailure, FlowResult};
pub use flow::{FlowCtx, FlowInput, NotificationTarget};

/// The path of the WebSocket endpoint.
pub const WS_PATH: &str = "/api/v2/wallet";

/// What the engine is built from.
pub struct EngineOptions {
    /// `engine.*` limits and timeouts.
    pub config: EngineConfig,
    /// Token validation (the general access token's audience).
    pub authenticator: Authenticator,
    /// The egress guard (shared with the other roles of the process: one connection pool).
    pub egress: EgressClient,
    /// Allowed `Origin`s (CORS origins plus WebAuthn RP origins); `*` allows all. A missing Origin is accepted.
    pub allowed_origins: Vec<String>,
    /// The AuthZEN client, when issuer trust is evaluated server-side.
    pub trust: Option<TrustClient>,
    /// The registry role's base URL (type metadata); `None` skips type metadata unless `type_metadata` is set.
    pub registry_url: Option<Url>,
    /// The registry role of this process, asked directly (wins over `registry_url`).
    pub type_metadata: Option<Arc<dyn TypeMetadataSource>>,
    /// Read-only tenant configuration (trust settings, issuer registrations, verifiers, enabled flag, allowed
    /// protocols); `None` means none (every tenant in a token is accepted).
    pub directory: Option<Arc<dyn TenantDirectory>>,
    /// Budgets of connections and flow starts per user (`rate_limits.engine_*`).
    pub rate_limits: RateLimiter,
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: EngineConfig,
    auth: Authenticator,
    egress: EgressClient,
    origins: Vec<String>,
    trust: Option<TrustClient>,
    registry_url: Option<Url>,
    type_metadata: Option<Arc<dyn TypeMetadataSource>>,
    directory: Option<Arc<dyn TenantDirectory>>,
    rate_limits: RateLimiter,
    registry_http: reqwest::Client,
    connections: AtomicUsize,
    shutdown: CancellationToken,
    /// The issuers' IACA lists (mdoc trust), cached per `mdoc_iacas_uri`.
    iacas: mdoc::IacaCache,
}

/// Why an engine could not be built.
#[derive(Debug)]
pub struct EngineError(String);

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EngineError {}

impl Engine {
    /// Builds the engine (and the registry's HTTP client).
    pub fn new(opts: EngineOptions) -> Result<Engine, EngineError> {
        // The registry is operator configuration (trusted, may be private): a plain client with a short deadline.
        let registry_http = walletd_egress::tls::http_client_builder()
            .map_err(|e| EngineError(format!("registry client: {e}")))?
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EngineError(format!("registry client: {e}")))?;
        Ok(Engine {
            inner: Arc::new(Inner {
                cfg: opts.config,
                auth: opts.authenticator,
                egress: opts.egress,
                origins: opts
                    .allowed_origins
                    .into_iter()
                    .map(|o| o.trim_end_matches('/').to_string())
                    .collect(),
                trust: opts.trust,
                registry_url: opts.registry_url,
                type_metadata: opts.type_metadata,
                directory: opts.directory,
                rate_limits: opts.rate_limits,
                registry_http,
                connections: AtomicUsize::new(0),
                shutdown: CancellationToken::new(),
                iacas: mdoc::IacaCache::default(),
            }),
        })
    }

    /// `GET /api/v2/wallet`.
    pub fn router(&self) -> Router {
        Router::new().route(WS_PATH, get(upgrade)).with_state(self.clone())
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    /// The egress guard.
    pub fn egress(&self) -> &EgressClient {
        &self.inner.egress
    }

    /// Open WebSocket connections.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Closes every socket with 1001 (and refuses new ones), then waits up to `grace` for them to go.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutdown.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        while self.connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub(crate) fn iacas(&self) -> &mdoc::IacaCache {
        &self.inner.iacas
    }

    pub(crate) fn authenticator(&self) -> &Authenticator {
        &self.inner.auth
    }

    pub(crate) fn trust(&self) -> Option<&TrustClient> {
        self.inner.trust.as_ref()
    }

    /// The trust settings of `tenant_id` (its own PDP when it has one).
    pub(crate) async fn tenant_trust(&self, tenant_id: &str) -> walletd_trust::TenantTrustSettings {
        match &self.inner.directory {
            Some(d) => d
                .trust_settings(tenant_id)
                .await
                .unwrap_or_else(|| walletd_trust::TenantTrustSettings::new(tenant_id)),
            None => walletd_trust::TenantTrustSettings::new(tenant_id),
        }
    }

    /// The tenant's read-only configuration, when the process has one.
    pub(crate) fn directory(&self) -> Option<&dyn TenantDirectory> {
        self.inner.directory.as_deref()
    }

    pub(crate) fn rate_limits(&self) -> &RateLimiter {
        &self.inner.rate_limits
    }

    pub(crate) fn type_metadata_source(&self) -> Option<&dyn TypeMetadataSource> {
        self.inner.type_metadata.as_deref()
    }

    pub(crate) fn registry(&self) -> Option<(&Url, &reqwest::Client)> {
        self.inner.registry_url.as_ref().map(|u| (u, &self.inner.registry_http))
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true; // native clients send none
        };
        let Ok(origin) = origin.to_str() else { return false };
        let origin = origin.trim_end_matches('/');
        self.inner
            .origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

/// Counts a connection for its whole life; released on drop.
pub(crate) struct ConnectionSlot(Engine);

impl ConnectionSlot {
    fn acquire(engine: &Engine) -> Option<ConnectionSlot> {
        let cap = engine.inner.cfg.max_connections;
        engine
            .inner
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < cap).then_some(n + 1))
            .ok()
            .map(|_| ConnectionSlot(engine.clone()))
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.inner.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn upgrade(State(engine): State<Engine>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if !engine.origin_allowed(&headers) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    if engine.inner.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let Some(slot) = ConnectionSlot::acquire(&engine) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    let cfg = &engine.inner.cfg;
    ws.read_buffer_size(cfg.ws_read_buffer_bytes)
        .write_buffer_size(cfg.ws_write_buffer_bytes)
        .max_write_buffer_size(cfg.max_message_bytes.saturating_mul(2).max(64 * 1024))
        .max_message_size(cfg.max_message_bytes)
        .max_frame_size(cfg.max_message_bytes)
        .on_upgrade(move |socket| session::run(engine, socket, slot))
}
