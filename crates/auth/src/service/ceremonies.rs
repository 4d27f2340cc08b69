//! Passkey ceremonies: registering an account, signing in, and the session both open.

use super::*;

impl AuthService {
    /// Begins registering a new account.
    pub async fn register_begin(&self, req: RegistrationStart) -> Result<Ceremony, AuthError> {
        let tenant_id = req
            .tenant_id
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| DEFAULT_TENANT.to_string());
        let tenant = self.tenant(&tenant_id).await?;
        self.check_gate(&tenant, GatedCeremony::Registration, req.oidc_id_token.as_deref())
            .await?;
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
        self.open_session(user, tenant, private_data, rp_id, &credential.id)
            .await
    }

    /// Verifies a registration response for `challenge`; returns the credential record, PRF capability, AAGUID.
    pub(super) fn verify_registration(
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
    pub(super) fn check_aaguid(&self, aaguid: Option<&str>, certified: bool) -> Result<(), AuthError> {
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
    /// A tenant with a login gate needs `id_token` (the caller's `Authorization: Bearer`).
    pub async fn login_begin(&self, tenant_hint: Option<&str>, id_token: Option<&str>) -> Result<Ceremony, AuthError> {
        let hint = tenant_hint.map(str::trim).filter(|t| !t.is_empty());
        let tenant = self.tenant(hint.unwrap_or(DEFAULT_TENANT)).await?;
        self.check_gate(&tenant, GatedCeremony::Login, id_token).await?;
        let (options, state) = self.relying_party(&tenant)?.start_login()?;
        let ctx = CeremonyContext {
            explicit_tenant: hint.is_some_and(|h| h != DEFAULT_TENANT),
            ..Default::default()
        };
        let challenge_id = self.save_ceremony(KIND_LOGIN, &tenant.id, None, &state, &ctx).await?;
        Ok(Ceremony { challenge_id, options })
    }

    /// Finishes a login: the tenant comes from the stored credential. When that tenant has a login gate, the
    /// finish step needs the ID token too (the client sends it on both steps): otherwise a login begun for an
    /// ungated tenant could end in a gated one.
    pub async fn login_finish(
        &self,
        challenge_id: &str,
        credential: &Value,
        id_token: Option<&str>,
    ) -> Result<Session, AuthError> {
        let parsed = parse_assertion(credential)?;
        let (challenge, ctx) = self.take_ceremony(challenge_id, KIND_LOGIN).await?;
        if parsed.cross_origin {
            return Err(AuthError::unauthorized(
                "cross_origin",
                "the assertion was made in a cross-origin frame; log in from the wallet's own page",
            ));
        }
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
        self.check_gate(&tenant, GatedCeremony::Login, id_token).await?;
        let state: AuthenticationState =
            serde_json::from_str(&challenge.state).map_err(|e| AuthError::unavailable(&e))?;
        let record: Credential = serde_json::from_str(&stored.credential).map_err(|e| AuthError::unavailable(&e))?;
        let rp = self.relying_party(&tenant)?;
        let result = rp.finish_login(&parsed.credential, &state, record)?;
        // Counted only once the assertion verified: a finish anyone can forge with a passkey's (public) id and a
        // challenge of their own never reaches this line, so it cannot spend the owner's budget. Failed attempts
        // are bounded by the per-IP limit of the route.
        self.credential_limit.check(&parsed.credential_id, "for this passkey")?;

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
        self.open_session(user, tenant, private_data, rp_id, &stored.id).await
    }

    pub(super) async fn open_session(
        &self,
        user: User,
        tenant: Tenant,
        private_data: PrivateData,
        rp_id: String,
        passkey: &str,
    ) -> Result<Session, AuthError> {
        let access_token = self.access_token(&user.id, &tenant.id, &self.audience).await?;
        let refresh_token = new_refresh_token();
        self.store
            .insert_refresh_token(
                &hash_refresh_token(&refresh_token),
                &Uuid::new_v4().to_string(),
                &user.id,
                &tenant.id,
                passkey,
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
}
