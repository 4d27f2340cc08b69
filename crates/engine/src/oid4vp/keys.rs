//! Request object signatures checked against a public JWK (the `cnf` key of a verifier attestation, a DID's
//! verification method). EC keys only: P-256 with ES256, P-384 with ES384.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use serde_json::Value;

use crate::jose::{DecodedJwt, b64_decode};

/// Verifies `jwt`'s signature with the public `jwk`; the header's `alg` must fit the key's curve.
pub fn verify_with_jwk(jwt: &DecodedJwt, jwk: &Value, what: &str) -> Result<(), String> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    if s("kty") != Some("EC") {
        return Err(format!("{what}: only EC keys are supported"));
    }
    let alg = jwt.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    let (verifier, len) = match (alg, s("crv")) {
        ("ES256", Some("P-256")) => (&ECDSA_P256_SHA256_FIXED, 32),
        ("ES384", Some("P-384")) => (&ECDSA_P384_SHA384_FIXED, 48),
        _ => {
            return Err(format!(
                "{what}: the algorithm does not fit the key (ES256/P-256, ES384/P-384)"
            ));
        }
    };
    let coord = |k: &str| s(k).and_then(b64_decode).filter(|b| b.len() == len);
    let (Some(x), Some(y)) = (coord("x"), coord("y")) else {
        return Err(format!("{what}: the key is malformed"));
    };
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    UnparsedPublicKey::new(verifier, &point)
        .verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .map_err(|_| format!("{what}: the signature does not verify"))
}

/// The public members of a JWK (what is shown to a PDP): private `d` never leaves.
pub fn public_only(jwk: &Value) -> Value {
    let mut v = jwk.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("d");
    }
    v
}
