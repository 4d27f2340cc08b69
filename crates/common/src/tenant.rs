//! The tenant model: one deployment serves several organisations, each with its own users, passkeys, blobs,
//! registered issuers/verifiers, trust policy and optional WebAuthn relying-party overrides.

use serde::{Deserialize, Serialize};

pub use crate::oidc_gate::{GatedCeremony, OidcGate, OidcGateMode, OidcProvider};

/// The tenant every deployment has; created by migration, never deletable.
pub const DEFAULT_TENANT: &str = "default";

/// Whether `id` is a valid tenant id: `^[a-z0-9][a-z0-9_-]{0,62}$`.
pub fn is_valid_tenant_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// Why a request naming a tenant is refused: the same answer from every role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantRefusal {
    /// No tenant has this id (or the id is not a valid tenant id).
    #[error("unknown tenant `{0}`")]
    Unknown(String),
    /// The tenant exists but an operator disabled it.
    #[error("tenant `{0}` is disabled")]
    Disabled(String),
}

/// The tenant `tenant_id` as looked up (`found`), if it exists and is enabled. Every role calls this after its own
/// lookup so an unknown and a disabled tenant are refused alike everywhere.
/// `found` may be a `Tenant` or a shared handle to one (`Arc<Tenant>` from a cache).
pub fn enabled_tenant<T: std::borrow::Borrow<Tenant>>(tenant_id: &str, found: Option<T>) -> Result<T, TenantRefusal> {
    match found {
        None => Err(TenantRefusal::Unknown(tenant_id.to_string())),
        Some(t) if !t.borrow().enabled => Err(TenantRefusal::Disabled(tenant_id.to_string())),
        Some(t) => Ok(t),
    }
}

/// A tenant and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub enabled: bool,
    pub require_invite: bool,
    #[serde(default)]
    pub trust_config: TenantTrustConfig,
    /// Protocols the engine may run for this tenant (`oid4vci`, `oid4vp`); empty means all.
    #[serde(default)]
    pub allowed_protocols: Vec<String>,
    /// WebAuthn relying-party overrides.
    #[serde(default)]
    pub webauthn: Option<TenantWebauthn>,
    /// Storage quota overrides; unset fields fall back to the `storage.*` configuration.
    #[serde(default)]
    pub storage_quota: Option<TenantStorageQuota>,
    /// The OIDC gate of registration and login (`None`: no gate).
    #[serde(default)]
    pub oidc_gate: Option<OidcGate>,
    /// Request budget overrides; unset fields fall back to the configuration (`auth.rate_limit_*`,
    /// `rate_limits.*`).
    #[serde(default)]
    pub rate_limits: Option<TenantRateLimits>,
}

impl Tenant {
    /// A new enabled tenant with default settings.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Tenant {
            id: id.into(),
            name: name.into(),
            display_name: None,
            enabled: true,
            require_invite: false,
            trust_config: TenantTrustConfig::default(),
            allowed_protocols: Vec::new(),
            webauthn: None,
            storage_quota: None,
            oidc_gate: None,
            rate_limits: None,
        }
    }
}

/// A tenant's trust policy: its own AuthZEN PDP and verdict lifetime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantTrustConfig {
    pub pdp_url: Option<String>,
    /// Seconds a trust verdict is cached.
    pub trust_ttl: Option<u64>,
}

/// Per-tenant storage quotas; each unset field uses the global `storage.*` value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantStorageQuota {
    pub max_blob_bytes: Option<u64>,
    pub max_blobs_per_user: Option<u64>,
    pub max_bytes_per_user: Option<u64>,
}

/// Per-tenant request budgets (per window of `rate_limits.window`); each unset field uses the configured default,
/// 0 disables that budget for the tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRateLimits {
    /// Ceremony and token requests per client IP (default `auth.rate_limit_per_ip`).
    pub auth_per_ip: Option<u32>,
    /// Login finishes per passkey (default `auth.rate_limit_per_credential`).
    pub auth_per_credential: Option<u32>,
    /// Storage writes per user (default `rate_limits.storage_writes_per_user`).
    pub storage_writes_per_user: Option<u32>,
    /// Engine flow starts per user (default `rate_limits.engine_flows_per_user`).
    pub engine_flows_per_user: Option<u32>,
    /// Engine connections (handshakes) per user (default `rate_limits.engine_connections_per_user`).
    pub engine_connections_per_user: Option<u32>,
    /// Wallet-provider attestations and challenges per user (default `wallet_provider.rate_limit_per_user`).
    pub wallet_provider_per_user: Option<u32>,
    /// Wallet-provider attestations per wallet instance (default `wallet_provider.rate_limit_per_instance`).
    pub wallet_provider_per_instance: Option<u32>,
    /// Upstream fetches of type or issuer metadata outside the configured sources, per client (user or address;
    /// default `rate_limits.metadata_fetches_per_client`).
    pub metadata_fetches_per_client: Option<u32>,
}

/// Per-tenant WebAuthn relying-party settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantWebauthn {
    pub rp_id: Option<String>,
    #[serde(default)]
    pub rp_origins: Vec<String>,
}

/// The tenant a request acts for: the token's claim wins, then the `X-Tenant-ID` header, then `default`.
pub fn resolve_tenant_id<'a>(token_tenant: Option<&'a str>, header: Option<&'a str>) -> &'a str {
    token_tenant
        .filter(|t| !t.is_empty())
        .or(header.map(str::trim).filter(|t| !t.is_empty()))
        .unwrap_or(DEFAULT_TENANT)
}

/// The trust client's view of a tenant: its own PDP (an unparsable URL counts as none, so the global PDP or
/// "unknown" applies rather than an error) and verdict lifetime.
impl Tenant {
    pub fn trust_settings(&self) -> walletd_trust::TenantTrustSettings {
        walletd_trust::TenantTrustSettings {
            tenant_id: self.id.clone(),
            pdp_url: self
                .trust_config
                .pdp_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok()),
            cache_ttl: self.trust_config.trust_ttl.map(std::time::Duration::from_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_id_syntax() {
        for ok in ["default", "a", "acme-corp", "t_1", "0abc", &"a".repeat(63)] {
            assert!(is_valid_tenant_id(ok), "{ok}");
        }
        for bad in ["", "-a", "_a", "Acme", "a b", "a/b", "ä", &"a".repeat(64)] {
            assert!(!is_valid_tenant_id(bad), "{bad}");
        }
    }

    #[test]
    fn token_claim_wins_over_header_over_default() {
        assert_eq!(resolve_tenant_id(Some("acme"), Some("other")), "acme");
        assert_eq!(resolve_tenant_id(None, Some("other")), "other");
        assert_eq!(resolve_tenant_id(None, Some("  ")), "default");
        assert_eq!(resolve_tenant_id(None, None), "default");
    }
}
