//! Wallet Instance Attestations (OAuth attestation-based client authentication): the client first takes a
//! single-use challenge, then proves possession of its instance key with a PoP JWT over that challenge; the
//! attestation (`oauth-client-attestation+jwt`) binds that key (`cnf.jwk`). The instance is identified by the key's
//! RFC 7638 thumbprint and recorded for the caller on first use.

use rand::RngCore;
use serde_json::{Value, json};
use walletd_db::now_millis;
use walletd_jose::jws::{JwsAlg, decode_jwt, verify_with_jwk};
use walletd_jose::{Jwk, b64};

use super::{Caller, WIA_POP_TYP, WIA_TYP, WalletProviderService, WpError, millis, secs};
use crate::limits::RateLimited;
use crate::signer::sign_jwt;

/// Longest `client_id` and `credential_id` accepted.
const MAX_ID_LEN: usize = 512;

/// A challenge handed out.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub challenge: String,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// A WIA request.
#[derive(Debug, Clone)]
pub struct WiaRequest {
    /// The PoP JWT: header `typ` `oauth-client-attestation-pop+jwt` and the instance key as `jwk`, signed by it;
    /// claims `aud` (the provider's issuer), `challenge` (or `nonce`) and `iat`.
    pub pop: String,
    pub challenge: String,
    /// The OAuth `client_id` the instance uses (the WIA's `sub`); defaults to the instance id.
    pub client_id: Option<String>,
    /// The base64url credential id of the passkey the instance logs in with, recorded on the instance.
    pub credential_id: Option<String>,
}

