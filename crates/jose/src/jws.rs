//! Compact JWS: decoding without verification, and signature verification with a public JWK or a certificate's
//! subject public key, for the algorithms walletd meets (ES256, ES384, RS256, PS256). Callers name the
//! algorithms they accept, so a verifier never accepts more than its protocol allows.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm,
};
use serde_json::Value;

use crate::b64::b64_decode;
use crate::jwk::{EcCurve, Jwk, JwkError};

/// A JWS algorithm walletd verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlg {
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
}

/// The kind of public key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An EC key on this curve.
    Ec(EcCurve),
    /// An RSA key.
    Rsa,
}

impl JwsAlg {
    /// The algorithm named by a JOSE `alg`.
    pub fn from_name(alg: &str) -> Option<JwsAlg> {
        match alg {
            "ES256" => Some(JwsAlg::Es256),
            "ES384" => Some(JwsAlg::Es384),
            "RS256" => Some(JwsAlg::Rs256),
            "PS256" => Some(JwsAlg::Ps256),
            _ => None,
        }
    }

    /// The JOSE `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            JwsAlg::Es256 => "ES256",
            JwsAlg::Es384 => "ES384",
            JwsAlg::Rs256 => "RS256",
            JwsAlg::Ps256 => "PS256",
        }
    }

    /// The key this algorithm signs with.
    pub fn key_kind(self) -> KeyKind {
        match self {
            JwsAlg::Es256 => KeyKind::Ec(EcCurve::P256),
            JwsAlg::Es384 => KeyKind::Ec(EcCurve::P384),
            JwsAlg::Rs256 | JwsAlg::Ps256 => KeyKind::Rsa,
        }
    }

    fn verifier(self) -> &'static dyn VerificationAlgorithm {
        match self {
            JwsAlg::Es256 => &ECDSA_P256_SHA256_FIXED,
            JwsAlg::Es384 => &ECDSA_P384_SHA384_FIXED,
            JwsAlg::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
            JwsAlg::Ps256 => &RSA_PSS_2048_8192_SHA256,
        }
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// The key's type is not one any accepted algorithm uses.
    #[error("the key type is not accepted")]
    KeyType,
    /// The header's `alg` is not accepted, or does not fit the key.
    #[error("the algorithm is not accepted or does not fit the key")]
    Algorithm,
    /// The key is malformed.
    #[error("the key is malformed")]
    MalformedKey,
    /// The certificate carrying the key cannot be parsed.
    #[error("the certificate cannot be parsed")]
    Certificate,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    Signature,
}

/// A decoded (unverified) compact JWS.
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

impl DecodedJwt {
    /// The header's `alg` (empty when absent).
    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or_default()
    }

    /// A string member of the header.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// The header's `alg` if it is one of `accepted`.
    fn accepted_alg(&self, accepted: &[JwsAlg]) -> Option<JwsAlg> {
        JwsAlg::from_name(self.alg()).filter(|a| accepted.contains(a))
    }
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

/// Verifies `jwt` with the public `jwk`. The header's `alg` must be one of `accepted` and fit the key (`kty`, and
/// `crv` for EC keys).
pub fn verify_with_jwk(jwt: &DecodedJwt, jwk: &Jwk, accepted: &[JwsAlg]) -> Result<(), JwsError> {
    let kinds = |k: &str| {
        accepted
            .iter()
            .any(|a| matches!((a.key_kind(), k), (KeyKind::Ec(_), "EC") | (KeyKind::Rsa, "RSA")))
    };
    if !kinds(&jwk.kty) {
        return Err(JwsError::KeyType);
    }
    let alg = jwt.accepted_alg(accepted).ok_or(JwsError::Algorithm)?;
    let malformed = |e: JwkError| match e {
        JwkError::Malformed => JwsError::MalformedKey,
        _ => JwsError::Algorithm,
    };
    match alg.key_kind() {
        KeyKind::Ec(curve) => {
            let point = jwk.ec_point(curve).map_err(malformed)?;
            UnparsedPublicKey::new(alg.verifier(), &point)
                .verify(jwt.signing_input.as_bytes(), &jwt.signature)
                .map_err(|_| JwsError::Signature)
        }
        KeyKind::Rsa => {
            let (n, e) = jwk.rsa_components().map_err(malformed)?;
            let params = match alg {
                JwsAlg::Ps256 => &RSA_PSS_2048_8192_SHA256,
                _ => &RSA_PKCS1_2048_8192_SHA256,
            };
            RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, jwt.signing_input.as_bytes(), &jwt.signature)
                .map_err(|_| JwsError::Signature)
        }
    }
}

