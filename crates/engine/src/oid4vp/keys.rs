//! Request object signatures checked against a public JWK (the `cnf` key of a verifier attestation, a DID's
//! verification method; EC keys only: P-256 with ES256, P-384 with ES384) or an x5c leaf certificate (ES256,
//! ES384, RS256, PS256). Chain validation against a trust anchor is the PDP's job, not the engine's.

use serde_json::Value;
use walletd_jose::{DecodedJwt, Jwk, JwsAlg, JwsError, jws, x5c};

/// The algorithms a request object signed with a JWK may use.
const ALGORITHMS: [JwsAlg; 2] = [JwsAlg::Es256, JwsAlg::Es384];

/// The algorithms a request object signed with an x5c certificate may use.
const CERTIFICATE_ALGORITHMS: [JwsAlg; 4] = [JwsAlg::Es256, JwsAlg::Es384, JwsAlg::Rs256, JwsAlg::Ps256];

/// Verifies `jwt`'s signature with the public `jwk`; the header's `alg` must fit the key's curve.
pub fn verify_with_jwk(jwt: &DecodedJwt, jwk: &Value, what: &str) -> Result<(), String> {
    let jwk = Jwk::from_value(jwk).map_err(|_| format!("{what}: only EC keys are supported"))?;
    jws::verify_with_jwk(jwt, &jwk, &ALGORITHMS).map_err(|e| match e {
        JwsError::KeyType => format!("{what}: only EC keys are supported"),
        JwsError::Algorithm => format!("{what}: the algorithm does not fit the key (ES256/P-256, ES384/P-384)"),
        JwsError::MalformedKey | JwsError::Certificate => format!("{what}: the key is malformed"),
        JwsError::Signature => format!("{what}: the signature does not verify"),
    })
}

/// Verifies the JWT's signature with the leaf certificate's public key.
pub fn verify_with_certificate(jwt: &DecodedJwt, leaf: &[u8]) -> Result<(), String> {
    x5c::verify_with_leaf(jwt, leaf, &CERTIFICATE_ALGORITHMS).map_err(|e| match e {
        JwsError::Certificate => "the x5c leaf certificate cannot be parsed".to_string(),
        JwsError::Signature => "the request object signature does not verify with its x5c certificate".to_string(),
        JwsError::KeyType | JwsError::Algorithm | JwsError::MalformedKey => {
            let alg: String = jwt.alg().chars().take(20).collect();
            format!("unsupported request object algorithm {alg}")
        }
    })
}

/// The public members of a JWK (what is shown to a PDP): private members never leave.
pub fn public_only(jwk: &Value) -> Value {
    match Jwk::from_value(jwk) {
        Ok(k) => k.public_only().to_value(),
        Err(_) => {
            let mut v = jwk.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("d");
            }
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use walletd_jose::{EcKey, decode_jwt};

    #[test]
    fn ec_keys_only_and_messages_name_the_key() {
        let k = EcKey::generate();
        let d = decode_jwt(&k.sign_jwt(&json!({}), &json!({}))).unwrap();
        assert!(verify_with_jwk(&d, &k.public_jwk().to_value(), "k").is_ok());
        let rsa = json!({"kty": "RSA", "n": "AQ", "e": "AQAB"});
        assert_eq!(
            verify_with_jwk(&d, &rsa, "k").unwrap_err(),
            "k: only EC keys are supported"
        );
        let mut p384 = k.public_jwk().to_value();
        p384["crv"] = json!("P-384");
        assert!(verify_with_jwk(&d, &p384, "k").unwrap_err().contains("does not fit"));
        let other = EcKey::generate().public_jwk().to_value();
        assert!(
            verify_with_jwk(&d, &other, "k")
                .unwrap_err()
                .contains("does not verify")
        );
        assert!(public_only(&k.private_jwk().to_value()).get("d").is_none());
    }
}
