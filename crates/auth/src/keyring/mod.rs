//! The token signer's keys and the JWKS document that publishes them: one key ring in the database, shared by
//! every auth replica and surviving restarts (docs/keyring.md).
//!
//! - Each key is a row of `signing_keys` (ring, generation, kid, public JWK, private key wrapped with AES-256-GCM
//!   under a key-encryption key derived by HKDF-SHA256 from the signing key file every replica shares). The ring is
//!   named by the kid of the file's key: replicas sharing the file share the ring; a process with another key file
//!   has a ring of its own on the same database (and its own JWKS).
//! - A rotation inserts the next generation (exactly one of several racing replicas wins). The new key is in the
//!   JWKS at once and signs from `use_from` = creation + `auth.key_publish_delay`; the key it replaces stays
//!   published until `use_from + jwt.access_token_ttl + jwt.leeway`, then its row is deleted.
//! - Replicas reload the ring every `auth.key_reload_interval`, and when a token names a kid they do not know (at
//!   most once per `jwt.jwks_refetch_interval`).
//! - On an empty table the key file's key becomes generation 1; afterwards the newest usable database key signs.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use walletd_common::jwt::{LocalKeys, VerificationKey};
use walletd_db::{SigningKeyRow, Store, StoreError, now_millis};
use walletd_jose::SigningKey;

/// HKDF salt and info of the key-encryption key. Changing either makes every stored key unreadable.
const KEK_SALT: &[u8] = b"walletd signing key ring";
const KEK_INFO: &[u8] = b"walletd-keyring-kek-v1";

/// Why the key ring cannot be opened, loaded or rotated.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error(transparent)]
    Key(#[from] walletd_jose::KeyError),
    /// The table lost every key while this replica was running (the keys already loaded stay in use).
    #[error("the key ring in the database is empty")]
    Empty,
    #[error("signing key file {0}: not a PEM \"PRIVATE KEY\" block")]
    Pem(String),
    #[error("key ring: {0}")]
    Store(#[from] StoreError),
    /// A stored key of this replica's ring cannot be unwrapped with its key file: the row was altered.
    #[error("the stored signing key {kid} cannot be unwrapped with the signing key file: the row was altered")]
    Unwrap { kid: String },
}

/// Timing of rotation, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct RingSettings {
    /// How often a new key is created; `None` never rotates.
    pub rotation_interval: Option<Duration>,
    /// From creation until a new key signs (it is published meanwhile).
    pub publish_delay: Duration,
    /// How long a replaced key stays published after its successor starts signing (token TTL + leeway).
    pub retain: Duration,
    /// Least time between two reloads caused by an unknown kid.
    pub unknown_kid_reload: Duration,
    /// What the ring's keys sign; rings of other purposes share the table but are never counted as this one's peers.
    pub purpose: RingPurpose,
}

/// What a ring's keys sign (column `signing_keys.purpose`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingPurpose {
    /// The auth role's access tokens (published in `/.well-known/jwks.json`).
    Tokens,
    /// The wallet provider's attestations (its own JWKS).
    WalletProvider,
}

impl RingPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RingPurpose::Tokens => "tokens",
            RingPurpose::WalletProvider => "wallet-provider",
        }
    }
}

impl RingSettings {
    /// The settings `auth.*` and `jwt.*` give.
    pub fn from_config(config: &walletd_common::config::Config) -> Self {
        RingSettings {
            rotation_interval: config.auth.key_rotation_interval,
            publish_delay: config.auth.key_publish_delay,
            retain: config.jwt.access_token_ttl + config.jwt.leeway,
            unknown_kid_reload: config.jwt.jwks_refetch_interval,
            purpose: RingPurpose::Tokens,
        }
    }
}

/// The shared key ring: the signing key in use plus the public keys still published. Cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// The kid of the key file's key.
    ring: String,
    kek: LessSafeKey,
    settings: RingSettings,
    /// Newest generation first.
    keys: RwLock<Vec<Entry>>,
    local: Arc<LocalKeys>,
    /// Last reload caused by an unknown kid; the lock also coalesces concurrent ones.
    last_unknown_kid_reload: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Clone)]
struct Entry {
    generation: i64,
    key: Arc<SigningKey>,
    created_at: i64,
    use_from: i64,
    retire_at: Option<i64>,
}

impl Entry {
    fn published_at(&self, now: i64) -> bool {
        self.retire_at.is_none_or(|r| r > now)
    }
}

