//! The tenant's OIDC gate: before a gated ceremony begins, the caller's `Authorization: Bearer <id_token>` must be
//! an ID token of the tenant's OpenID provider (signature by a key of its JWKS, `iss`, `aud`, `exp`/`nbf`, the
//! required claims). The provider's discovery document and JWKS are fetched through the egress guard and the JWKS
//! cached (`jwt.jwks_cache_ttl`; an unknown `kid` refetches at most every `jwt.jwks_refetch_interval`).
//!
//! The client checks the `nonce` of its own authorization request itself and never sends it here, so no nonce is
//! compared. Nothing here logs a token or a claim value.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, Validation};
use moka::future::Cache;
use serde_json::{Value, json};
use walletd_common::jwt::VerificationKey;
use walletd_common::tenant::{GatedCeremony, OidcGate, OidcProvider, Tenant};
use walletd_egress::EgressClient;

use crate::error::{AuthError, ErrorKind};

/// The error code the web client recognises (it then starts its OIDC flow with `oidc_config`).
pub const GATE_REQUIRED: &str = "oidc_gate_required";

/// Largest discovery document or JWKS accepted.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Signature algorithms an ID token may use (never `none` or a shared secret).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];

/// A provider's keys and when they were fetched.
struct KeySet {
    keys: Vec<VerificationKey>,
    fetched: Instant,
}

/// Verifies gate tokens. Cheap to clone.
#[derive(Clone)]
pub struct OidcGateVerifier {
    egress: EgressClient,
    leeway: Duration,
    refetch_interval: Duration,
    /// Keys by provider issuer.
    keys: Cache<String, Arc<KeySet>>,
}

impl OidcGateVerifier {
    /// A verifier fetching through `egress`, caching keys for `cache_ttl`.
    pub fn new(egress: EgressClient, leeway: Duration, cache_ttl: Duration, refetch_interval: Duration) -> Self {
        OidcGateVerifier {
            egress,
            leeway,
            refetch_interval,
            keys: Cache::builder().max_capacity(1000).time_to_live(cache_ttl).build(),
        }
    }

    /// Passes when `tenant` does not gate `ceremony`, or when `id_token` is a valid ID token of its provider.
    pub async fn check(
        &self,
        tenant: &Tenant,
        ceremony: GatedCeremony,
        id_token: Option<&str>,
    ) -> Result<(), AuthError> {
        let Some(gate) = &tenant.oidc_gate else { return Ok(()) };
        let Some(op) = gate.provider_for(ceremony) else {
            return Ok(());
        };
        let Some(token) = id_token.map(str::trim).filter(|t| !t.is_empty()) else {
            return Err(required(op, "an ID token of the tenant's OpenID provider is required"));
        };
        let outcome = self.verify(gate, op, token).await;
        let label = match &outcome {
            Ok(()) => "accepted",
            Err(e) if e.kind == ErrorKind::Unavailable => "unavailable",
            Err(_) => "refused",
        };
        metrics::counter!("walletd_oidc_gate_checks_total", "outcome" => label).increment(1);
        outcome
    }

    async fn verify(&self, gate: &OidcGate, op: &OidcProvider, token: &str) -> Result<(), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| required(op, "the ID token is malformed"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(required(op, "the ID token's algorithm is not accepted"));
        }
        let mut set = self.key_set(op, false).await?;
        let find = |set: &KeySet| {
            set.keys
                .iter()
                .find(|k| k.alg() == header.alg && (header.kid.is_none() || k.kid() == header.kid.as_deref()))
                .cloned()
        };
        let key = match find(&set) {
            Some(k) => k,
            None if set.fetched.elapsed() >= self.refetch_interval => {
                // A rotated provider key: fetch once more.
                set = self.key_set(op, true).await?;
                find(&set).ok_or_else(|| required(op, "the ID token is not signed by a key of the provider"))?
            }
            None => return Err(required(op, "the ID token is not signed by a key of the provider")),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&op.issuer]);
        validation.set_audience(&[op.required_audience()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Value>(token, key.decoding_key(), &validation)
            .map_err(|e| required(op, &describe(e.kind())))?
            .claims;
        gate.claims_satisfied(&claims).map_err(|m| required(op, &m))
    }

    /// The provider's keys, from the cache unless `refresh`.
    async fn key_set(&self, op: &OidcProvider, refresh: bool) -> Result<Arc<KeySet>, AuthError> {
        if refresh {
            self.keys.invalidate(&op.issuer).await;
        }
        self.keys
            .try_get_with(op.issuer.clone(), self.fetch_keys(op))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn fetch_keys(&self, op: &OidcProvider) -> Result<Arc<KeySet>, AuthError> {
        let jwks_uri = match &op.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let url = format!("{}/.well-known/openid-configuration", op.issuer.trim_end_matches('/'));
                let doc = self.get_json(&url).await?;
                // OpenID Connect Discovery §4.3: the document's issuer must be the configured one.
                if doc.get("issuer").and_then(Value::as_str) != Some(op.issuer.as_str()) {
                    return Err(unavailable("the provider's discovery document names another issuer"));
                }
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| unavailable("the provider's discovery document has no jwks_uri"))?
                    .to_string()
            }
        };
        let jwks = self.get_json(&jwks_uri).await?;
        let keys: Vec<VerificationKey> = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(|ks| ks.iter().filter_map(VerificationKey::from_jwk).collect())
            .unwrap_or_default();
        if keys.is_empty() {
            return Err(unavailable("the provider's JWKS has no usable signature key"));
        }
        Ok(Arc::new(KeySet {
            keys,
            fetched: Instant::now(),
        }))
    }

    async fn get_json(&self, url: &str) -> Result<Value, AuthError> {
        let resp = self
            .egress
            .get(url, MAX_DOCUMENT_BYTES)
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable(&format!("fetching the provider's metadata failed: {e}")))?;
        resp.json()
            .map_err(|_| unavailable("the provider's metadata is not JSON"))
    }
}

/// 401 `oidc_gate_required` with what the client needs to obtain a token.
fn required(op: &OidcProvider, message: &str) -> AuthError {
    let mut e = AuthError::unauthorized(GATE_REQUIRED, message);
    e.details = Some(Box::new(json!({"oidc_config": op.public_config()})));
    e
}

/// 503: the provider could not be asked (the cause is logged, not answered).
fn unavailable(cause: &str) -> AuthError {
    tracing::warn!(cause, "OIDC gate provider unavailable");
    AuthError::new(
        ErrorKind::Unavailable,
        "oidc_gate_unavailable",
        "the tenant's OpenID provider cannot be reached, try again",
    )
}

fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => "the ID token has expired",
        K::ImmatureSignature => "the ID token is not valid yet",
        K::InvalidIssuer => "the ID token's issuer is not the tenant's provider",
        K::InvalidAudience => "the ID token is not for this wallet's client id",
        K::InvalidSignature => "the ID token's signature is invalid",
        K::MissingRequiredClaim(_) => "the ID token lacks exp, iss, aud or sub",
        _ => "the ID token is invalid",
    }
    .to_string()
}
