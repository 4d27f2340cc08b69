//! Key attestations (OpenID4VCI 1.0 Appendix D): a `key-attestation+jwt` naming the client's public keys
//! (`attested_keys`), the tenant's `key_storage` and `user_authentication` levels, the issuer's `nonce`, a short
//! lifetime and a `status` entry in the provider's status list.

use serde_json::{Value, json};
use walletd_db::now_millis;
use walletd_jose::Jwk;

use super::{Caller, KEY_ATTESTATION_TYP, WalletProviderService, WpError, millis, secs};
use crate::signer::sign_jwt;

/// Longest `nonce` accepted (issuer nonces are short; this bounds what is signed).
const MAX_NONCE_LEN: usize = 512;

/// What the client asks to have attested.
#[derive(Debug, Clone)]
pub struct KeyAttestationRequest {
    /// Public JWKs to attest.
    pub jwks: Vec<Value>,
    /// The credential issuer's nonce (`c_nonce`), copied into the attestation.
    pub nonce: Option<String>,
    /// The caller's wallet instance to attach the attestation to; `None` uses the user's web-client instance.
    pub instance_id: Option<String>,
}

/// An issued key attestation.
#[derive(Debug, Clone)]
pub struct IssuedKeyAttestation {
    /// The compact JWS.
    pub jwt: String,
    pub instance_id: String,
    pub status_idx: i64,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

impl WalletProviderService {
    /// Issues a key attestation for `caller`.
    pub async fn key_attestation(
        &self,
        caller: &Caller,
        req: KeyAttestationRequest,
    ) -> Result<IssuedKeyAttestation, WpError> {
        let s = &self.inner.settings;
        let keys = public_keys(&req.jwks, s.max_attested_keys)?;
        if let Some(n) = &req.nonce
            && (n.is_empty() || n.len() > MAX_NONCE_LEN)
        {
            return Err(WpError::Invalid(format!(
                "nonce must be 1 to {MAX_NONCE_LEN} characters"
            )));
        }
        self.check_tenant(&caller.tenant_id).await?;
        self.limit_user(caller).await?;
        let instance = match &req.instance_id {
            Some(id) => self.named_instance(caller, id).await?,
            None => {
                let key_ref = format!("user:{}:{}", caller.tenant_id, caller.user_id);
                self.instance_for(caller, &key_ref, None).await?
            }
        };
        self.limit_instance(&instance).await?;

        let now = now_millis();
        let exp = now.saturating_add(millis(s.key_attestation_ttl));
        let idx = self.record(&instance, "key_attestation", now, exp).await?;
        let (key_storage, user_authentication) = s.levels(&caller.tenant_id);
        let mut claims = json!({
            "iss": s.issuer,
            "iat": secs(now),
            "exp": secs(exp),
            "attested_keys": keys,
            "key_storage": key_storage,
            "user_authentication": user_authentication,
            "status": {"status_list": {"idx": idx, "uri": s.status_list_uri()}},
        });
        if let Some(n) = &req.nonce {
            claims["nonce"] = Value::String(n.clone());
        }
        let jwt = sign_jwt(self.inner.signer.as_ref(), KEY_ATTESTATION_TYP, &claims).await?;
        // Audited without key material: how many keys, where its status lives, which provider key signed.
        self.audit(
            &format!("user:{}", caller.user_id),
            "key_attestation.issue",
            &caller.tenant_id,
            Some(instance.id.clone()),
            json!({
                "keys": keys.len(),
                "status_idx": idx,
                "exp": secs(exp),
                "signer": self.inner.signer.kind(),
                "kid": self.inner.signer.current_kid(),
            }),
        )
        .await?;
        tracing::info!(instance = %instance.id, tenant = %caller.tenant_id, "key attestation issued");
        Ok(IssuedKeyAttestation {
            jwt,
            instance_id: instance.id,
            status_idx: idx,
            expires_at: secs(exp),
        })
    }
}

/// The keys to attest: 1 to `max` public EC or RSA JWKs, reduced to their public members. A private member is
/// refused rather than silently dropped: a client sending it has a bug worth seeing.
fn public_keys(jwks: &[Value], max: u32) -> Result<Vec<Value>, WpError> {
    if jwks.is_empty() || jwks.len() > max as usize {
        return Err(WpError::Invalid(format!("jwks must hold 1 to {max} public keys")));
    }
    jwks.iter()
        .enumerate()
        .map(|(i, v)| {
            let jwk = Jwk::from_value(v).map_err(|e| WpError::Invalid(format!("jwks[{i}]: {e}")))?;
            if jwk.is_private() {
                return Err(WpError::Invalid(format!(
                    "jwks[{i}] holds private key material; send public keys only"
                )));
            }
            let usable = match jwk.kty.as_str() {
                "EC" => jwk.ec_curve().is_some_and(|c| jwk.ec_point(c).is_ok()),
                "RSA" => jwk.rsa_components().is_ok(),
                _ => false,
            };
            if !usable {
                return Err(WpError::Invalid(format!(
                    "jwks[{i}] is not a usable EC or RSA public key"
                )));
            }
            Ok(jwk.public_only().to_value())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use walletd_jose::EcKey;

    #[test]
    fn only_public_usable_keys_are_attested() {
        let k = EcKey::generate();
        let public = k.public_jwk().to_value();
        assert_eq!(public_keys(std::slice::from_ref(&public), 2).unwrap().len(), 1);
        assert!(public_keys(&[], 2).is_err());
        assert!(public_keys(&[public.clone(), public.clone(), public.clone()], 2).is_err());
        assert!(
            public_keys(&[k.private_jwk().to_value()], 2).is_err(),
            "no private keys"
        );
        assert!(public_keys(&[json!({"kty": "EC", "crv": "P-256"})], 2).is_err());
        assert!(public_keys(&[json!("x")], 2).is_err());
    }
}
