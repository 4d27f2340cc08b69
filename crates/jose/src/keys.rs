//! P-256 key pairs (ES256 signing, the holder's and the engine's per-flow keys). The private half stays inside,
//! exportable only as a private JWK (DPoP keys handed back to a client) or PKCS#8 (the holder's own storage).

use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::Value;

use crate::b64::{b64, b64_decode};
use crate::jwk::{EcCurve, Jwk};

/// A P-256 key pair and its public JWK.
pub struct EcKey {
    pair: EcdsaKeyPair,
    public_jwk: Jwk,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKey")
            .field("jwk", &self.public_jwk)
            .finish_non_exhaustive()
    }
}

impl EcKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        // Key generation with the system RNG does not fail on supported platforms.
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key generation");
        Self::from_pair(pair).expect("aws-lc-rs P-256 public keys are uncompressed points")
    }

    /// A key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Option<Self> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .ok()
            .and_then(Self::from_pair)
    }

    /// A key from a private JWK (`kty EC`, `crv P-256`, `x`, `y`, `d`).
    pub fn from_private_jwk(jwk: &Jwk) -> Option<Self> {
        let point = jwk.ec_point(EcCurve::P256).ok()?;
        let d = b64_decode(jwk.d.as_deref()?)?;
        EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, &d, &point)
            .ok()
            .and_then(Self::from_pair)
    }

    /// A key from a private JWK given as JSON.
    pub fn from_private_jwk_value(jwk: &Value) -> Option<Self> {
        Self::from_private_jwk(&Jwk::from_value(jwk).ok()?)
    }

    fn from_pair(pair: EcdsaKeyPair) -> Option<Self> {
        let public_jwk = Jwk::from_ec_point(EcCurve::P256, pair.public_key().as_ref())?;
        Some(EcKey { pair, public_jwk })
    }

    /// The same key with `kid` in its public JWK (`None`: unchanged). The thumbprint does not change.
    pub fn with_kid(mut self, kid: Option<&str>) -> Self {
        if let Some(k) = kid {
            self.public_jwk.kid = Some(k.to_string());
        }
        self
    }

    /// The public JWK (`kty`, `crv`, `x`, `y`, and `kid` when set).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    /// The private JWK (for handing a DPoP key to the client on renewal flows).
    pub fn private_jwk(&self) -> Jwk {
        let mut jwk = self.public_jwk.clone();
        let bin: Result<EcPrivateKeyBin<'static>, _> = self.pair.private_key().as_be_bytes();
        if let Ok(d) = bin {
            jwk.d = Some(b64(d.as_ref()));
        }
        jwk
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        // A P-256 JWK made here always has the members a thumbprint needs.
        self.public_jwk.thumbprint().unwrap_or_default()
    }

    /// The raw ES256 signature (r || s) of `input`.
    pub fn sign_es256(&self, input: &[u8]) -> Vec<u8> {
        // Signing with a valid key and the system RNG does not fail.
        self.pair
            .sign(&SystemRandom::new(), input)
            .expect("ES256 signing")
            .as_ref()
            .to_vec()
    }

    /// Signs `header.payload` with ES256 and returns the compact JWS (`alg` is set to ES256).
    pub fn sign_jwt(&self, header: &Value, claims: &Value) -> String {
        let mut header = header.clone();
        header["alg"] = Value::String("ES256".into());
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = self.sign_es256(input.as_bytes());
        format!("{input}.{}", b64(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::verify_es256;
    use serde_json::json;

    #[test]
    fn sign_verify_and_private_jwk_round_trip() {
        let k = EcKey::generate();
        let jwt = k.sign_jwt(&json!({"typ": "x"}), &json!({"a": 1}));
        assert!(verify_es256(&jwt, k.public_jwk()).is_some());
        let other = EcKey::generate();
        assert!(verify_es256(&jwt, other.public_jwk()).is_none());
        let again = EcKey::from_private_jwk(&k.private_jwk()).unwrap();
        assert_eq!(again.public_jwk(), k.public_jwk());
        assert_eq!(k.thumbprint().len(), 43);
        assert!(EcKey::from_private_jwk(k.public_jwk()).is_none(), "no d");
    }
}