/// Verifies `jwt` with a subject public key (the BIT STRING of an X.509 SubjectPublicKeyInfo: a SEC1 point or a
/// PKCS#1 RSAPublicKey) of `kind`. The header's `alg` must be one of `accepted` and use that kind of key.
pub fn verify_with_public_key(
    jwt: &DecodedJwt,
    kind: KeyKind,
    key: &[u8],
    accepted: &[JwsAlg],
) -> Result<(), JwsError> {
    let alg = jwt.accepted_alg(accepted).ok_or(JwsError::Algorithm)?;
    // The certificate names only "EC", not the curve: the curve is the algorithm's, and a key on another curve
    // fails verification.
    let fits = matches!(
        (alg.key_kind(), kind),
        (KeyKind::Ec(_), KeyKind::Ec(_)) | (KeyKind::Rsa, KeyKind::Rsa)
    );
    if !fits {
        return Err(JwsError::Algorithm);
    }
    UnparsedPublicKey::new(alg.verifier(), key)
        .verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .map_err(|_| JwsError::Signature)
}

/// Verifies an ES256 compact JWS with a P-256 public JWK; returns the decoded token when the signature holds.
pub fn verify_es256(jwt: &str, jwk: &Jwk) -> Option<DecodedJwt> {
    let decoded = decode_jwt(jwt)?;
    verify_with_jwk(&decoded, jwk, &[JwsAlg::Es256]).ok()?;
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64::b64;
    use crate::keys::EcKey;
    use serde_json::json;

    #[test]
    fn es256_and_rs256_with_jwks() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::rsa::KeySize;
        use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
        let both = [JwsAlg::Es256, JwsAlg::Rs256];
        let ec = EcKey::generate();
        let jwt = ec.sign_jwt(&json!({"kid": "e"}), &json!({"a": 1}));
        let d = decode_jwt(&jwt).unwrap();
        assert_eq!(verify_with_jwk(&d, ec.public_jwk(), &both), Ok(()));
        assert_eq!(
            verify_with_jwk(&d, EcKey::generate().public_jwk(), &both),
            Err(JwsError::Signature)
        );
        assert_eq!(
            verify_with_jwk(&d, ec.public_jwk(), &[JwsAlg::Es384]),
            Err(JwsError::Algorithm)
        );

        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let input = format!("{}.{}", b64(r#"{"alg":"RS256","kid":"r"}"#), b64(r#"{"a":1}"#));
        let mut sig = vec![0u8; rsa.public_modulus_len()];
        rsa.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        let d = decode_jwt(&format!("{input}.{}", b64(&sig))).unwrap();
        let pk = rsa.public_key();
        let jwk = Jwk::from_value(
            &json!({"kty": "RSA", "n": b64(pk.modulus().big_endian_without_leading_zero()),
                         "e": b64(pk.exponent().big_endian_without_leading_zero())}),
        )
        .unwrap();
        assert_eq!(verify_with_jwk(&d, &jwk, &both), Ok(()));
        // The wrong key type for the alg never verifies; an RSA key where only EC is accepted is refused early.
        assert!(verify_with_jwk(&d, ec.public_jwk(), &both).is_err());
        assert_eq!(verify_with_jwk(&d, &jwk, &[JwsAlg::Es256]), Err(JwsError::KeyType));
    }

    #[test]
    fn decoding_refuses_malformed_tokens() {
        assert!(decode_jwt("a.b").is_none());
        assert!(decode_jwt("a.b.c.d").is_none());
        assert!(decode_jwt(&format!("{}.{}.!", b64("{}"), b64("{}"))).is_none());
        let d = decode_jwt(&format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}"))).unwrap();
        assert_eq!(d.alg(), "none");
        assert!(d.signature.is_empty());
    }
}
