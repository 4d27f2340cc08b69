//! Verification keys: a public JWK with the one algorithm it may be used with.

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// A verification key with the one algorithm it may be used with.
#[derive(Clone)]
pub struct VerificationKey {
    pub(super) kid: Option<String>,
    pub(super) alg: Algorithm,
    pub(super) key: DecodingKey,
}

impl VerificationKey {
    /// Builds a key from a public JWK. Returns `None` for keys walletd does not accept for signatures.
    pub fn from_jwk(jwk: &Value) -> Option<Self> {
        if jwk.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
            return None;
        }
        let alg = key_algorithm(jwk)?;
        let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).ok()?;
        let key = DecodingKey::from_jwk(&parsed).ok()?;
        Some(VerificationKey {
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_string),
            alg,
            key,
        })
    }

    /// The key id, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key, for `jsonwebtoken::decode` (tokens of other issuers, such as a tenant's OIDC gate provider).
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// The algorithm a JWK may sign with: its own `alg` when it is consistent with the key type, else the type's default.
fn key_algorithm(jwk: &Value) -> Option<Algorithm> {
    let kty = jwk.get("kty")?.as_str()?;
    let crv = jwk.get("crv").and_then(Value::as_str);
    let declared = jwk.get("alg").and_then(Value::as_str);
    let alg = match (kty, crv) {
        ("EC", Some("P-256")) => Algorithm::ES256,
        ("EC", Some("P-384")) => Algorithm::ES384,
        ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
        ("RSA", _) => match declared {
            None | Some("RS256") => Algorithm::RS256,
            Some("RS384") => Algorithm::RS384,
            Some("RS512") => Algorithm::RS512,
            Some("PS256") => Algorithm::PS256,
            Some("PS384") => Algorithm::PS384,
            Some("PS512") => Algorithm::PS512,
            Some(_) => return None,
        },
        _ => return None,
    };
    match declared {
        // A declared alg that contradicts the key type makes the key unusable rather than trusted for either.
        Some(d) if kty != "RSA" && d != alg_name(alg) => None,
        _ => Some(alg),
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "",
    }
}
