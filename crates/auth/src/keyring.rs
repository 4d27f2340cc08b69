//! The token signer's keys and the JWKS document that publishes them.
//!
//! Rotation: a new key is published first and signs only after a delay (validators that cached the JWKS refetch on
//! the unknown `kid` or at their cache TTL); the previous key stays published until the tokens it signed have
//! expired. Rotated keys live in memory: after a restart the key file's key signs again, which only invalidates
//! access tokens signed by a rotated key (short-lived; clients refresh).

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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

struct Pending {
    key: Arc<SigningKey>,
    activate_at: Instant,
    /// How long the key it replaces stays published after the switch.
    retain: Duration,
}

struct Ring {
    active: Arc<SigningKey>,
    pending: Option<Pending>,
    /// Previous keys with the instant they leave the JWKS.
    retired: Vec<(serde_json::Value, Instant)>,
}

impl Ring {
    /// Newest first: pending, active, then retired keys.
    fn published(&self) -> Vec<serde_json::Value> {
        let mut keys = Vec::new();
        if let Some(p) = &self.pending {
            keys.push(p.key.public_jwk().clone());
        }
        keys.push(self.active.public_jwk().clone());
        keys.extend(self.retired.iter().map(|(jwk, _)| jwk.clone()));
        keys
    }
}

impl KeyRing {
    /// Loads the signing key from `path`, generating and persisting one on first start.
    pub fn load_or_generate(path: &Path) -> Result<KeyRing, KeyError> {
        let key = SigningKey::load_or_generate(path)?;
        Ok(Self::from_key(key))
    }

    /// A keyring around one key.
    pub fn from_key(key: SigningKey) -> KeyRing {
        let ring = KeyRing {
            inner: Arc::new(RwLock::new(Ring {
                active: Arc::new(key),
                pending: None,
                retired: Vec::new(),
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
        json!({"keys": self.inner.read().unwrap_or_else(|p| p.into_inner()).published()})
    }

    /// Starts a rotation: a fresh key is published now and signs from `publish_delay` on; the key it replaces
    /// stays published for `retain` after the switch (the access-token lifetime plus leeway). [`KeyRing::tick`]
    /// advances the schedule. A rotation already pending is replaced.
    pub fn rotate(&self, publish_delay: Duration, retain: Duration) -> Result<(), KeyError> {
        let (key, _der) = SigningKey::generate()?;
        self.inner.write().unwrap_or_else(|p| p.into_inner()).pending = Some(Pending {
            key: Arc::new(key),
            activate_at: Instant::now() + publish_delay,
            retain,
        });
        self.tick();
        Ok(())
    }

    /// Activates a pending key whose delay has passed and drops retired keys whose tokens have expired.
    pub fn tick(&self) {
        let now = Instant::now();
        {
            let mut ring = self.inner.write().unwrap_or_else(|p| p.into_inner());
            if ring.pending.as_ref().is_some_and(|p| p.activate_at <= now)
                && let Some(p) = ring.pending.take()
            {
                let old = std::mem::replace(&mut ring.active, p.key);
                ring.retired.insert(0, (old.public_jwk().clone(), now + p.retain));
                tracing::info!(kid = ring.active.kid(), "token signing key rotated");
            }
            ring.retired.retain(|(_, until)| *until > now);
        }
        self.sync_local();
    }

    fn sync_local(&self) {
        let keys = self
            .inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .published()
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

    fn exp() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 60
    }

    #[tokio::test]
    async fn jwks_publishes_the_active_key_and_local_validation_uses_it() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_generate(&dir.path().join("k.pem")).unwrap();
        let jwks = ring.jwks();
        assert_eq!(jwks["keys"][0]["kid"], ring.active().kid());
        assert!(jwks["keys"][0].get("d").is_none(), "never publish the private scalar");

        let validator = JwtValidator::new(&JwtConfig::default(), Some(ring.local_keys()));
        let token = ring
            .active()
            .sign(&json!({"iss": "walletd", "aud": "walletd", "sub": "u", "exp": exp()}))
            .unwrap();
        assert_eq!(validator.validate(&token, &["walletd"]).await.unwrap().subject, "u");
    }

    #[tokio::test]
    async fn rotation_publishes_before_signing_and_keeps_the_old_key_until_it_expires() {
        let ring = KeyRing::from_key(SigningKey::generate().unwrap().0);
        let validator = JwtValidator::new(&JwtConfig::default(), Some(ring.local_keys()));
        let first = ring.active().kid().to_string();
        let old_token = ring
            .active()
            .sign(&json!({"iss": "walletd", "aud": "walletd", "sub": "old", "exp": exp()}))
            .unwrap();

        ring.rotate(Duration::from_millis(100), Duration::from_millis(300))
            .unwrap();
        let keys = ring.jwks()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 2, "the new key is published at once");
        assert_eq!(ring.active().kid(), first, "but does not sign yet");
        let next = keys[0]["kid"].as_str().unwrap().to_string();
        assert_ne!(next, first);

        tokio::time::sleep(Duration::from_millis(150)).await;
        ring.tick();
        assert_eq!(ring.active().kid(), next, "after the delay the new key signs");
        assert_eq!(
            ring.jwks()["keys"].as_array().unwrap().len(),
            2,
            "the old key is still published"
        );
        assert_eq!(
            validator.validate(&old_token, &["walletd"]).await.unwrap().subject,
            "old"
        );

        tokio::time::sleep(Duration::from_millis(350)).await;
        ring.tick();
        let keys = ring.jwks()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 1, "the old key leaves once its tokens expired");
        assert!(validator.validate(&old_token, &["walletd"]).await.is_err());
    }
}
