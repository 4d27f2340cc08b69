//! The signed-in account: token refresh and logout, account info and settings, deletion, and managing passkeys.

use super::*;

impl AuthService {
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
                let access_token = self.access_token(&user_id, &tenant_id, &audience).await?;
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
    /// The user's access tokens are revoked too (session epoch): on every device, whose refresh tokens still get
    /// new ones.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), AuthError> {
        if !refresh_token.is_empty() && refresh_token.len() <= 256 {
            let hash = hash_refresh_token(refresh_token);
            if let Some(user_id) = self.store.refresh_token_owner(&hash).await? {
                self.store.bump_session_epoch(&user_id).await?;
            }
            self.store.revoke_refresh_family(&hash).await?;
        }
        Ok(())
    }

    /// An access token carrying the user's current session epoch.
    pub(super) async fn access_token(
        &self,
        user_id: &str,
        tenant_id: &str,
        audience: &str,
    ) -> Result<AccessToken, AuthError> {
        let epoch = self.store.session_epoch(user_id).await?;
        self.issuer.access_token(user_id, tenant_id, audience, epoch)
    }

    /// The caller's account; 403 when the token's tenant is not the account's.
    pub(super) async fn account(&self, user_id: &str, tenant_id: &str) -> Result<User, AuthError> {
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
        // Revoke first: from here on no role accepts the account's tokens, so nothing is written for it while (or
        // after) its data goes.
        self.store.bump_session_epoch(&user.id).await?;
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
            CredentialDeletion::Deleted => {
                // Whoever logged in with the removed passkey is signed out: the sessions (refresh tokens) opened
                // with it go, and every access token of the account is revoked; sessions opened with another
                // passkey (this device's, usually) get a new access token by refreshing.
                self.store.revoke_passkey_sessions(&user.id, id).await?;
                self.store.bump_session_epoch(&user.id).await?;
                Ok(etag)
            }
            CredentialDeletion::LastCredential => Err(last_passkey()),
            CredentialDeletion::NotFound => Err(AuthError::not_found("passkey_not_found", "no such passkey")),
        }
    }
}
