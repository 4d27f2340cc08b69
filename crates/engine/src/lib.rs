//! # walletd-engine: API v2 over WebSocket and Server-Sent Events, as a library
//!
//! The engine runs OID4VCI, OID4VP and VCTM flows for a client connected over a WebSocket, over Server-Sent Events
//! plus POSTed frames, or (embedded) over in-memory channels (docs/api-v2.md). One session implementation drives
//! all three links (`session`). It keeps nothing but the state of live sessions: no database, no files. Every outbound call to a URL taken from an
//! offer or metadata goes through the egress guard; PDP and registry URLs are operator configuration.
//!
//! [`Engine::router`] serves `GET /api/v2/wallet` and the SSE endpoints; [`Engine::connect_local`] starts an
//! in-memory session; [`Engine::shutdown`] closes every session with 1001.
#![warn(missing_docs)]

mod directory;
mod failure;
mod flow;
pub mod mdoc;
pub mod oid4vci;
pub mod oid4vp;
mod session;
mod sse;
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
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;
use url::Url;
use walletd_common::config::EngineConfig;
use walletd_common::http::Authenticator;
use walletd_common::limits::RateLimiter;
use walletd_egress::EgressClient;
use walletd_trust::TrustClient;

pub use directory::{
    IssuerClient, ObtainedWia, ProviderRefusal, RegisteredVerifier, TenantDirectory, TypeMetadataSource,
    WalletProviderPort,
};
pub use failure::{FlowFailure, FlowResult};
pub use flow::{FlowCtx, FlowInput, NotificationTarget};

/// The path of the WebSocket endpoint.
pub const WS_PATH: &str = "/api/v2/wallet";
/// The SSE stream (`GET ?session=`).
pub const SSE_PATH: &str = "/api/v2/wallet/sse";
/// SSE session creation (`POST`, bearer token).
pub const SSE_SESSION_PATH: &str = "/api/v2/wallet/sse/session";
/// SSE client frames (`POST ?session=`).
pub const SSE_MESSAGE_PATH: &str = "/api/v2/wallet/sse/message";

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
    /// The wallet provider of this process, asked for key attestations on the client's behalf (clients with the
    /// `provider_attestations` feature); `None` leaves attestations to the client.
    pub wallet_provider: Option<Arc<dyn WalletProviderPort>>,
    /// The process's IACA list cache (shared with the backend's `/helper/iaca-list`); `None` gives the engine one
    /// of its own.
    pub iacas: Option<Arc<mdoc::IacaCache>>,
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
    wallet_provider: Option<Arc<dyn WalletProviderPort>>,
    registry_http: reqwest::Client,
    connections: AtomicUsize,
    sse: sse::Registry,
    shutdown: CancellationToken,
    /// The issuers' IACA lists (mdoc trust), cached per `mdoc_iacas_uri`.
    iacas: Arc<mdoc::IacaCache>,
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
                wallet_provider: opts.wallet_provider,
                registry_http,
                connections: AtomicUsize::new(0),
                sse: sse::Registry::default(),
                shutdown: CancellationToken::new(),
                iacas: opts.iacas.unwrap_or_default(),
            }),
        })
    }

    /// `GET /api/v2/wallet` (WebSocket) and the SSE endpoints. `POST` [`SSE_MESSAGE_PATH`] takes bodies up to
    /// `engine.max_message_bytes`: mount the router where no smaller request body limit applies.
    pub fn router(&self) -> Router {
        Router::new()
            .route(WS_PATH, get(upgrade))
            .route(SSE_SESSION_PATH, post(sse::routes::create))
            .route(SSE_PATH, get(sse::routes::stream))
            .route(SSE_MESSAGE_PATH, post(sse::routes::message))
            .with_state(self.clone())
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    /// The egress guard.
    pub fn egress(&self) -> &EgressClient {
        &self.inner.egress
    }

    /// The wallet provider asked for attestations on the client's behalf, when this process has one.
    pub fn wallet_provider(&self) -> Option<&Arc<dyn WalletProviderPort>> {
        self.inner.wallet_provider.as_ref()
    }

    /// Open sessions (WebSocket, SSE and in-memory).
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Live SSE sessions.
    pub fn sse_sessions(&self) -> usize {
        self.inner.sse.len()
    }

    pub(crate) fn sse(&self) -> &sse::Registry {
        &self.inner.sse
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

/// Why [`Engine::connect_local`] refused to start a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRefused {
    /// The API v2 code (`FORBIDDEN` for a refused tenant, `TOO_MANY_REQUESTS` for a spent budget or the
    /// connection cap, `INTERNAL_ERROR` when the tenant cannot be read or the engine shuts down).
    pub code: walletd_protocol::ErrorCode,
    /// What a person reads.
    pub message: String,
}

impl std::fmt::Display for SessionRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SessionRefused {}

impl Engine {
    /// Starts an API v2 session for `user`, already authenticated by the calling program (an embedded engine: the
    /// native wallet), over in-memory channels instead of a socket. Returns the sender of client frames and the
    /// receiver of server frames: the same JSON text as WebSocket text frames, and the same session (flows, limits,
    /// timeouts, one terminal frame per flow) as `GET /api/v2/wallet`.
    ///
    /// The first frame must still be a `handshake` (within `engine.handshake_timeout`); its `features` choose the
    /// profile as over a WebSocket, its `app_token` is not validated (any string). It is answered with
    /// `handshake_complete`. The tenant must be usable and the user's connection budget (`rate_limits.engine_*`)
    /// is spent here, as at a WebSocket handshake; the session counts against `engine.max_connections`.
    /// `user.expires_at` (seconds since the epoch; 0 = never) ends the session like a token's expiry.
    ///
    /// The session ends when the caller drops the sender (every flow is cancelled) or on the engine's shutdown;
    /// the receiver then yields `None`. A caller that stops reading for `engine.read_timeout` ends it too.
    /// Must be called within a tokio runtime (the session is a task).
    pub async fn connect_local(
        &self,
        mut user: walletd_common::http::AuthUser,
    ) -> Result<(tokio::sync::mpsc::Sender<String>, tokio::sync::mpsc::Receiver<String>), SessionRefused> {
        let slot = self.admit(&user).await?;
        if user.expires_at == 0 {
            user.expires_at = u64::MAX;
        }
        let frames = self.inner.cfg.outbound_queue_frames.max(1);
        let (to_engine, from_client) = tokio::sync::mpsc::channel(frames);
        let (to_client, from_engine) = tokio::sync::mpsc::channel(frames);
        let link = session::local::LocalLink { from_client, to_client };
        tokio::spawn(session::run_link(
            self.clone(),
            link,
            slot,
            session::Admission::Trusted,
            Some(user),
        ));
        Ok((to_engine, from_engine))
    }

    /// Admits a new session of an authenticated `user` that does not go through a token handshake: not shutting
    /// down, the tenant usable, the user's connection budget, a connection slot.
    pub(crate) async fn admit(&self, user: &walletd_common::http::AuthUser) -> Result<ConnectionSlot, SessionRefused> {
        use walletd_protocol::ErrorCode;
        if self.inner.shutdown.is_cancelled() {
            return Err(SessionRefused {
                code: ErrorCode::InternalError,
                message: "the engine is shutting down".into(),
            });
        }
        tenant_policy::admit_session(self, user)
            .await
            .map_err(|r| SessionRefused {
                code: r.code,
                message: r.message,
            })?;
        ConnectionSlot::acquire(self).ok_or_else(|| SessionRefused {
            code: ErrorCode::TooManyRequests,
            message: "too many connections".into(),
        })
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
