//! The token signer's keys and the JWKS document that publishes them.

use std::path::Path;
use std::sync::{Arc, RwLock};

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use walletd_common::jwt::{LocalKeys, VerificationKey};
use walletd_common::keys::{KeyError, SigningKey};

/// The active signing key plus the public keys still published (during rotation an old key stays in the JWKS
/// until the tokens it signed have expired). Shares its public keys with in-process validators.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<RwLock<Ring>>,
    local: Arc<LocalKeys>,
}

struct Ring {
    active: Arc<SigningKey>,
    published: Vec<serde_json::Value>,
}

impl KeyRing {
    /// Loads the signing key from `path`, generating and persisting one on first start.
    pub fn load_or_generate(path: &Path) -> Result<KeyRing, KeyError> {
        let key = SigningKey::load_or_generate(path)?;
        Ok(Self::from_key(key))
    }

    /// A keyring around one key.
    pub fn from_key(key: SigningKey) -> KeyRing {
        let published = vec![key.public_jwk().clone()];
        let ring = KeyRing {
            inner: Arc::new(RwLock::new(Ring {
                active: Arc::new(key),
                published,
            })),
            local: Arc::new(LocalKeys::default()),
        };
        ring.sync_local();
        ring
    }

    /// The key new tokens are signed with.
    pub fn active(&self) -> Arc<SigningKey> {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).active.clone()
    }

    /// The public keys for in-process validation (combined mode), kept in step with the JWKS.
    pub fn local_keys(&self) -> Arc<LocalKeys> {
        self.local.clone()
    }

    /// The JWKS document: `{"keys":[...]}`, newest first.
    pub fn jwks(&self) -> serde_json::Value {
        json!({"keys": self.inner.read().unwrap_or_else(|p| p.into_inner()).published})
    }

    fn sync_local(&self) {
        let keys = self
            .inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .published
            .iter()
            .filter_map(VerificationKey::from_jwk)
            .collect();
        self.local.set(keys);
    }
}

/// `GET /.well-known/jwks.json`.
pub fn jwks_routes(ring: KeyRing) -> Router {
    Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let ring = ring.clone();
            async move {
                // Short public caching: validators refetch on unknown kid anyway.
                ([(header::CACHE_CONTROL, "public, max-age=300")], Json(ring.jwks())).into_response()
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use walletd_common::config::JwtConfig;
    use walletd_common::jwt::JwtValidator;

    #[tokio::test]
    async fn jwks_publishes_the_active_key_and_local_validation_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_generate(&dir.path().join("k.pem")).unwrap();
        let jwks = ring.jwks();
        assert_eq!(jwks["keys"][0]["kid"], ring.active().kid());
        assert!(jwks["keys"][0].get("d").is_none(), "never publish the private scalar");

        let validator = JwtValidator::new(&JwtConfig::default(), Some(ring.local_keys()));
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 60;
        let token = ring
            .active()
            .sign(&json!({"iss": "walletd", "aud": "walletd", "sub": "u", "exp": exp}))
            .unwrap();
        assert_eq!(validator.validate(&token, &["walletd"]).await.unwrap().subject, "u");
    }
}
