//! The auth role's logic: passkey ceremonies, accounts, tokens. No HTTP types: `routes` (service API) and `compat`
//! (the web client's API) are thin adapters onto [`AuthService`].

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;
use walletd_common::config::{AttestationPolicy, AuthConfig, Config, SignCountPolicy, WebauthnConfig};
use walletd_common::tenant::{DEFAULT_TENANT, GatedCeremony, Tenant, enabled_tenant, is_valid_tenant_id};
use walletd_db::{Challenge, CredentialDeletion, RefreshOutcome, Store, User, WebauthnCredential, now_millis};
use webauthn_rs_core::proto::{AuthenticationState, Credential, ParsedAttestationData, RegistrationState};

use crate::error::{AuthError, ErrorKind};
use crate::handle::{UserHandle, tenant_hash, user_handle};
use crate::keyring::KeyRing;
use crate::oidc_gate::OidcGateVerifier;
use crate::private_data::{PrivateData, PrivateDataError, PrivateDataStore};
use crate::ratelimit::Limiter;
use crate::tokens::{AccessToken, TokenIssuer, hash_refresh_token, new_refresh_token};
use crate::webauthn::{RelyingParty, parse_assertion, parse_registration};

mod account;
mod ceremonies;

/// Audiences `/auth/token` issues tokens for, besides the general `jwt.audience`.
pub const SERVICE_AUDIENCES: [&str; 3] = ["engine", "storage", "registry"];

const KIND_REGISTER: &str = "register";
const KIND_LOGIN: &str = "login";
const KIND_ADD: &str = "add";

/// A started ceremony: its id and the options for `navigator.credentials.create/get` (binaries as base64url).
#[derive(Debug, Clone)]
pub struct Ceremony {
    pub challenge_id: String,
    /// `{"publicKey": {...}}`.
    pub options: Value,
}

/// Input of a registration's begin step.
#[derive(Debug, Clone, Default)]
pub struct RegistrationStart {
    pub tenant_id: Option<String>,
    pub display_name: Option<String>,
    pub invite_code: Option<String>,
    /// `Authorization: Bearer <id_token>` for a tenant with an OIDC gate.
    pub oidc_id_token: Option<String>,
}

/// Input of a registration's (or added passkey's) finish step.
#[derive(Debug, Clone, Default)]
pub struct RegistrationFinish {
    pub challenge_id: String,
    pub credential: Value,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    pub private_data: Option<Vec<u8>>,
    /// For an added passkey: only write `private_data` when its ETag is this.
    pub private_data_if_match: Option<String>,
}

/// A logged-in (or just registered) user with fresh tokens and their private data.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub tenant: Tenant,
    /// Access token for `jwt.audience` (the web client's `appToken`).
    pub access_token: AccessToken,
    pub refresh_token: String,
    pub private_data: PrivateData,
    pub rp_id: String,
}

/// A passkey as the account routes show it.
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyInfo {
    pub id: String,
    pub credential_id: Vec<u8>,
    pub nickname: Option<String>,
    pub prf_capable: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub last_used_at: i64,
}

/// An account with its passkeys.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    pub user: User,
    pub passkeys: Vec<PasskeyInfo>,
}

/// Tokens returned by a refresh.
#[derive(Debug, Clone)]
pub struct RefreshedTokens {
    pub access_token: AccessToken,
    pub refresh_token: String,
    pub user_id: String,
    pub tenant_id: String,
}

#[derive(Debug, Serialize, Deserialize, Default)]
struct CeremonyContext {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    invite_code: Option<String>,
    /// Login only: the request named a (non-default) tenant, so the credential must belong to it.
    #[serde(default)]
    explicit_tenant: bool,
}

/// The auth service. Cheap to share (`Arc`).
pub struct AuthService {
    store: Store,
    webauthn: WebauthnConfig,
    cfg: AuthConfig,
    audience: String,
    issuer: TokenIssuer,
    access_ttl: std::time::Duration,
    private: Arc<dyn PrivateDataStore>,
    ip_limit: Limiter<IpAddr>,
    credential_limit: Limiter<Vec<u8>>,
    /// Verifies OIDC gate tokens; without it a gated tenant's ceremonies answer 503.
    gate: Option<OidcGateVerifier>,
}

impl AuthService {
    /// A service over `store`, signing with `ring`, keeping private data in `private`.
    pub fn new(store: Store, config: &Config, ring: KeyRing, private: Arc<dyn PrivateDataStore>) -> Self {
        AuthService {
            store,
            webauthn: config.webauthn.clone(),
            cfg: config.auth.clone(),
            audience: config.jwt.audience.clone(),
            issuer: TokenIssuer::new(ring, config.jwt.issuer.clone(), config.jwt.access_token_ttl),
            access_ttl: config.jwt.access_token_ttl,
            private,
            ip_limit: Limiter::per_minute(config.auth.rate_limit_per_ip),
            credential_limit: Limiter::per_minute(config.auth.rate_limit_per_credential),
            gate: None,
        }
    }

    /// Enables tenants' OIDC gates, fetching provider keys through `egress`.
    pub fn with_oidc_gate(mut self, egress: walletd_egress::EgressClient, config: &Config) -> Self {
        self.gate = Some(OidcGateVerifier::new(
            egress,
            config.jwt.leeway,
            config.jwt.jwks_cache_ttl,
            config.jwt.jwks_refetch_interval,
        ));
        self
    }

