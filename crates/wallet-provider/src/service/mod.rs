//! The wallet provider's service: plain async Rust over [`Store`] and an [`AttestationSigner`] (no HTTP types).
//! Key attestations (`key_attestation`), Wallet Instance Attestations with their challenges (`wia`), wallet
//! instances for operators (`instances`) and the signed status list (`status`). Every issuance and every revocation
//! is audit-logged here, so no adapter can forget it.

mod instances;
mod key_attestation;
mod records;
mod status;
mod wia;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use walletd_common::config::{Config, TenantAttestationLevels};
use walletd_common::tenant::{TenantRefusal, enabled_tenant};
use walletd_db::{AuditEntry, Store, StoreError, now_millis};

use walletd_common::limits::RateLimiter;

use crate::limits::RateLimited;
use crate::signer::{AttestationSigner, SignerError};

pub use key_attestation::{IssuedKeyAttestation, KeyAttestationRequest};
pub use status::StatusListToken;
pub use wia::{Challenge, IssuedWia, WiaRequest};

/// `typ` of a key attestation (OpenID4VCI 1.0 Appendix D.1).
pub const KEY_ATTESTATION_TYP: &str = "key-attestation+jwt";
/// `typ` of a Wallet Instance Attestation (OAuth attestation-based client authentication).
pub const WIA_TYP: &str = "oauth-client-attestation+jwt";
/// `typ` of the proof of possession of the instance key sent with a WIA request.
pub const WIA_POP_TYP: &str = "oauth-client-attestation-pop+jwt";
/// `typ` of the status list token.
pub const STATUS_LIST_TYP: &str = "statuslist+jwt";

/// Why a wallet-provider operation was refused or failed. The adapters map it to their error shape.
#[derive(Debug, thiserror::Error)]
pub enum WpError {
    /// The input breaks a rule; the message says which and is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The challenge is unknown, used, expired or another tenant's.
    #[error("the challenge is unknown, used or expired")]
    ChallengeInvalid,
    /// The proof of possession does not verify or is not for this challenge and provider.
    #[error("proof of possession refused: {0}")]
    PopInvalid(String),
    /// An operator revoked the wallet instance.
    #[error("the wallet instance is revoked")]
    InstanceRevoked,
    /// The instance belongs to another tenant or user.
    #[error("the wallet instance is registered to another tenant or user")]
    InstanceNotOwned,
    /// The WIA request names a passkey that is not one of the caller's.
    #[error("credential_id must be one of your own passkeys")]
    PasskeyNotOwned,
    /// No such instance (admin API, or a named instance of the caller).
    #[error("{0}")]
    NotFound(String),
    /// Over a rate limit or quota; retry after the given time.
    #[error("{0}")]
    RateLimited(RateLimited),
    /// The caller's tenant is unknown or disabled.
    #[error(transparent)]
    Tenant(#[from] TenantRefusal),
    /// The signer failed (token unreachable, key changed twice).
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// Every probed status list index was taken.
    #[error("the status list is full; raise wallet_provider.status_list_size")]
    StatusListFull,
    /// The attestation was issued (or the instance revoked) but could not be audit-logged.
    #[error("the operation was done but could not be audit-logged")]
    AuditFailed,
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WpError {
    /// A short machine-readable reason, the `error` code the HTTP routes answer with (for callers that are not
    /// HTTP, such as the engine of the same process).
    pub fn code(&self) -> &'static str {
        match self {
            WpError::Invalid(_) => "invalid_request",
            WpError::ChallengeInvalid => "challenge_invalid",
            WpError::PopInvalid(_) => "pop_invalid",
            WpError::InstanceRevoked => "instance_revoked",
            WpError::InstanceNotOwned => "instance_not_owned",
            WpError::PasskeyNotOwned => "forbidden",
            WpError::NotFound(_) => "not_found",
            WpError::RateLimited(_) => "rate_limited",
            WpError::Tenant(_) => "forbidden",
            WpError::Signer(_) | WpError::StatusListFull | WpError::AuditFailed | WpError::Store(_) => "unavailable",
        }
    }
}

/// Who asks: the authenticated user of a tenant.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: String,
    pub user_id: String,
}

/// What the service needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Issuer identifier (`iss`), also the base of the status list URI.
    pub issuer: String,
    pub key_attestation_ttl: Duration,
    pub wia_ttl: Duration,
    pub challenge_ttl: Duration,
    pub max_pending_challenges: u32,
    pub max_attested_keys: u32,
    pub status_list_size: u32,
    pub status_list_refresh: Duration,
    pub key_storage: Vec<String>,
    pub user_authentication: Vec<String>,
    pub tenants: BTreeMap<String, TenantAttestationLevels>,
    pub max_live_per_instance: u32,
}

