//! The little JOSE the engine and the holder need: ES256 (P-256) keys, compact JWS, JWK thumbprints.
//! Built on aws-lc-rs, the crypto backend already chosen for JWT validation.

use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// base64url without padding.
pub fn b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url (padding tolerated).
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// SHA-256 as base64url.
pub fn sha256_b64(data: impl AsRef<[u8]>) -> String {
    b64(Sha256::digest(data.as_ref()))
}

/// A P-256 key pair. The private half stays inside (exportable as PKCS#8 only for the holder's own storage).
pub struct EcKey {
    pair: EcdsaKeyPair,
    public_jwk: Value,
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
        Self::from_pair(pair)
    }

    /// A key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Option<Self> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .ok()
            .map(Self::from_pair)
    }

    /// A key from a private JWK (`kty EC`, `crv P-256`, `x`, `y`, `d`).
    pub fn from_private_jwk(jwk: &Value) -> Option<Self> {
        let d = b64_decode(jwk.get("d")?.as_str()?)?;
        let x = b64_decode(jwk.get("x")?.as_str()?)?;
        let y = b64_decode(jwk.get("y")?.as_str()?)?;
        let mut point = vec![0x04];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, &d, &point)
            .ok()
            .map(Self::from_pair)
    }

    fn from_pair(pair: EcdsaKeyPair) -> Self {
        let point = pair.public_key().as_ref();
        let public_jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
        EcKey { pair, public_jwk }
    }

    /// The same key with `kid` in its public JWK (`None`: unchanged). The thumbprint does not change.
    pub fn with_kid(mut self, kid: Option<&str>) -> Self {
        if let Some(k) = kid {
            self.public_jwk["kid"] = Value::String(k.to_string());
        }
        self
    }

    /// The public JWK (`kty`, `crv`, `x`, `y`).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The private JWK (for handing a DPoP key to the client on renewal flows).
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.public_jwk.clone();
        let bin: Result<EcPrivateKeyBin<'static>, _> = self.pair.private_key().as_be_bytes();
        if let Ok(d) = bin {
            jwk["d"] = Value::String(b64(d.as_ref()));
        }
        jwk
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&self.public_jwk).unwrap_or_default()
    }

    /// Signs `header.payload` with ES256 and returns the compact JWS (`alg` is set to ES256).
    pub fn sign_jwt(&self, header: &Value, claims: &Value) -> String {
        let mut header = header.clone();
        header["alg"] = Value::String("ES256".into());
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        // Signing with a valid key and the system RNG does not fail.
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("ES256 signing");
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

/// RFC 7638 thumbprint of an EC public JWK.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let canon = format!(
        r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk.get("crv")?.as_str()?,
        jwk.get("x")?.as_str()?,
        jwk.get("y")?.as_str()?
    );
    Some(sha256_b64(canon))
}

/// A decoded (unverified) compact JWT.
#[derive(Debug, Clone)]
pub struct DecodedJwt {
    /// Protected header.
    pub header: Value,
    /// Claims.
    pub claims: Value,
    /// `header.payload`, the signing input.
    pub signing_input: String,
    /// Raw signature bytes.
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS without verifying it.
pub fn decode_jwt(jwt: &str) -> Option<DecodedJwt> {
    let mut parts = jwt.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(DecodedJwt {
        header: serde_json::from_slice(&b64_decode(h)?).ok()?,
        claims: serde_json::from_slice(&b64_decode(p)?).ok()?,
        signing_input: format!("{h}.{p}"),
        signature: b64_decode(s)?,
    })
}

/// Verifies an ES256 compact JWS with a P-256 public JWK; returns the decoded token when the signature holds.
pub fn verify_es256(jwt: &str, jwk: &Value) -> Option<DecodedJwt> {
    let decoded = decode_jwt(jwt)?;
    if decoded.header.get("alg")?.as_str()? != "ES256" {
        return None;
    }
    let x = b64_decode(jwk.get("x")?.as_str()?)?;
    let y = b64_decode(jwk.get("y")?.as_str()?)?;
    let mut point = vec![0x04];
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(decoded.signing_input.as_bytes(), &decoded.signature)
        .ok()?;
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
