//! The x5c leaf certificate of a signed request object: its key verifies the JWT, its SAN dNSNames and DER hash
//! bind it to the client identifier. Chain validation against a trust anchor is the PDP's job, not the engine's.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    UnparsedPublicKey, VerificationAlgorithm,
};
use serde_json::Value;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::jose::{DecodedJwt, sha256_b64};

/// The DER chain from a JOSE header's `x5c` (standard base64, leaf first); empty when absent or malformed.
pub fn chain_from_header(header: &Value) -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    header
        .get("x5c")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(|c| base64::Engine::decode(&b64, c).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `x509_hash` value of a certificate: base64url SHA-256 of its DER.
pub fn hash(der: &[u8]) -> String {
    sha256_b64(der)
}

/// The SAN dNSName entries of a certificate (`None` when it does not parse).
pub fn san_dns_names(der: &[u8]) -> Option<Vec<String>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                names.push(d.to_string());
            }
        }
    }
    Some(names)
}

/// Verifies the JWT's signature with the leaf certificate's public key (ES256, ES384, RS256, PS256).
pub fn verify_with_leaf(jwt: &DecodedJwt, leaf: &[u8]) -> Result<(), String> {
    let (_, cert) = X509Certificate::from_der(leaf).map_err(|_| "the x5c leaf certificate cannot be parsed")?;
    let spki = cert.public_key();
    let key = spki.subject_public_key.data.as_ref();
    let key_oid = spki.algorithm.algorithm.to_id_string();
    let alg = jwt.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    let verifier: &'static dyn VerificationAlgorithm = match (alg, key_oid.as_str()) {
        ("ES256", "1.2.840.10045.2.1") => &ECDSA_P256_SHA256_FIXED,
        ("ES384", "1.2.840.10045.2.1") => &ECDSA_P384_SHA384_FIXED,
        ("RS256", "1.2.840.113549.1.1.1") => &RSA_PKCS1_2048_8192_SHA256,
        ("PS256", "1.2.840.113549.1.1.1") => &RSA_PSS_2048_8192_SHA256,
        _ => return Err(format!("unsupported request object algorithm {}", short(alg))),
    };
    UnparsedPublicKey::new(verifier, key)
        .verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .map_err(|_| "the request object signature does not verify with its x5c certificate".to_string())
}

fn short(s: &str) -> String {
    s.chars().take(20).collect()
}