impl KeyRing {
    /// Opens the ring in `store`: derives the key-encryption key from the signing key file at `key_file`
    /// (generated on first start), seeds an empty ring with that key and loads every stored key.
    pub async fn open(store: Store, key_file: &Path, settings: RingSettings) -> Result<KeyRing, KeyRingError> {
        let file_key = SigningKey::load_or_generate(key_file)?;
        let pem = std::fs::read_to_string(key_file).map_err(|e| walletd_jose::KeyError::File {
            path: key_file.display().to_string(),
            message: e.to_string(),
        })?;
        let der = walletd_jose::pem::decode_private_key(&pem)
            .ok_or_else(|| KeyRingError::Pem(key_file.display().to_string()))?;
        let ring = KeyRing {
            inner: Arc::new(Inner {
                store,
                ring: file_key.kid().to_string(),
                kek: derive_kek(&der),
                settings,
                keys: RwLock::new(Vec::new()),
                local: Arc::new(LocalKeys::default()),
                last_unknown_kid_reload: tokio::sync::Mutex::new(None),
            }),
        };
        let mut claimed = ring.load().await?;
        if ring.entries().is_empty() {
            // First start on this database: the key file's key (which signed before the ring existed) is
            // generation 1 and signs at once. A replica racing here loses the insert and loads the winner's row.
            let now = now_millis();
            let row = ring.wrap(1, &file_key, &der, now, now)?;
            ring.inner.store.insert_signing_key(&row, now).await?;
            ring.load().await?;
            // Retired keys of the ring (not loaded) may still predate purposes: claim them too.
            claimed = false;
        }
        // A ring stored before purposes were recorded is claimed by its owner here (it defaulted to `tokens`). The
        // write is skipped when the keys just loaded already carry the purpose: the usual start.
        let purpose = ring.inner.settings.purpose.as_str();
        if !claimed {
            ring.inner
                .store
                .set_signing_key_ring_purpose(&ring.inner.ring, purpose)
                .await?;
        }
        ring.spawn_other_rings_check();
        tracing::info!(
            ring = %ring.inner.ring,
            keys = ring.entries().len(),
            signing = ring.active().kid(),
            "signing key ring loaded"
        );
        let weak = Arc::downgrade(&ring.inner);
        ring.inner.local.on_unknown_kid(Box::new(move || {
            let weak = weak.clone();
            Box::pin(async move {
                if let Some(inner) = weak.upgrade() {
                    KeyRing { inner }.reload_for_unknown_kid().await;
                }
            })
        }));
        Ok(ring)
    }

    /// The key new tokens are signed with: the newest one whose `use_from` has passed.
    pub fn active(&self) -> Arc<SigningKey> {
        let now = now_millis();
        let keys = self.inner.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .find(|e| e.use_from <= now)
            .or(keys.last())
            .map(|e| e.key.clone())
            .expect("the ring is never empty once opened: reload keeps the loaded keys over an empty table")
    }

    /// The public keys for in-process validation (combined mode), kept in step with the JWKS.
    pub fn local_keys(&self) -> Arc<LocalKeys> {
        self.inner.local.clone()
    }

    /// The JWKS document: `{"keys":[...]}`, newest first, every key not retired.
    pub fn jwks(&self) -> serde_json::Value {
        let now = now_millis();
        let keys: Vec<serde_json::Value> = self
            .entries()
            .iter()
            .filter(|e| e.published_at(now))
            .map(|e| e.key.public_jwk().to_value())
            .collect();
        json!({ "keys": keys })
    }

    /// Reads the ring from the database (keys already known are not unwrapped again).
    pub async fn reload(&self) -> Result<(), KeyRingError> {
        self.load().await.map(|_claimed| ())
    }

