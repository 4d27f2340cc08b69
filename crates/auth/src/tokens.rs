//! Access tokens (ES256 JWTs signed by the keyring's active key) and opaque refresh tokens (stored hashed).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::AuthError;
use crate::keyring::KeyRing;
use crate::tagged::b64u;

/// Claims of an access token.
#[derive(Debug, Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    tenant_id: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    /// The user's session epoch at issue (crates/common/src/revocation.rs).
    sep: i64,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    /// Seconds since the epoch.
    pub expires_at: u64,
    /// Seconds from now.
    pub expires_in: u64,
}

/// Mints access tokens.
#[derive(Clone)]
pub struct TokenIssuer {
    ring: KeyRing,
    issuer: String,
    ttl: Duration,
}

impl TokenIssuer {
    /// An issuer with `iss` = `issuer` and lifetime `ttl`.
    pub fn new(ring: KeyRing, issuer: String, ttl: Duration) -> Self {
        TokenIssuer { ring, issuer, ttl }
    }

    /// An access token for `user` in `tenant` for `audience`, issued under session epoch `epoch`.
    pub fn access_token(&self, user: &str, tenant: &str, audience: &str, epoch: i64) -> Result<AccessToken, AuthError> {
        let now = unix_now();
        let exp = now + self.ttl.as_secs();
        let claims = AccessClaims {
            iss: &self.issuer,
            sub: user,
            aud: audience,
            tenant_id: tenant,
            iat: now,
            nbf: now,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            sep: epoch,
        };
        let token = self
            .ring
            .active()
            .sign(&claims)
            .map_err(|e| AuthError::unavailable(&e))?;
        Ok(AccessToken {
            token,
            expires_at: exp,
            expires_in: self.ttl.as_secs(),
        })
    }
}

/// A new opaque refresh token: 32 random bytes, base64url.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    b64u(&bytes)
}

/// What the database keeps of a refresh token: its SHA-256, base64url. The token has 256 bits of entropy, so a
/// plain hash is enough (no salt or stretching needed).
pub fn hash_refresh_token(token: &str) -> String {
    b64u(&Sha256::digest(token.as_bytes()))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use walletd_common::config::JwtConfig;
    use walletd_common::jwt::JwtValidator;

    #[tokio::test]
    async fn access_tokens_carry_the_claims_and_validate() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = walletd_db::Store::connect(&walletd_common::config::DatabaseConfig::with_url(&url))
            .await
            .unwrap();
        let settings = crate::RingSettings {
            rotation_interval: None,
            publish_delay: Duration::from_secs(1),
            retain: Duration::from_secs(1),
            unknown_kid_reload: Duration::from_secs(1),
            purpose: crate::RingPurpose::Tokens,
        };
        let ring = KeyRing::open(store, &dir.path().join("k.pem"), settings).await.unwrap();
        let issuer = TokenIssuer::new(ring.clone(), "walletd".into(), Duration::from_secs(60));
        let t = issuer.access_token("u1", "acme", "storage", 0).unwrap();
        let v = JwtValidator::new(&JwtConfig::default(), Some(ring.local_keys()));
        let claims = v.validate(&t.token, &["storage"]).await.unwrap();
        assert_eq!(claims.subject, "u1");
        assert_eq!(claims.tenant_id, "acme");
        assert!(claims.token_id.is_some());
        assert!(v.validate(&t.token, &["engine"]).await.is_err(), "other audience");
    }

    #[test]
    fn refresh_tokens_are_random_and_hash_stably() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(hash_refresh_token(&a), hash_refresh_token(&a));
        assert_ne!(hash_refresh_token(&a), a);
    }
}