    /// Passes unless `tenant` gates `ceremony` and `id_token` is not a valid ID token of its provider.
    async fn check_gate(
        &self,
        tenant: &Tenant,
        ceremony: GatedCeremony,
        id_token: Option<&str>,
    ) -> Result<(), AuthError> {
        if tenant
            .oidc_gate
            .as_ref()
            .and_then(|g| g.provider_for(ceremony))
            .is_none()
        {
            return Ok(());
        }
        match &self.gate {
            Some(gate) => gate.check(tenant, ceremony, id_token).await,
            None => Err(AuthError::new(
                ErrorKind::Unavailable,
                "oidc_gate_unavailable",
                "this process cannot verify the tenant's OIDC gate",
            )),
        }
    }

    /// The general audience (`jwt.audience`).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Counts one ceremony or token request from `ip`; 429 when over `auth.rate_limit_per_ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), AuthError> {
        self.ip_limit.check(&ip, "from this address")
    }

    /// An existing, enabled tenant: 404 unknown, 403 disabled.
    pub async fn tenant(&self, id: &str) -> Result<Tenant, AuthError> {
        // An id that cannot exist is not looked up; it is refused like an unknown one.
        let found = if is_valid_tenant_id(id) {
            self.store.get_tenant(id).await?
        } else {
            None
        };
        Ok(enabled_tenant(id, found)?)
    }

    /// The public configuration of a tenant (`/tenant/{id}/config`).
    pub async fn tenant_config(&self, id: &str) -> Result<Tenant, AuthError> {
        self.tenant(id).await
    }

    fn relying_party(&self, tenant: &Tenant) -> Result<RelyingParty, AuthError> {
        RelyingParty::for_tenant(&self.webauthn, tenant, self.cfg.challenge_ttl)
    }

    async fn save_ceremony(
        &self,
        kind: &str,
        tenant_id: &str,
        user_id: Option<&str>,
        state: &impl Serialize,
        context: &CeremonyContext,
    ) -> Result<String, AuthError> {
        let id = Uuid::new_v4().to_string();
        let ttl_ms = i64::try_from(self.cfg.challenge_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.store
            .insert_challenge(&Challenge {
                id: id.clone(),
                kind: kind.to_string(),
                tenant_id: tenant_id.to_string(),
                user_id: user_id.map(str::to_string),
                state: serde_json::to_string(state).map_err(|e| AuthError::unavailable(&e))?,
                context: serde_json::to_string(context).map_err(|e| AuthError::unavailable(&e))?,
                expires_at: now_millis() + ttl_ms,
            })
            .await?;
        Ok(id)
    }

    /// Consumes a ceremony (single use even when it then fails), checking its kind and expiry.
    async fn take_ceremony(&self, id: &str, kind: &str) -> Result<(Challenge, CeremonyContext), AuthError> {
        let unknown = || {
            AuthError::bad_request(
                "challenge_invalid",
                "unknown or already used challenge; start the ceremony again",
            )
        };
        if id.is_empty() || id.len() > 64 {
            return Err(unknown());
        }
        let c = self.store.take_challenge(id).await?.ok_or_else(unknown)?;
        if c.kind != kind {
            return Err(unknown());
        }
        if c.expires_at <= now_millis() {
            return Err(AuthError::bad_request(
                "challenge_expired",
                "the challenge expired; start the ceremony again",
            ));
        }
        let ctx = serde_json::from_str(&c.context).unwrap_or_default();
        Ok((c, ctx))
    }

    /// The access-token lifetime.
    pub fn access_ttl(&self) -> std::time::Duration {
        self.access_ttl
    }
}

fn last_passkey() -> AuthError {
    AuthError::conflict(
        "last_passkey",
        "this is the account's only passkey; add another before deleting it",
    )
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// Trims a user-chosen name and caps its length; empty means none.
fn clean_name(name: Option<String>) -> Option<String> {
    let name = name?;
    let trimmed: String = name.trim().chars().filter(|c| !c.is_control()).take(128).collect();
    (!trimmed.is_empty()).then_some(trimmed)
}

fn new_credential_row(
    user: &User,
    record: &Credential,
    nickname: Option<String>,
    prf_capable: bool,
    aaguid: Option<String>,
) -> Result<WebauthnCredential, AuthError> {
    let now = now_millis();
    Ok(WebauthnCredential {
        id: Uuid::new_v4().to_string(),
        credential_id: record.cred_id.to_vec(),
        user_id: user.id.clone(),
        tenant_id: user.tenant_id.clone(),
        credential: serde_json::to_string(record).map_err(|e| AuthError::unavailable(&e))?,
        sign_count: i64::from(record.counter),
        nickname,
        prf_capable,
        aaguid,
        clone_warning: false,
        created_at: now,
        last_used_at: now,
    })
}

fn duplicate_credential(e: walletd_db::StoreError) -> AuthError {
    match e {
        walletd_db::StoreError::Conflict(_) => {
            AuthError::conflict("credential_exists", "this passkey is already registered")
        }
        other => other.into(),
    }
}

fn private_error(e: PrivateDataError) -> AuthError {
    match e {
        PrivateDataError::PreconditionFailed { current_etag } => AuthError {
            kind: ErrorKind::PreconditionFailed,
            code: "precondition_failed",
            message: "the private data changed meanwhile; fetch it and retry".into(),
            current_etag: Some(current_etag),
            details: None,
        },
        PrivateDataError::Refused(message) => AuthError::bad_request("private_data_refused", message),
        PrivateDataError::Failed(cause) => AuthError::unavailable(&cause),
    }
}