    /// Warns, shortly after start-up, when the database holds keys of other key files for this ring's purpose:
    /// replicas meant to accept each other's tokens must share one key file. Only a warning, so it is not on the
    /// start-up path, where each query is a round trip to the database's thread (docs/performance.md "Start-up").
    fn spawn_other_rings_check(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep(walletd_common::background::FIRST_RUN_AFTER_START).await;
            let Some(inner) = weak.upgrade() else { return };
            let purpose = inner.settings.purpose.as_str();
            match inner.store.signing_key_rings(purpose).await {
                Ok(rings) if rings.len() > 1 => tracing::warn!(
                    ring = %inner.ring,
                    rings = rings.len(),
                    purpose,
                    "the database holds signing keys of other key files for the same purpose: replicas that should \
                     accept each other's signatures must share their signing key file"
                ),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "cannot list the signing key rings"),
            }
        });
    }

    /// [`KeyRing::reload`], answering whether every key loaded already carries the ring's purpose.
    async fn load(&self) -> Result<bool, KeyRingError> {
        let rows = self.inner.store.signing_keys(&self.inner.ring, now_millis()).await?;
        let purpose = self.inner.settings.purpose.as_str();
        let claimed = rows.iter().all(|row| row.purpose == purpose);
        let known = self.entries();
        if rows.is_empty() && !known.is_empty() {
            return Err(KeyRingError::Empty);
        }
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let key = match known.iter().find(|e| e.key.kid() == row.kid) {
                Some(e) => e.key.clone(),
                None => Arc::new(self.unwrap(&row)?),
            };
            entries.push(Entry {
                generation: row.generation,
                key,
                created_at: row.created_at,
                use_from: row.use_from,
                retire_at: row.retire_at,
            });
        }
        let added: Vec<&str> = entries
            .iter()
            .filter(|e| !known.iter().any(|k| k.generation == e.generation))
            .map(|e| e.key.kid())
            .collect();
        if !known.is_empty() && !added.is_empty() {
            tracing::info!(kids = ?added, "signing keys loaded from the key ring");
        }
        *self.inner.keys.write().unwrap_or_else(|p| p.into_inner()) = entries;
        self.sync_local();
        Ok(claimed)
    }

    /// Creates the next key when the newest one is older than the rotation interval. Returns whether this replica
    /// rotated (`false` also when another replica won the race).
    pub async fn rotate_if_due(&self) -> Result<bool, KeyRingError> {
        let Some(every) = self.inner.settings.rotation_interval else {
            return Ok(false);
        };
        let newest_created = self.entries().first().map(|e| e.created_at).unwrap_or(0);
        if now_millis() < newest_created.saturating_add(millis(every)) {
            return Ok(false);
        }
        self.rotate().await
    }

    /// Creates the next generation now: published at once, signing after the publish delay; the keys before it
    /// retire `retain` after that. Exactly one of several replicas calling this for the same generation succeeds;
    /// the others reload its key. Returns whether this call created the key.
    pub async fn rotate(&self) -> Result<bool, KeyRingError> {
        let s = self.inner.settings;
        let next = self.entries().first().map(|e| e.generation).unwrap_or(0) + 1;
        let (key, der) = SigningKey::generate()?;
        let now = now_millis();
        let use_from = now.saturating_add(millis(s.publish_delay));
        let row = self.wrap(next, &key, &der, now, use_from)?;
        let created = self
            .inner
            .store
            .insert_signing_key(&row, use_from.saturating_add(millis(s.retain)))
            .await?;
        if created {
            tracing::info!(
                kid = key.kid(),
                generation = next,
                "signing key created (published, not yet signing)"
            );
        }
        self.reload().await?;
        Ok(created)
    }

    /// Deletes keys whose retirement time has passed.
    pub async fn drop_retired(&self) -> Result<u64, KeyRingError> {
        Ok(self
            .inner
            .store
            .delete_retired_signing_keys(&self.inner.ring, now_millis())
            .await?)
    }

    async fn reload_for_unknown_kid(&self) {
        let mut last = self.inner.last_unknown_kid_reload.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.inner.settings.unknown_kid_reload) {
            return;
        }
        *last = Some(Instant::now());
        if let Err(e) = self.reload().await {
            tracing::warn!(error = %e, "reloading the key ring for an unknown kid failed");
        }
    }

    fn entries(&self) -> Vec<Entry> {
        self.inner.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn sync_local(&self) {
        let now = now_millis();
        let keys = self
            .entries()
            .iter()
            .filter(|e| e.published_at(now))
            .filter_map(|e| VerificationKey::from_jwk(&e.key.public_jwk().to_value()))
            .collect();
        self.inner.local.set(keys);
    }

    fn wrap(
        &self,
        generation: i64,
        key: &SigningKey,
        der: &[u8],
        created_at: i64,
        use_from: i64,
    ) -> Result<SigningKeyRow, KeyRingError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| walletd_jose::KeyError::InvalidKey)?;
        let mut sealed = der.to_vec();
        self.inner
            .kek
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad(key.kid()), &mut sealed)
            .map_err(|_| walletd_jose::KeyError::InvalidKey)?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&sealed);
        Ok(SigningKeyRow {
            ring: self.inner.ring.clone(),
            generation,
            kid: key.kid().to_string(),
            public_jwk: key.public_jwk().to_string(),
            wrapped_key: wrapped,
            created_at,
            publish_at: created_at,
            use_from,
            retire_at: None,
            purpose: self.inner.settings.purpose.as_str().to_string(),
        })
    }

    fn unwrap(&self, row: &SigningKeyRow) -> Result<SigningKey, KeyRingError> {
        let fail = || KeyRingError::Unwrap { kid: row.kid.clone() };
        if row.wrapped_key.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = row.wrapped_key.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = sealed.to_vec();
        let der = self
            .inner
            .kek
            .open_in_place(nonce, aad(&row.kid), &mut buf)
            .map_err(|_| fail())?;
        let key = SigningKey::from_pkcs8_der(der).map_err(|_| fail())?;
        // The kid is bound as associated data; check the key itself matches too.
        if key.kid() != row.kid {
            return Err(fail());
        }
        Ok(key)
    }
}

/// The key-encryption key: HKDF-SHA256 over the signing key file's PKCS#8 DER.
fn derive_kek(file_der: &[u8]) -> LessSafeKey {
    let prk = Salt::new(HKDF_SHA256, KEK_SALT).extract(file_der);
    let okm = prk
        .expand(&[KEK_INFO], &AES_256_GCM)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    LessSafeKey::new(UnboundKey::from(okm))
}

fn aad(kid: &str) -> Aad<Vec<u8>> {
    Aad::from(format!("walletd-signing-key:{kid}").into_bytes())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `GET /.well-known/jwks.json`, cacheable for `max_age`.
pub fn jwks_routes(ring: KeyRing, max_age: Duration) -> Router {
    let cache_control = format!("public, max-age={}", max_age.as_secs());
    Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let ring = ring.clone();
            let cache_control = cache_control.clone();
            async move { ([(header::CACHE_CONTROL, cache_control)], Json(ring.jwks())).into_response() }
        }),
    )
}

#[cfg(test)]
mod tests;
