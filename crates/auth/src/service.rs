//! The auth role's logic: passkey ceremonies, accounts, tokens. No HTTP types: `routes` (service API) and `compat`
//! (the web client's API) are thin adapters onto [`AuthService`].

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;
use walletd_common::config::{AttestationPolicy, AuthConfig, Config, SignCountPolicy, WebauthnConfig};
use walletd_common::tenant::{DEFAULT_TENANT, Tenant, enabled_tenant, is_valid_tenant_id};
use walletd_db::{Challenge, CredentialDeletion, RefreshOutcome, Store, User, WebauthnCredential, now_millis};
use webauthn_rs_core::proto::{AuthenticationState, Credential, ParsedAttestationData, RegistrationState};

use crate::error::{AuthError, ErrorKind};
use crate::handle::{UserHandle, tenant_hash, user_handle};
use crate::keyring::KeyRing;
use crate::private_data::{PrivateData, PrivateDataError, PrivateDataStore};
use crate::ratelimit::Limiter;
use crate::tokens::{AccessToken, TokenIssuer, hash_refresh_token, new_refresh_token};
use crate::webauthn::{RelyingParty, parse_assertion, parse_registration};

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

    /// Begins registering a new account.
    pub async fn register_begin(&self, req: RegistrationStart) -> Result<Ceremony, AuthError> {
        let tenant_id = req
            .tenant_id
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| DEFAULT_TENANT.to_string());
        let tenant = self.tenant(&tenant_id).await?;
        let invite = req.invite_code.filter(|c| !c.is_empty());
        if tenant.require_invite {
            let code = invite
                .as_deref()
                .ok_or_else(|| AuthError::forbidden("invite_required", "this tenant requires an invite code"))?;
            if !self.store.invite_is_usable(&tenant.id, code).await? {
                return Err(AuthError::forbidden("invite_invalid", "the invite code is not valid"));
            }
        }
        let display_name = clean_name(req.display_name).unwrap_or_else(|| "Wallet user".to_string());
        let user = Uuid::new_v4();
        let rp = self.relying_party(&tenant)?;
        let (options, state) = rp.start_registration(
            &user_handle(&tenant.id, user),
            &display_name,
            &display_name,
            Vec::new(),
            self.cfg.attestation,
        )?;
        let ctx = CeremonyContext {
            user_id: Some(user.to_string()),
            display_name: Some(display_name),
            invite_code: invite.filter(|_| tenant.require_invite),
            explicit_tenant: false,
        };
        let challenge_id = self
            .save_ceremony(KIND_REGISTER, &tenant.id, None, &state, &ctx)
            .await?;
        Ok(Ceremony { challenge_id, options })
    }

    /// Finishes registering: verifies the passkey, creates the account, stores its private data, issues tokens.
    pub async fn register_finish(&self, req: RegistrationFinish) -> Result<Session, AuthError> {
        let (challenge, ctx) = self.take_ceremony(&req.challenge_id, KIND_REGISTER).await?;
        let tenant = self.tenant(&challenge.tenant_id).await?;
        let user_id = ctx
            .user_id
            .clone()
            .ok_or_else(|| AuthError::bad_request("challenge_invalid", "the challenge is not a registration"))?;
        let (record, parsed_prf, aaguid) = self.verify_registration(&tenant, &challenge, &req.credential)?;
        if let Some(code) = &ctx.invite_code
            && !self.store.consume_invite(&tenant.id, code, &user_id).await?
        {
            return Err(AuthError::forbidden("invite_invalid", "the invite code is not valid"));
        }
        let now = now_millis();
        let display_name = clean_name(req.display_name)
            .or(ctx.display_name)
            .unwrap_or_else(|| "Wallet user".to_string());
        let user = User {
            id: user_id.clone(),
            tenant_id: tenant.id.clone(),
            display_name,
            username: None,
            settings: json!({}),
            created_at: now,
            updated_at: now,
        };
        let credential = new_credential_row(&user, &record, clean_name(req.nickname), parsed_prf, aaguid)?;
        self.store
            .create_user_with_credential(&user, &credential)
            .await
            .map_err(duplicate_credential)?;
        let private_data = match req.private_data {
            Some(bytes) => {
                let etag = self
                    .private
                    .put(&tenant.id, &user.id, bytes.clone(), None)
                    .await
                    .map_err(private_error)?;
                PrivateData { bytes, etag }
            }
            None => self.private.get(&tenant.id, &user.id).await.map_err(private_error)?,
        };
        tracing::info!(user_id = %user.id, tenant_id = %tenant.id, "account registered");
        let rp_id = self.relying_party(&tenant)?.rp_id().to_string();
        self.open_session(user, tenant, private_data, rp_id).await
    }

    /// Verifies a registration response for `challenge`; returns the credential record, PRF capability, AAGUID.
    fn verify_registration(
        &self,
        tenant: &Tenant,
        challenge: &Challenge,
        credential: &Value,
    ) -> Result<(Credential, bool, Option<String>), AuthError> {
        let parsed = parse_registration(credential)?;
        let state: RegistrationState =
            serde_json::from_str(&challenge.state).map_err(|e| AuthError::unavailable(&e))?;
        let rp = self.relying_party(tenant)?;
        let record = rp.finish_registration(&parsed.credential, &state)?;
        let certified = matches!(
            record.attestation.data,
            ParsedAttestationData::Basic(_) | ParsedAttestationData::AttCa(_) | ParsedAttestationData::AnonCa(_)
        );
        self.check_aaguid(parsed.aaguid.as_deref(), certified)?;
        Ok((record, parsed.prf_capable, parsed.aaguid))
    }

    /// The AAGUID lists: a denied model is refused; with `direct` and a non-empty allow list, the model must be
    /// proven by a certificate chain (`certified`; a `none` or self attestation's AAGUID is only a claim) and be
    /// on the list.
    fn check_aaguid(&self, aaguid: Option<&str>, certified: bool) -> Result<(), AuthError> {
        let listed = |list: &[String]| aaguid.is_some_and(|a| list.iter().any(|x| x.eq_ignore_ascii_case(a)));
        if listed(&self.cfg.aaguid_deny) {
            return Err(AuthError::forbidden(
                "authenticator_not_allowed",
                "this authenticator model is not allowed",
            ));
        }
        let allow_list = self.cfg.attestation == AttestationPolicy::Direct && !self.cfg.aaguid_allow.is_empty();
        if allow_list && !certified {
            return Err(AuthError::forbidden(
                "attestation_required",
                "this server accepts only authenticator models it can verify: an attestation certificate is required",
            ));
        }
        if allow_list && !listed(&self.cfg.aaguid_allow) {
            return Err(AuthError::forbidden(
                "authenticator_not_allowed",
                "this authenticator model is not allowed",
            ));
        }
        Ok(())
    }

    /// Begins a discoverable login. `tenant_hint` is the tenant the request named (`X-Tenant-ID`, path alias);
    /// a non-default hint must then match the credential's tenant.
    pub async fn login_begin(&self, tenant_hint: Option<&str>) -> Result<Ceremony, AuthError> {
        let hint = tenant_hint.map(str::trim).filter(|t| !t.is_empty());
        let tenant = self.tenant(hint.unwrap_or(DEFAULT_TENANT)).await?;
        let (options, state) = self.relying_party(&tenant)?.start_login()?;
        let ctx = CeremonyContext {
            explicit_tenant: hint.is_some_and(|h| h != DEFAULT_TENANT),
            ..Default::default()
        };
        let challenge_id = self.save_ceremony(KIND_LOGIN, &tenant.id, None, &state, &ctx).await?;
        Ok(Ceremony { challenge_id, options })
    }

    /// Finishes a login: the tenant comes from the stored credential.
    pub async fn login_finish(&self, challenge_id: &str, credential: &Value) -> Result<Session, AuthError> {
        let parsed = parse_assertion(credential)?;
        self.credential_limit.check(&parsed.credential_id, "for this passkey")?;
        let (challenge, ctx) = self.take_ceremony(challenge_id, KIND_LOGIN).await?;
        let stored = self
            .store
            .get_credential_by_credential_id(&parsed.credential_id)
            .await?
            .ok_or_else(|| AuthError::not_found("unknown_credential", "this passkey is not registered"))?;
        let handle = parsed
            .user_handle
            .as_deref()
            .and_then(UserHandle::parse)
            .ok_or_else(|| AuthError::unauthorized("invalid_user_handle", "the assertion has no valid user handle"))?;
        if handle.user().to_string() != stored.user_id {
            return Err(AuthError::unauthorized(
                "invalid_user_handle",
                "the user handle does not belong to this passkey",
            ));
        }
        if let UserHandle::Scoped { tenant_hash: h, .. } = handle
            && h != tenant_hash(&stored.tenant_id)
        {
            return Err(AuthError::forbidden(
                "tenant_mismatch",
                "the passkey belongs to another tenant",
            ));
        }
        if ctx.explicit_tenant && challenge.tenant_id != stored.tenant_id {
            return Err(AuthError::forbidden(
                "tenant_mismatch",
                "the passkey belongs to another tenant",
            ));
        }
        let tenant = self.tenant(&stored.tenant_id).await?;
        let state: AuthenticationState =
            serde_json::from_str(&challenge.state).map_err(|e| AuthError::unavailable(&e))?;
        let record: Credential = serde_json::from_str(&stored.credential).map_err(|e| AuthError::unavailable(&e))?;
        let rp = self.relying_party(&tenant)?;
        let result = rp.finish_login(&parsed.credential, &state, record)?;

        // Sign-count rule (WebAuthn §7.2 step 21): when either counter is non-zero, the new one must be larger.
        let new_count = i64::from(result.counter());
        let regressed = (new_count > 0 || stored.sign_count > 0) && new_count <= stored.sign_count;
        if regressed {
            tracing::warn!(credential = %stored.id, user_id = %stored.user_id, "passkey sign count did not increase: possible cloned authenticator");
            if self.cfg.sign_count_policy == SignCountPolicy::Reject {
                self.store
                    .record_credential_use(&stored.id, stored.sign_count, true)
                    .await?;
                return Err(AuthError::unauthorized(
                    "sign_count_regression",
                    "the passkey's signature counter went backwards; it may be cloned",
                ));
            }
        }
        self.store
            .record_credential_use(&stored.id, new_count, regressed)
            .await?;
        let user = self
            .store
            .get_user(&stored.user_id)
            .await?
            .ok_or_else(|| AuthError::not_found("unknown_credential", "this passkey is not registered"))?;
        let private_data = self.private.get(&tenant.id, &user.id).await.map_err(private_error)?;
        let rp_id = rp.rp_id().to_string();
        self.open_session(user, tenant, private_data, rp_id).await
    }

    async fn open_session(
        &self,
        user: User,
        tenant: Tenant,
        private_data: PrivateData,
        rp_id: String,
    ) -> Result<Session, AuthError> {
        let access_token = self.issuer.access_token(&user.id, &tenant.id, &self.audience)?;
        let refresh_token = new_refresh_token();
        self.store
            .insert_refresh_token(
                &hash_refresh_token(&refresh_token),
                &Uuid::new_v4().to_string(),
                &user.id,
                &tenant.id,
                now_millis() + millis(self.cfg.refresh_token_ttl),
            )
            .await?;
        Ok(Session {
            user,
            tenant,
            access_token,
            refresh_token,
            private_data,
            rp_id,
        })
    }

    /// Exchanges a refresh token (rotating it) for an access token for `audience` (`None`: the general one).
    /// A reused token revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str, audience: Option<&str>) -> Result<RefreshedTokens, AuthError> {
        let audience = match audience.filter(|a| !a.is_empty()) {
            None => self.audience.clone(),
            Some(a) if a == self.audience || SERVICE_AUDIENCES.contains(&a) => a.to_string(),
            Some(_) => {
                return Err(AuthError::bad_request(
                    "invalid_audience",
                    format!(
                        "audience must be one of {}, {}",
                        self.audience,
                        SERVICE_AUDIENCES.join(", ")
                    ),
                ));
            }
        };
        let invalid = || AuthError::unauthorized("invalid_refresh_token", "the refresh token is invalid or revoked");
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            return Err(invalid());
        }
        let new_token = new_refresh_token();
        let outcome = self
            .store
            .rotate_refresh_token(
                &hash_refresh_token(refresh_token),
                &hash_refresh_token(&new_token),
                now_millis() + millis(self.cfg.refresh_token_ttl),
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated { user_id, tenant_id } => {
                self.tenant(&tenant_id).await?;
                let access_token = self.issuer.access_token(&user_id, &tenant_id, &audience)?;
                Ok(RefreshedTokens {
                    access_token,
                    refresh_token: new_token,
                    user_id,
                    tenant_id,
                })
            }
            RefreshOutcome::Reused => {
                tracing::warn!("a used refresh token was presented again; its session is revoked");
                Err(invalid())
            }
            RefreshOutcome::Invalid => Err(invalid()),
        }
    }

    /// Revokes the session a refresh token belongs to. Unknown tokens are ignored (logout is idempotent).
    pub async fn logout(&self, refresh_token: &str) -> Result<(), AuthError> {
        if !refresh_token.is_empty() && refresh_token.len() <= 256 {
            self.store
                .revoke_refresh_family(&hash_refresh_token(refresh_token))
                .await?;
        }
        Ok(())
    }

    /// The caller's account; 403 when the token's tenant is not the account's.
    async fn account(&self, user_id: &str, tenant_id: &str) -> Result<User, AuthError> {
        let user = self
            .store
            .get_user(user_id)
            .await?
            .ok_or_else(|| AuthError::not_found("user_not_found", "no such account"))?;
        if user.tenant_id != tenant_id {
            return Err(AuthError::forbidden(
                "tenant_mismatch",
                "the account belongs to another tenant",
            ));
        }
        Ok(user)
    }

    /// The account and its passkeys.
    pub async fn account_info(&self, user_id: &str, tenant_id: &str) -> Result<AccountInfo, AuthError> {
        let user = self.account(user_id, tenant_id).await?;
        let passkeys = self
            .store
            .list_credentials(&user.id)
            .await?
            .into_iter()
            .map(|c| PasskeyInfo {
                id: c.id,
                credential_id: c.credential_id,
                nickname: c.nickname,
                prf_capable: c.prf_capable,
                created_at: c.created_at,
                last_used_at: c.last_used_at,
            })
            .collect();
        Ok(AccountInfo { user, passkeys })
    }

    /// Merges `changes` (a JSON object) into the account's settings; returns the result.
    pub async fn update_settings(&self, user_id: &str, tenant_id: &str, changes: &Value) -> Result<Value, AuthError> {
        let user = self.account(user_id, tenant_id).await?;
        let changes = changes
            .as_object()
            .ok_or_else(|| AuthError::bad_request("invalid_settings", "settings must be a JSON object"))?;
        let mut settings = user.settings.as_object().cloned().unwrap_or_default();
        for (k, v) in changes {
            let ok = match k.as_str() {
                "openidRefreshTokenMaxAgeInSeconds" => v.as_u64().is_some(),
                "useOblivious" => v.is_boolean(),
                _ => false,
            };
            if !ok {
                return Err(AuthError::bad_request(
                    "invalid_settings",
                    format!("unknown setting or wrong type: `{k}`"),
                ));
            }
            settings.insert(k.clone(), v.clone());
        }
        let settings = Value::Object(settings);
        self.store.update_user_settings(&user.id, &settings).await?;
        Ok(settings)
    }

    /// Deletes the account and every blob it owns.
    pub async fn delete_account(&self, user_id: &str, tenant_id: &str) -> Result<(), AuthError> {
        let user = self.account(user_id, tenant_id).await?;
        self.private
            .delete_user(&user.tenant_id, &user.id)
            .await
            .map_err(private_error)?;
        self.store.delete_user(&user.id).await?;
        tracing::info!(user_id = %user.id, tenant_id = %user.tenant_id, "account deleted");
        Ok(())
    }

    /// Begins adding a passkey to the caller's account (same tenant-scoped handle).
    pub async fn add_passkey_begin(&self, user_id: &str, tenant_id: &str) -> Result<Ceremony, AuthError> {
        let user = self.account(user_id, tenant_id).await?;
        let tenant = self.tenant(&user.tenant_id).await?;
        let existing = self.store.list_credentials(&user.id).await?;
        if existing.len() >= self.cfg.max_passkeys_per_user {
            return Err(AuthError::conflict(
                "too_many_passkeys",
                "this account has the most passkeys allowed",
            ));
        }
        let uuid = Uuid::parse_str(&user.id).map_err(|e| AuthError::unavailable(&e))?;
        let (options, state) = self.relying_party(&tenant)?.start_registration(
            &user_handle(&tenant.id, uuid),
            &user.display_name,
            &user.display_name,
            existing.into_iter().map(|c| c.credential_id).collect(),
            self.cfg.attestation,
        )?;
        let challenge_id = self
            .save_ceremony(
                KIND_ADD,
                &tenant.id,
                Some(&user.id),
                &state,
                &CeremonyContext::default(),
            )
            .await?;
        Ok(Ceremony { challenge_id, options })
    }

    /// Finishes adding a passkey; optionally writes new private data (the keystore wrapped for the new passkey).
    /// Returns the new passkey and the private-data ETag when it was written.
    pub async fn add_passkey_finish(
        &self,
        user_id: &str,
        tenant_id: &str,
        req: RegistrationFinish,
    ) -> Result<(PasskeyInfo, Option<String>), AuthError> {
        let (challenge, _) = self.take_ceremony(&req.challenge_id, KIND_ADD).await?;
        let user = self.account(user_id, tenant_id).await?;
        if challenge.user_id.as_deref() != Some(user.id.as_str()) {
            return Err(AuthError::bad_request(
                "challenge_invalid",
                "the challenge belongs to another account",
            ));
        }
        let tenant = self.tenant(&user.tenant_id).await?;
        let (record, prf, aaguid) = self.verify_registration(&tenant, &challenge, &req.credential)?;
        let row = new_credential_row(&user, &record, clean_name(req.nickname), prf, aaguid)?;
        let etag = match req.private_data {
            Some(bytes) => Some(
                self.private
                    .put(&tenant.id, &user.id, bytes, req.private_data_if_match.as_deref())
                    .await
                    .map_err(private_error)?,
            ),
            None => None,
        };
        self.store.add_credential(&row).await.map_err(duplicate_credential)?;
        Ok((
            PasskeyInfo {
                id: row.id,
                credential_id: row.credential_id,
                nickname: row.nickname,
                prf_capable: row.prf_capable,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
            },
            etag,
        ))
    }

    /// Renames one of the caller's passkeys.
    pub async fn rename_passkey(
        &self,
        user_id: &str,
        tenant_id: &str,
        id: &str,
        nickname: Option<String>,
    ) -> Result<(), AuthError> {
        let user = self.account(user_id, tenant_id).await?;
        let nickname = clean_name(nickname);
        if !self.store.rename_credential(&user.id, id, nickname.as_deref()).await? {
            return Err(AuthError::not_found("passkey_not_found", "no such passkey"));
        }
        Ok(())
    }

    /// Deletes one of the caller's passkeys (409 for the last one). When `private_data` is given it replaces the
    /// user's private data first (honouring `if_match`), so the keystore no longer wraps keys for the removed
    /// passkey. Returns the new private-data ETag when it was written.
    pub async fn delete_passkey(
        &self,
        user_id: &str,
        tenant_id: &str,
        id: &str,
        private_data: Option<Vec<u8>>,
        if_match: Option<&str>,
    ) -> Result<Option<String>, AuthError> {
        let user = self.account(user_id, tenant_id).await?;
        let passkeys = self.store.list_credentials(&user.id).await?;
        if !passkeys.iter().any(|c| c.id == id) {
            return Err(AuthError::not_found("passkey_not_found", "no such passkey"));
        }
        if passkeys.len() <= 1 {
            return Err(last_passkey());
        }
        let etag = match private_data {
            Some(bytes) => Some(
                self.private
                    .put(&user.tenant_id, &user.id, bytes, if_match)
                    .await
                    .map_err(private_error)?,
            ),
            None => None,
        };
        match self.store.delete_credential_unless_last(&user.id, id).await? {
            CredentialDeletion::Deleted => Ok(etag),
            CredentialDeletion::LastCredential => Err(last_passkey()),
            CredentialDeletion::NotFound => Err(AuthError::not_found("passkey_not_found", "no such passkey")),
        }
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
        },
        PrivateDataError::Refused(message) => AuthError::bad_request("private_data_refused", message),
        PrivateDataError::Failed(cause) => AuthError::unavailable(&cause),
    }
}