impl Settings {
    /// The settings `wallet_provider.*` and `server.public_url` give.
    pub fn from_config(config: &Config) -> Settings {
        let c = &config.wallet_provider;
        Settings {
            issuer: c.issuer_id(&config.server.public_url),
            key_attestation_ttl: c.key_attestation_ttl,
            wia_ttl: c.wia_ttl,
            challenge_ttl: c.challenge_ttl,
            max_pending_challenges: c.max_pending_challenges,
            max_attested_keys: c.max_attested_keys,
            status_list_size: c.status_list_size,
            status_list_refresh: c.status_list_refresh,
            key_storage: c.key_storage.clone(),
            user_authentication: c.user_authentication.clone(),
            tenants: c.tenants.clone(),
            max_live_per_instance: c.max_live_per_instance,
        }
    }

    /// The URI of the status list (the `uri` of every attestation's `status`).
    pub fn status_list_uri(&self) -> String {
        format!("{}/status-list", self.issuer)
    }

    /// The JWKS URI.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// A tenant's `key_storage` and `user_authentication` levels.
    fn levels(&self, tenant_id: &str) -> (Vec<String>, Vec<String>) {
        let t = self.tenants.get(tenant_id);
        (
            t.and_then(|t| t.key_storage.clone())
                .unwrap_or_else(|| self.key_storage.clone()),
            t.and_then(|t| t.user_authentication.clone())
                .unwrap_or_else(|| self.user_authentication.clone()),
        )
    }
}

/// The wallet provider. Cheap to clone.
#[derive(Clone)]
pub struct WalletProviderService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    signer: Arc<dyn AttestationSigner>,
    settings: Settings,
    limits: RateLimiter,
    status: status::StatusCache,
}

impl WalletProviderService {
    /// A service over `store` signing with `signer`. Its per-user and per-instance budgets
    /// (`LimitKind::WalletProviderPerUser` / `WalletProviderPerInstance`) are spent on `limits`, the process's
    /// shared rate limiter (Redis when configured, tenant overrides from the tenant record).
    pub fn new(store: Store, signer: Arc<dyn AttestationSigner>, settings: Settings, limits: RateLimiter) -> Self {
        WalletProviderService {
            inner: Arc::new(Inner {
                store,
                signer,
                settings,
                limits,
                status: status::StatusCache::default(),
            }),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The provider's public keys: `{"keys":[...]}`; every attestation's `kid` names one.
    pub fn jwks(&self) -> Value {
        self.inner.signer.jwks()
    }

    /// The provider's issuer metadata (JWT issuer metadata plus where its endpoints are).
    pub fn metadata(&self) -> Value {
        let s = &self.inner.settings;
        serde_json::json!({
            "issuer": s.issuer,
            "jwks_uri": s.jwks_uri(),
            "jwks": self.jwks(),
            "status_list_uri": s.status_list_uri(),
            "key_attestation_endpoint": format!("{}/key-attestations", s.issuer),
            "wallet_instance_attestation_challenge_endpoint": format!("{}/wia/challenge", s.issuer),
            "wallet_instance_attestation_endpoint": format!("{}/wia/generate", s.issuer),
            "key_storage": s.key_storage,
            "user_authentication": s.user_authentication,
            "signing_alg_values_supported": ["ES256"],
        })
    }

    /// Which signer holds the key (`keyring` or `pkcs11`).
    pub fn signer_kind(&self) -> &'static str {
        self.inner.signer.kind()
    }

    /// The caller's tenant, refused when unknown or disabled.
    async fn check_tenant(&self, tenant_id: &str) -> Result<(), WpError> {
        enabled_tenant(tenant_id, self.inner.store.get_tenant(tenant_id).await?)?;
        Ok(())
    }

    /// Records an issuance or revocation. A failure to audit fails the operation (the result is not handed out).
    async fn audit(
        &self,
        actor: &str,
        action: &str,
        tenant_id: &str,
        target: Option<String>,
        detail: Value,
    ) -> Result<(), WpError> {
        let entry = AuditEntry {
            id: 0,
            at: now_millis(),
            actor: actor.to_string(),
            action: action.to_string(),
            tenant_id: Some(tenant_id.to_string()),
            target,
            detail,
        };
        self.inner.store.append_audit(&entry).await.map_err(|e| {
            tracing::error!(error = %e, action, "wallet-provider operation not audit-logged");
            WpError::AuditFailed
        })
    }
}

/// Seconds since the epoch of a millisecond timestamp.
fn secs(millis: i64) -> i64 {
    millis / 1000
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