/// An issued WIA.
#[derive(Debug, Clone)]
pub struct IssuedWia {
    pub jwt: String,
    pub instance_id: String,
    pub status_idx: i64,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

impl WalletProviderService {
    /// A single-use challenge for the caller's tenant, valid `challenge_ttl`.
    pub async fn wia_challenge(&self, caller: &Caller) -> Result<Challenge, WpError> {
        let s = &self.inner.settings;
        self.check_tenant(&caller.tenant_id).await?;
        self.limit_user(caller).await?;
        let now = now_millis();
        let pending = self.inner.store.count_wp_challenges(&caller.tenant_id, now).await?;
        if pending >= i64::from(s.max_pending_challenges) {
            return Err(WpError::RateLimited(RateLimited {
                retry_after: s.challenge_ttl,
                what: "tenant (pending challenges)",
            }));
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let challenge = b64(bytes);
        let expires_at = now.saturating_add(millis(s.challenge_ttl));
        self.inner
            .store
            .insert_wp_challenge(&challenge, &caller.tenant_id, expires_at)
            .await?;
        Ok(Challenge {
            challenge,
            expires_at: secs(expires_at),
        })
    }

    /// Issues a WIA for the instance key the PoP proves, after consuming the challenge.
    pub async fn wallet_instance_attestation(&self, caller: &Caller, req: WiaRequest) -> Result<IssuedWia, WpError> {
        let s = &self.inner.settings;
        for (name, v) in [("client_id", &req.client_id), ("credential_id", &req.credential_id)] {
            if v.as_ref().is_some_and(|v| v.is_empty() || v.len() > MAX_ID_LEN) {
                return Err(WpError::Invalid(format!("{name} must be 1 to {MAX_ID_LEN} characters")));
            }
        }
        self.check_tenant(&caller.tenant_id).await?;
        self.limit_user(caller).await?;
        // The challenge is spent before the PoP is looked at: a failed attempt cannot be retried with it.
        if req.challenge.is_empty()
            || !self
                .inner
                .store
                .consume_wp_challenge(&req.challenge, &caller.tenant_id, now_millis())
                .await?
        {
            return Err(WpError::ChallengeInvalid);
        }
        let instance_key = verify_pop(&req.pop, &req.challenge, &s.issuer, s.challenge_ttl.as_secs())?;
        if let Some(cred) = &req.credential_id {
            self.check_passkey(caller, cred).await?;
        }
        let thumbprint = instance_key
            .thumbprint()
            .map_err(|_| WpError::PopInvalid("the instance key has no thumbprint".into()))?;
        let instance = self
            .instance_for(caller, &format!("jkt:{thumbprint}"), req.credential_id.as_deref())
            .await?;
        self.limit_instance(&instance).await?;

        let now = now_millis();
        let exp = now.saturating_add(millis(s.wia_ttl));
        let idx = self.record(&instance, "wallet_instance_attestation", now, exp).await?;
        let claims = json!({
            "iss": s.issuer,
            "sub": req.client_id.clone().unwrap_or_else(|| instance.id.clone()),
            "iat": secs(now),
            "exp": secs(exp),
            "cnf": {"jwk": instance_key.public_only().to_value()},
            "wallet_name": "walletd",
            "status": {"status_list": {"idx": idx, "uri": s.status_list_uri()}},
        });
        let jwt = sign_jwt(self.inner.signer.as_ref(), WIA_TYP, &claims).await?;
        self.audit(
            &format!("user:{}", caller.user_id),
            "wallet_instance_attestation.issue",
            &caller.tenant_id,
            Some(instance.id.clone()),
            json!({
                "status_idx": idx,
                "exp": secs(exp),
                "signer": self.inner.signer.kind(),
                "kid": self.inner.signer.current_kid(),
            }),
        )
        .await?;
        tracing::info!(instance = %instance.id, tenant = %caller.tenant_id, "wallet instance attestation issued");
        Ok(IssuedWia {
            jwt,
            instance_id: instance.id,
            status_idx: idx,
            expires_at: secs(exp),
        })
    }
}

impl WalletProviderService {
    /// The passkey named by `credential_id` (base64url) must be one of the caller's own in the caller's tenant:
    /// an instance records only a passkey its user could have logged in with.
    async fn check_passkey(&self, caller: &Caller, credential_id: &str) -> Result<(), WpError> {
        let raw = walletd_jose::b64_decode(credential_id)
            .ok_or_else(|| WpError::Invalid("credential_id must be base64url".into()))?;
        let owned = self
            .inner
            .store
            .get_credential_by_credential_id(&raw)
            .await?
            .is_some_and(|c| c.user_id == caller.user_id && c.tenant_id == caller.tenant_id);
        if !owned {
            return Err(WpError::PasskeyNotOwned);
        }
        Ok(())
    }
}

/// Checks the PoP and returns the instance key it proves possession of.
fn verify_pop(pop: &str, challenge: &str, issuer: &str, max_age_secs: u64) -> Result<Jwk, WpError> {
    let refuse = |m: &str| WpError::PopInvalid(m.to_string());
    let jwt = decode_jwt(pop).ok_or_else(|| refuse("not a compact JWS"))?;
    if jwt.header_str("typ") != Some(WIA_POP_TYP) {
        return Err(refuse("typ must be oauth-client-attestation-pop+jwt"));
    }
    let jwk = jwt
        .header
        .get("jwk")
        .ok_or_else(|| refuse("the header has no jwk (the instance key)"))
        .and_then(|v| Jwk::from_value(v).map_err(|_| refuse("the header's jwk is not a JWK")))?;
    if jwk.is_private() {
        return Err(refuse("the header's jwk holds private key material"));
    }
    // Signed by the key it names: whoever sent it holds that key.
    verify_with_jwk(
        &jwt,
        &jwk,
        &[JwsAlg::Es256, JwsAlg::Es384, JwsAlg::Ps256, JwsAlg::Rs256],
    )
    .map_err(|_| refuse("the signature does not verify with the header's jwk"))?;
    let c = &jwt.claims;
    let said = c.get("challenge").or_else(|| c.get("nonce")).and_then(Value::as_str);
    if said != Some(challenge) {
        return Err(refuse("challenge does not match"));
    }
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(refuse("aud must be the wallet provider's issuer identifier"));
    }
    let iat = c
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| refuse("iat is missing"))?;
    let now = secs(now_millis());
    let window = i64::try_from(max_age_secs).unwrap_or(i64::MAX);
    if iat > now + 60 || iat < now.saturating_sub(window) {
        return Err(refuse("iat is outside the challenge's lifetime"));
    }
    Ok(jwk)
}
