//! Access-token validation shared by every role.
//!
//! The algorithm is always taken from the key, never from the token: a token whose header `alg` differs from its
//! key's algorithm is rejected, `none` cannot be expressed, and HS256 is verified only with the configured shared
//! secret (so an HS256 token "signed" with a public key fails). Keys come from the in-process signer (combined
//! mode), a JWKS URL (split mode; cached, refetched on unknown `kid` at most every `jwks_refetch_interval`), or both.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::config::JwtConfig;

mod keys;
use crate::revocation::EpochCheck;
use crate::tenant::DEFAULT_TENANT;
use crate::token_cache::{TokenCache, Verified};
pub use keys::VerificationKey;

/// Why a token was refused. The message never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not accepted")]
    UnsupportedAlgorithm,
    #[error("token is signed by an unknown key")]
    UnknownKey,
    #[error("token algorithm does not match its key")]
    AlgorithmMismatch,
    #[error("token is invalid: {0}")]
    Invalid(String),
    #[error("token has no subject")]
    MissingSubject,
    #[error("token signing keys are unavailable")]
    KeysUnavailable,
    #[error("token was revoked (signed out, account or passkey removed, or tenant disabled)")]
    Revoked,
    #[error("token revocation state is unavailable")]
    RevocationUnavailable,
}

/// The claims walletd uses from a validated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The user id (`sub`, or the legacy `user_id`).
    pub subject: String,
    /// The tenant (`tenant_id`; `default` when absent).
    pub tenant_id: String,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
    /// `jti`, when present.
    pub token_id: Option<String>,
    /// `sep`, the user's session epoch when the token was issued (0 when absent; crate::revocation).
    pub session_epoch: i64,
}

#[derive(Deserialize)]
struct RawClaims {
    sub: Option<String>,
    user_id: Option<Value>,
    tenant_id: Option<String>,
    exp: u64,
    jti: Option<String>,
    aud: Option<Value>,
    sep: Option<i64>,
}

/// Reloads the in-process keys from their source (the auth role's key ring); called when a token names a `kid`
/// that is not among them. The source decides how often it really reloads.
pub type LocalReload = Box<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// Keys held in process, replaced as the auth role rotates its signer.
#[derive(Default)]
pub struct LocalKeys {
    keys: RwLock<Vec<VerificationKey>>,
    reload: std::sync::OnceLock<LocalReload>,
    /// Raised whenever the set of key ids changes: cached validations made under older keys are redone.
    generation: AtomicU64,
}

