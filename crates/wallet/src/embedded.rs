//! The engine embedded in this process: `walletd-engine` built from the device configuration (its own egress guard
//! and trust client, the registry URL, no database, no token validation: the holder is the only user), driven
//! through the engine's in-memory link, so the flows are the server's flow code and nothing about them leaves the
//! device except the calls to issuers, verifiers, the PDP and the registry.

use walletd_common::config::JwtConfig;
use walletd_common::http::{AuthUser, Authenticator};
use walletd_common::jwt::JwtValidator;
use walletd_common::limits::RateLimiter;
use walletd_egress::EgressClient;
use walletd_engine::{Engine, EngineOptions};
use walletd_trust::TrustClient;

use crate::agent::{Agent, AgentError, AgentLimits};
use crate::device::DeviceConfig;
use crate::link::Link;

/// The user the embedded engine's sessions run as (the device's holder; the engine keeps no per-user state).
const LOCAL_USER: &str = "local-holder";
const LOCAL_TENANT: &str = "default";
/// The handshake's token on an in-memory session (not validated: the session is trusted by construction).
const LOCAL_TOKEN: &str = "-";

/// An engine in this process. Cheap to clone; build it once and open a session per flow or per app run.
#[derive(Clone)]
pub struct EmbeddedEngine {
    engine: Engine,
}

impl std::fmt::Debug for EmbeddedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmbeddedEngine")
    }
}

impl EmbeddedEngine {
    /// Builds the engine from the device configuration.
    pub fn new(cfg: &DeviceConfig) -> Result<EmbeddedEngine, String> {
        walletd_egress::tls::load_system_roots().map_err(|e| format!("cannot load the system CA roots: {e}"))?;
        let egress = EgressClient::new(cfg.egress.clone()).map_err(|e| format!("egress: {e}"))?;
        let trust = TrustClient::new(cfg.trust.clone()).map_err(|e| format!("trust: {e}"))?;
        // Sessions are opened through the link already authenticated; no token is ever validated.
        let authenticator = Authenticator::new(JwtValidator::new(&JwtConfig::default(), None), Vec::new());
        let engine = Engine::new(EngineOptions {
            config: cfg.engine.limits.clone(),
            authenticator,
            egress,
            allowed_origins: Vec::new(),
            trust: Some(trust),
            registry_url: cfg.registry.url.clone(),
            type_metadata: None,
            directory: None,
            rate_limits: RateLimiter::unlimited(),
            wallet_provider: None,
            iacas: None,
        })
        .map_err(|e| e.to_string())?;
        Ok(EmbeddedEngine { engine })
    }

    /// A new in-memory session (already authenticated as the device's holder; the handshake frame still opens
    /// it and declares the features, its token is not looked at).
    pub async fn link(&self) -> Result<Link, String> {
        let user = AuthUser {
            user_id: LOCAL_USER.into(),
            tenant_id: LOCAL_TENANT.into(),
            expires_at: 0,
        };
        let (tx, rx) = self.engine.connect_local(user).await.map_err(|e| e.to_string())?;
        Ok(Link::memory(tx, rx))
    }

    /// An agent on a new in-memory session, handshaken.
    pub async fn agent(&self, limits: AgentLimits) -> Result<Agent, AgentError> {
        let link = self.link().await.map_err(|e| AgentError::at("embedded_engine", e))?;
        let mut agent = Agent::new(link, limits);
        agent.handshake(LOCAL_TOKEN).await?;
        Ok(agent)
    }

    /// The engine (for shutting it down).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// An agent on a fresh embedded engine built from `cfg`.
pub async fn embedded_agent(cfg: &DeviceConfig, limits: AgentLimits) -> Result<Agent, AgentError> {
    let engine = EmbeddedEngine::new(cfg).map_err(|e| AgentError::at("embedded_engine", e))?;
    engine.agent(limits).await
}
