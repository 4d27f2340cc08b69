//! Configuration of tokens (`jwt`), WebAuthn (`webauthn`) and the auth role (`auth`).

use super::*;

/// Token validation (every role) and signing (auth role).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// `iss` of issued tokens, and the issuer required of validated ones.
    pub issuer: String,
    /// `aud` of the general access token handed to the web client; every role accepts it.
    pub audience: String,
    /// Where roles without the auth role fetch the signing keys.
    pub jwks_url: Option<Url>,
    /// Legacy HS256 shared secret. Accepted for validation only when set.
    pub secret: Option<Secret>,
    /// PKCS#8 PEM file of the ES256 signing key; generated on first start when missing. Defaults to
    /// `<data_dir>/signing-key.pem`.
    pub signing_key_file: Option<PathBuf>,
    /// Lifetime of access tokens.
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// Clock skew tolerated on `exp`/`nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// How long a fetched JWKS is used before it is fetched again.
    #[serde(with = "humantime_serde")]
    pub jwks_cache_ttl: Duration,
    /// Least time between two JWKS fetches caused by unknown `kid`s (stops a flood of forged kids from hammering auth).
    #[serde(with = "humantime_serde")]
    pub jwks_refetch_interval: Duration,
    /// Validated tokens remembered (by hash) so they are not verified again until they expire; 0 disables.
    pub token_cache_entries: u64,
    /// How long a user's session epoch is cached per process: a token revoked in another process is refused
    /// within this time (one revoked in this process at once).
    #[serde(with = "humantime_serde")]
    pub revocation_cache_ttl: Duration,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            issuer: "walletd".into(),
            audience: "walletd".into(),
            jwks_url: None,
            secret: None,
            signing_key_file: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            leeway: Duration::from_secs(30),
            jwks_cache_ttl: Duration::from_secs(300),
            jwks_refetch_interval: Duration::from_secs(10),
            token_cache_entries: 10_000,
            revocation_cache_ttl: Duration::from_millis(500),
        }
    }
}

/// WebAuthn relying party (auth role); tenants may override `rp_id` and `rp_origins`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnConfig {
    pub rp_id: String,
    pub rp_name: String,
    pub rp_origins: Vec<Url>,
}

impl Default for WebauthnConfig {
    fn default() -> Self {
        WebauthnConfig {
            rp_id: "localhost".into(),
            rp_name: "walletd".into(),
            rp_origins: vec![
                Url::parse("http://localhost:8080").expect("static URL"),
                Url::parse("http://localhost:3000").expect("static URL"),
            ],
        }
    }
}

/// Auth role settings beyond `jwt` (token signing) and `webauthn` (the relying party).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of refresh tokens (each use rotates the token; the new one gets a fresh lifetime).
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// How long a WebAuthn ceremony may take between begin and finish.
    #[serde(with = "humantime_serde")]
    pub challenge_ttl: Duration,
    /// Ceremony and token requests allowed per client IP per minute (begin, finish, token refresh); more get 429.
    pub rate_limit_per_ip: u32,
    /// Login finishes allowed per passkey (credential id) per minute; more get 429.
    pub rate_limit_per_credential: u32,
    /// What a sign-count regression (possible cloned authenticator) does.
    pub sign_count_policy: SignCountPolicy,
    /// Attestation requested at registration.
    pub attestation: AttestationPolicy,
    /// With `attestation: direct`: AAGUIDs allowed to register (empty allows any not denied).
    pub aaguid_allow: Vec<String>,
    /// AAGUIDs refused at registration.
    pub aaguid_deny: Vec<String>,
    /// How often the token signing key is rotated; `~` never rotates automatically.
    #[serde(with = "humantime_serde")]
    pub key_rotation_interval: Option<Duration>,
    /// How long a new signing key is published in the JWKS before it signs tokens, so validators that cached the
    /// JWKS (and replicas that have not reloaded the key ring yet) learn it first. At least `jwks_max_age` and
    /// `key_reload_interval`.
    #[serde(with = "humantime_serde")]
    pub key_publish_delay: Duration,
    /// How often each auth replica reloads the shared key ring from the database (it also reloads, at most once
    /// per `jwt.jwks_refetch_interval`, when a token names a `kid` it does not know).
    #[serde(with = "humantime_serde")]
    pub key_reload_interval: Duration,
    /// `Cache-Control: max-age` of `/.well-known/jwks.json`.
    #[serde(with = "humantime_serde")]
    pub jwks_max_age: Duration,
    /// Most passkeys one account may hold.
    pub max_passkeys_per_user: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            challenge_ttl: Duration::from_secs(5 * 60),
            rate_limit_per_ip: 60,
            rate_limit_per_credential: 20,
            sign_count_policy: SignCountPolicy::Flag,
            attestation: AttestationPolicy::None,
            aaguid_allow: Vec::new(),
            aaguid_deny: Vec::new(),
            key_rotation_interval: None,
            key_publish_delay: Duration::from_secs(10 * 60),
            key_reload_interval: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(5 * 60),
            max_passkeys_per_user: 20,
        }
    }
}

/// Reaction to a passkey whose signature counter did not increase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignCountPolicy {
    /// Accept the login, mark the passkey and log a warning.
    #[default]
    Flag,
    /// Refuse the login (401 `sign_count_regression`).
    Reject,
}

/// Attestation conveyance requested at registration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestationPolicy {
    /// No attestation: the privacy-friendly default.
    #[default]
    None,
    /// Ask for the authenticator's attestation, verify its statement and apply `aaguid_allow`/`aaguid_deny`.
    Direct,
}