impl LocalKeys {
    /// Replaces the published keys (newest first).
    pub fn set(&self, keys: Vec<VerificationKey>) {
        let mut current = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if !same_kids(&current, &keys) {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        *current = keys;
    }

    /// Installs the reload hook used on an unknown `kid` (first call wins).
    pub fn on_unknown_kid(&self, reload: LocalReload) {
        let _ = self.reload.set(reload);
    }

    fn snapshot(&self) -> Vec<VerificationKey> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

struct RemoteJwks {
    url: Url,
    http: reqwest::Client,
    cache_ttl: Duration,
    refetch_interval: Duration,
    keys: RwLock<Vec<VerificationKey>>,
    /// Raised whenever the fetched key ids change (see [`LocalKeys`]).
    generation: AtomicU64,
    /// Time of the last fetch attempt; the mutex also makes concurrent refetches coalesce into one.
    last_fetch: Mutex<Option<Instant>>,
}

impl RemoteJwks {
    fn snapshot(&self) -> Vec<VerificationKey> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Fetches the JWKS when the cache is older than its TTL, or (with `unknown_kid`) when the last fetch is older
    /// than the refetch interval.
    async fn refresh(&self, unknown_kid: bool) -> Result<(), JwtError> {
        let mut last = self.last_fetch.lock().await;
        let due = match *last {
            None => true,
            Some(t) if unknown_kid => t.elapsed() >= self.refetch_interval,
            Some(t) => t.elapsed() >= self.cache_ttl,
        };
        if !due {
            return Ok(());
        }
        *last = Some(Instant::now());
        let fetched = async {
            let resp = self
                .http
                .get(self.url.clone())
                .send()
                .await
                .ok()?
                .error_for_status()
                .ok()?;
            let body: Value = resp.json().await.ok()?;
            let keys: Vec<VerificationKey> = body
                .get("keys")?
                .as_array()?
                .iter()
                .filter_map(VerificationKey::from_jwk)
                .collect();
            Some(keys)
        }
        .await;
        match fetched {
            Some(keys) => {
                let mut current = self.keys.write().unwrap_or_else(|p| p.into_inner());
                if !same_kids(&current, &keys) {
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                *current = keys;
                Ok(())
            }
            None => {
                tracing::warn!(jwks_url = %self.url, "fetching the JWKS failed; keeping the keys already known");
                Err(JwtError::KeysUnavailable)
            }
        }
    }
}

/// Validates access tokens. Cheap to clone.
#[derive(Clone)]
pub struct JwtValidator {
    inner: Arc<ValidatorInner>,
}

struct ValidatorInner {
    issuer: String,
    leeway: u64,
    hs256: Option<DecodingKey>,
    local: Option<Arc<LocalKeys>>,
    remote: Option<RemoteJwks>,
    cache: Option<TokenCache>,
    epochs: std::sync::OnceLock<EpochCheck>,
}

impl JwtValidator {
    /// A validator for the given config; `local` holds the in-process signer's keys in combined mode.
    pub fn new(cfg: &JwtConfig, local: Option<Arc<LocalKeys>>) -> Self {
        let remote = cfg.jwks_url.clone().map(|url| RemoteJwks {
            url,
            // Fails only without any system CA root, which the binary checks before it builds anything.
            http: walletd_egress::tls::http_client_builder()
                .and_then(|b| b.timeout(Duration::from_secs(5)).build().map_err(Into::into))
                .expect("a reqwest client with static settings builds"),
            cache_ttl: cfg.jwks_cache_ttl,
            refetch_interval: cfg.jwks_refetch_interval,
            keys: RwLock::new(Vec::new()),
            generation: AtomicU64::new(0),
            last_fetch: Mutex::new(None),
        });
        JwtValidator {
            inner: Arc::new(ValidatorInner {
                issuer: cfg.issuer.clone(),
                leeway: cfg.leeway.as_secs(),
                hs256: cfg
                    .secret
                    .as_ref()
                    .and_then(|s| DecodingKey::from_secret(s.expose().as_bytes()).ok()),
                local,
                remote,
                cache: TokenCache::new(cfg.token_cache_entries),
                epochs: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Checks every validated token's session epoch against `epochs` from now on (first call wins).
    pub fn check_session_epochs(&self, epochs: EpochCheck) {
        let _ = self.inner.epochs.set(epochs);
    }

    /// Whether revoked tokens are refused (a session-epoch source is installed).
    pub fn checks_revocation(&self) -> bool {
        self.inner.epochs.get().is_some()
    }

    /// Validates `token` for one of `audiences` and returns its claims: verified once, then served from the
    /// validated-token cache until it expires; the session epoch is checked every time.
    pub async fn validate(&self, token: &str, audiences: &[&str]) -> Result<TokenClaims, JwtError> {
        let claims = match &self.inner.cache {
            Some(cache) => {
                let key = TokenCache::key(token);
                match cache.get(&key, audiences, self.key_generation()) {
                    Some(claims) => claims,
                    None => {
                        let verified = self.verify(token, audiences).await?;
                        let claims = verified.claims.clone();
                        cache.insert(key, verified);
                        claims
                    }
                }
            }
            None => self.verify(token, audiences).await?.claims,
        };
        if let Some(epochs) = self.inner.epochs.get() {
            epochs.check(&claims.subject, claims.session_epoch).await?;
        }
        Ok(claims)
    }

    /// Whether any key source is configured at all.
    pub fn has_keys(&self) -> bool {
        self.inner.hs256.is_some() || self.inner.local.is_some() || self.inner.remote.is_some()
    }

    /// Changes whenever a key source's key ids change (rotation, retirement, a new JWKS).
    fn key_generation(&self) -> u64 {
        let local = self
            .inner
            .local
            .as_ref()
            .map_or(0, |l| l.generation.load(Ordering::Acquire));
        let remote = self
            .inner
            .remote
            .as_ref()
            .map_or(0, |r| r.generation.load(Ordering::Acquire));
        local.wrapping_add(remote)
    }

    /// Verifies `token` (signature and claims) for one of `audiences`, without cache or revocation check. The key
    /// generation is read first: a key change while verifying makes the entry stale rather than wrongly fresh.
    pub async fn verify(&self, token: &str, audiences: &[&str]) -> Result<Verified, JwtError> {
        let key_generation = self.key_generation();
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        let (key, alg, legacy) = if header.alg == Algorithm::HS256 {
            let key = self.inner.hs256.clone().ok_or(JwtError::UnsupportedAlgorithm)?;
            (key, Algorithm::HS256, true)
        } else if matches!(header.alg, Algorithm::HS384 | Algorithm::HS512) {
            return Err(JwtError::UnsupportedAlgorithm);
        } else {
            let key = self.find_key(header.kid.as_deref()).await?;
            if key.alg != header.alg {
                return Err(JwtError::AlgorithmMismatch);
            }
            (key.key, key.alg, false)
        };

        let mut validation = Validation::new(alg);
        validation.leeway = self.inner.leeway;
        validation.validate_nbf = true;
        if legacy {
            // Legacy HS256 app tokens of the older backend carry neither `iss` nor `aud`.
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp"]);
        } else {
            validation.set_issuer(&[&self.inner.issuer]);
            validation.set_audience(audiences);
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        }
        let data = jsonwebtoken::decode::<RawClaims>(token, &key, &validation)
            .map_err(|e| JwtError::Invalid(describe(e.kind())))?;
        let c = data.claims;
        let subject = c
            .sub
            .filter(|s| !s.is_empty())
            .or_else(|| match c.user_id {
                Some(Value::String(s)) if !s.is_empty() => Some(s),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
            .ok_or(JwtError::MissingSubject)?;
        let token_audiences = match (legacy, c.aud) {
            (true, _) => None,
            (false, Some(Value::String(a))) => Some(vec![a]),
            (false, Some(Value::Array(a))) => {
                Some(a.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            }
            (false, _) => Some(Vec::new()),
        };
        Ok(Verified {
            claims: TokenClaims {
                subject,
                tenant_id: c
                    .tenant_id
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| DEFAULT_TENANT.to_string()),
                expires_at: c.exp,
                token_id: c.jti,
                session_epoch: c.sep.unwrap_or(0),
            },
            audiences: token_audiences,
            valid_until: c.exp.saturating_add(self.inner.leeway),
            key_generation,
        })
    }

    async fn find_key(&self, kid: Option<&str>) -> Result<VerificationKey, JwtError> {
        let pick = |keys: Vec<VerificationKey>| -> Option<VerificationKey> {
            match kid {
                Some(kid) => keys.into_iter().find(|k| k.kid.as_deref() == Some(kid)),
                // Without a kid, only an unambiguous single key may be used.
                None if keys.len() == 1 => keys.into_iter().next(),
                None => None,
            }
        };
        if let Some(local) = &self.inner.local {
            if let Some(k) = pick(local.snapshot()) {
                return Ok(k);
            }
            // A key another auth replica published that this one has not loaded yet.
            if kid.is_some()
                && let Some(reload) = local.reload.get()
            {
                reload().await;
                if let Some(k) = pick(local.snapshot()) {
                    return Ok(k);
                }
            }
        }
        let Some(remote) = &self.inner.remote else {
            return Err(JwtError::UnknownKey);
        };
        // Periodic refresh; failure keeps the keys already known.
        let refreshed = remote.refresh(false).await;
        if let Some(k) = pick(remote.snapshot()) {
            return Ok(k);
        }
        match remote.refresh(true).await {
            Ok(()) => pick(remote.snapshot()).ok_or(JwtError::UnknownKey),
            Err(e) if remote.snapshot().is_empty() => Err(e),
            Err(_) => refreshed.and(Err(JwtError::UnknownKey)),
        }
    }
}

fn same_kids(a: &[VerificationKey], b: &[VerificationKey]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.kid == y.kid)
}
fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => "expired".into(),
        K::ImmatureSignature => "not yet valid".into(),
        K::InvalidAudience => "wrong audience".into(),
        K::InvalidIssuer => "wrong issuer".into(),
        K::InvalidSignature => "bad signature".into(),
        K::MissingRequiredClaim(c) => format!("missing claim `{c}`"),
        _ => "cannot be verified".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;
    use walletd_jose::SigningKey;

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn setup() -> (SigningKey, JwtValidator, JwtConfig) {
        let (key, _) = SigningKey::generate().unwrap();
        let local = Arc::new(LocalKeys::default());
        local.set(vec![VerificationKey::from_jwk(&key.public_jwk().to_value()).unwrap()]);
        let cfg = JwtConfig {
            secret: Some(Secret::new("legacy-shared-secret")),
            ..JwtConfig::default()
        };
        let v = JwtValidator::new(&cfg, Some(local));
        (key, v, cfg)
    }

    fn claims(aud: &str, exp: u64) -> Value {
        json!({"iss": "walletd", "sub": "user-1", "aud": aud, "tenant_id": "acme", "exp": exp, "iat": now()})
    }

    #[tokio::test]
    async fn valid_es256_token_is_accepted() {
        let (key, v, _) = setup();
        let t = key.sign(&claims("walletd", now() + 60)).unwrap();
        let c = v.validate(&t, &["walletd"]).await.unwrap();
        assert_eq!(c.subject, "user-1");
        assert_eq!(c.tenant_id, "acme");
    }

    #[tokio::test]
    async fn expired_and_wrong_audience_are_refused() {
        let (key, v, _) = setup();
        let t = key.sign(&claims("walletd", now() - 3600)).unwrap();
        assert_eq!(
            v.validate(&t, &["walletd"]).await,
            Err(JwtError::Invalid("expired".into()))
        );
        let t = key.sign(&claims("storage", now() + 60)).unwrap();
        assert_eq!(
            v.validate(&t, &["engine"]).await,
            Err(JwtError::Invalid("wrong audience".into()))
        );
    }

    #[tokio::test]
    async fn alg_none_is_refused() {
        let (_, v, _) = setup();
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(claims("walletd", now() + 60).to_string());
        let t = format!("{h}.{p}.");
        assert_eq!(v.validate(&t, &["walletd"]).await, Err(JwtError::Malformed));
    }

    #[tokio::test]
    async fn hs256_signed_with_the_public_key_is_refused() {
        let (key, v, _) = setup();
        // Algorithm confusion: use the public JWK's JSON (what an attacker has) as the HMAC secret.
        let public = key.public_jwk().to_string();
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some(key.kid().to_string());
        let t = jsonwebtoken::encode(
            &header,
            &claims("walletd", now() + 60),
            &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            v.validate(&t, &["walletd"]).await,
            Err(JwtError::Invalid("bad signature".into()))
        );
    }

    #[tokio::test]
    async fn legacy_hs256_with_the_shared_secret_is_accepted() {
        let (_, v, _) = setup();
        let t = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &json!({"user_id": "legacy-user", "exp": now() + 60}),
            &jsonwebtoken::EncodingKey::from_secret(b"legacy-shared-secret").unwrap(),
        )
        .unwrap();
        let c = v.validate(&t, &["walletd"]).await.unwrap();
        assert_eq!(c.subject, "legacy-user");
        assert_eq!(c.tenant_id, "default");
    }

    #[tokio::test]
    async fn hs256_without_configured_secret_is_refused() {
        let (key, _, _) = setup();
        let local = Arc::new(LocalKeys::default());
        local.set(vec![VerificationKey::from_jwk(&key.public_jwk().to_value()).unwrap()]);
        let v = JwtValidator::new(&JwtConfig::default(), Some(local));
        let t = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &json!({"sub": "x", "exp": now() + 60}),
            &jsonwebtoken::EncodingKey::from_secret(b"anything").unwrap(),
        )
        .unwrap();
        assert_eq!(v.validate(&t, &["walletd"]).await, Err(JwtError::UnsupportedAlgorithm));
    }

    #[tokio::test]
    async fn header_alg_must_match_key_alg() {
        let (key, v, _) = setup();
        // A token that claims ES384 but names the ES256 key's kid.
        let t = key.sign(&claims("walletd", now() + 60)).unwrap();
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[0] = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES384","kid":"{}"}}"#, key.kid()));
        let forged = parts.join(".");
        assert_eq!(
            v.validate(&forged, &["walletd"]).await,
            Err(JwtError::AlgorithmMismatch)
        );
    }

    #[tokio::test]
    async fn unknown_kid_and_garbage_are_refused() {
        let (_, v, _) = setup();
        let (other, _) = SigningKey::generate().unwrap();
        let t = other.sign(&claims("walletd", now() + 60)).unwrap();
        assert_eq!(v.validate(&t, &["walletd"]).await, Err(JwtError::UnknownKey));
        assert_eq!(v.validate("not a token", &["walletd"]).await, Err(JwtError::Malformed));
        assert_eq!(v.validate("", &["walletd"]).await, Err(JwtError::Malformed));
    }

    #[tokio::test]
    async fn cached_tokens_keep_audience_expiry_and_key_checks() {
        let (key, v, _) = setup();
        let t = key.sign(&claims("storage", now() + 60)).unwrap();
        assert_eq!(v.validate(&t, &["storage"]).await.unwrap().subject, "user-1");
        // A hit still compares the audience asked for.
        assert!(v.validate(&t, &["engine"]).await.is_err());
        assert!(v.validate(&t, &["storage"]).await.is_ok());
        // Removing the key (retirement) invalidates what was verified with it.
        v.inner.local.as_ref().unwrap().set(Vec::new());
        assert_eq!(v.validate(&t, &["storage"]).await, Err(JwtError::UnknownKey));
    }

    #[test]
    fn jwk_with_contradicting_alg_is_not_usable() {
        let (key, _) = SigningKey::generate().unwrap();
        let mut jwk = key.public_jwk().to_value();
        jwk["alg"] = json!("HS256");
        assert!(VerificationKey::from_jwk(&jwk).is_none());
        jwk["alg"] = json!("ES256");
        jwk["use"] = json!("enc");
        assert!(VerificationKey::from_jwk(&jwk).is_none());
    }
}
