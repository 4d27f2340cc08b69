//! # walletd-wallet: the holder side in Rust
//!
//! Keys never leave the holder: the engine asks, the holder signs. This crate has the holder's P-256 key and
//! proof JWTs ([`Holder`]), SD-JWT VC verification and key binding ([`sdjwt`]), and an API v2 client
//! ([`client::EngineClient`]) that completes flows against a remote engine; its frames are the `walletd-protocol`
//! types (docs/api-v2.md).
#![warn(missing_docs)]

pub mod agent;
pub mod client;
#[cfg(feature = "cloud")]
pub mod cloud;
pub mod dcql;
#[cfg(feature = "embed")]
pub mod device;
#[cfg(feature = "embed")]
pub mod embedded;
pub mod link;
pub mod mdoc;
pub mod pe;
pub mod present;
pub mod sdjwt;
pub mod signer;
pub mod sse;
pub mod store;
pub mod transport;

use serde_json::{Value, json};
use signer::{KeySigner, SignPurpose, SignerError};
pub use walletd_jose::{EcKey, Jwk};
use walletd_protocol::Proof;

/// A holder with one P-256 key.
#[derive(Debug)]
pub struct Holder {
    key: EcKey,
}

impl Default for Holder {
    fn default() -> Self {
        Self::new()
    }
}

impl Holder {
    /// A holder with a fresh key.
    pub fn new() -> Self {
        Holder { key: EcKey::generate() }
    }

    /// A holder with `key` (one of the wallet's stored keys).
    pub fn from_key(key: EcKey) -> Self {
        Holder { key }
    }

    /// The holder's public JWK.
    pub fn public_jwk(&self) -> &Jwk {
        self.key.public_jwk()
    }

    /// The holder's key.
    pub fn key(&self) -> &EcKey {
        &self.key
    }

    /// An OID4VCI JWT proof (`typ openid4vci-proof+jwt`, `jwk` in the header).
    pub fn proof_jwt(&self, audience: &str, nonce: Option<&str>, issuer: Option<&str>) -> String {
        // An in-memory key signs without failing (its KeySigner never errs).
        proof_jwt(&self.key, audience, nonce, issuer).unwrap_or_default()
    }

    /// Answers a `generate_proof` request's `params` with `count` JWT proofs (the `proofs` of a `sign_response`).
    pub fn proofs(&self, params: &Value) -> Vec<Proof> {
        // As above: an in-memory key does not fail.
        proofs(&self.key, params).unwrap_or_default()
    }

    /// [`Holder::proofs`] as the JSON array of a hand-built `sign_response` (for tests that drive frames by hand).
    pub fn proofs_for(&self, params: &Value) -> Value {
        serde_json::to_value(self.proofs(params)).unwrap_or_default()
    }
}

/// An OID4VCI JWT proof (`typ openid4vci-proof+jwt`, `jwk` in the header) signed by `key`.
pub fn proof_jwt(
    key: &dyn KeySigner,
    audience: &str,
    nonce: Option<&str>,
    issuer: Option<&str>,
) -> Result<String, SignerError> {
    let mut claims = json!({"aud": audience, "iat": now()});
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(i) = issuer {
        claims["iss"] = json!(i);
    }
    let jwk = key.public_jwk()?;
    let header = json!({"typ": "openid4vci-proof+jwt", "jwk": jwk});
    signer::sign_jwt(key, SignPurpose::IssuanceProof, &header, &claims)
}

/// Answers a `generate_proof` request's `params` with `count` JWT proofs signed by `key` (the `proofs` of a
/// `sign_response`).
pub fn proofs(key: &dyn KeySigner, params: &Value) -> Result<Vec<Proof>, SignerError> {
    let aud = params.get("audience").and_then(Value::as_str).unwrap_or_default();
    let nonce = params.get("nonce").and_then(Value::as_str);
    let iss = params.get("issuer").and_then(Value::as_str);
    let count = params.get("count").and_then(Value::as_u64).unwrap_or(1).clamp(1, 100);
    (0..count)
        .map(|_| {
            Ok(Proof {
                proof_type: "jwt".into(),
                jwt: Some(proof_jwt(key, aud, nonce, iss)?),
                attestation: None,
            })
        })
        .collect()
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
