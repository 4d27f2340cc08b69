//! Signed OpenID4VCI issuer metadata (`typ openidvci-issuer-metadata+jwt`): verified with the x5c leaf
//! certificate in its header, or with the key its `kid` names in the issuer's JWKS. Only the signature is checked
//! here; whether the certificate or key belongs to a trusted issuer is the trust evaluation's question.

use serde_json::Value;

use crate::jwk::Jwks;
use crate::jws::{DecodedJwt, JwsAlg, JwsError, decode_jwt, verify_with_jwk};
use crate::x5c;

/// The `typ` of signed issuer metadata.
pub const TYP: &str = "openidvci-issuer-metadata+jwt";

/// The algorithms signed issuer metadata may use.
pub const ALGORITHMS: [JwsAlg; 2] = [JwsAlg::Es256, JwsAlg::Rs256];

/// Verifies signed issuer metadata (`typ openidvci-issuer-metadata+jwt`, ES256 or RS256, x5c in the header) with
/// its leaf certificate's key; returns the claims and the chain (DER, leaf first).
pub fn verify_signed_metadata(jwt: &str) -> Result<(Value, Vec<Vec<u8>>), String> {
    let d = decode_jwt(jwt).ok_or("signed issuer metadata is not a JWT")?;
    check_typ(&d)?;
    let chain = x5c::chain_from_header(&d.header);
    let leaf = chain.first().ok_or("signed issuer metadata has no x5c certificate")?;
    x5c::verify_with_leaf(&d, leaf, &ALGORITHMS).map_err(|e| match e {
        JwsError::Signature => "the signature of the issuer metadata does not verify with its x5c certificate",
        JwsError::Certificate | JwsError::KeyType | JwsError::MalformedKey => {
            "the x5c leaf certificate cannot be parsed"
        }
        JwsError::Algorithm => "signed issuer metadata uses an unsupported algorithm (ES256, RS256)",
    })?;
    Ok((d.claims, chain))
}

/// Verifies signed issuer metadata whose header names its key by `kid` (no x5c) with that key of the issuer's
/// `jwks` (ES256 with a P-256 key, RS256 with an RSA key); returns the claims.
pub fn verify_signed_metadata_with_jwks(d: &DecodedJwt, jwks: &Jwks) -> Result<Value, String> {
    check_typ(d)?;
    let kid = d.header_str("kid").unwrap_or_default();
    let key = jwks
        .find_kid(kid)
        .ok_or("no key of the issuer's JWKS has the metadata's kid")?;
    if verify_with_jwk(d, key, &ALGORITHMS).is_err() {
        return Err("the signature of the issuer metadata does not verify with the issuer's key".into());
    }
    Ok(d.claims.clone())
}

/// Checks the header's `typ` (before anything is fetched for the key).
pub fn check_typ(d: &DecodedJwt) -> Result<(), String> {
    if d.header_str("typ") != Some(TYP) {
        return Err("signed issuer metadata has the wrong typ".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::EcKey;
    use crate::x5c::tests::signed_with_certificate;
    use serde_json::json;

    #[test]
    fn x5c_signed_metadata_verifies_and_tampering_does_not() {
        let claims = json!({"credential_issuer": "https://i.example"});
        let (jwt, der) = signed_with_certificate(json!({"typ": TYP}), &claims);
        let (got, chain) = verify_signed_metadata(&jwt).unwrap();
        assert_eq!((got, chain), (claims, vec![der]));
        let (wrong_typ, _) = signed_with_certificate(json!({"typ": "JWT"}), &json!({}));
        assert!(verify_signed_metadata(&wrong_typ).unwrap_err().contains("typ"));
        let (h, rest) = jwt.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged = format!("{h}.{}.{sig}", crate::b64(r#"{"credential_issuer":"https://evil"}"#));
        assert!(verify_signed_metadata(&forged).unwrap_err().contains("does not verify"));
        assert!(verify_signed_metadata("eyJhbGciOiJFUzI1NiJ9.e30.AAAA").is_err());
        assert!(verify_signed_metadata("not a jwt").is_err());
    }

    #[test]
    fn kid_signed_metadata_verifies_with_the_named_key() {
        let k = EcKey::generate().with_kid(Some("k1"));
        let jwt = k.sign_jwt(&json!({"typ": TYP, "kid": "k1"}), &json!({"a": 1}));
        let d = decode_jwt(&jwt).unwrap();
        let jwks = Jwks {
            keys: vec![k.public_jwk().clone()],
        };
        assert_eq!(verify_signed_metadata_with_jwks(&d, &jwks).unwrap(), json!({"a": 1}));
        let other = Jwks {
            keys: vec![EcKey::generate().with_kid(Some("k1")).public_jwk().clone()],
        };
        assert!(verify_signed_metadata_with_jwks(&d, &other).is_err());
        let unnamed = Jwks {
            keys: vec![EcKey::generate().public_jwk().clone()],
        };
        assert!(
            verify_signed_metadata_with_jwks(&d, &unnamed)
                .unwrap_err()
                .contains("kid")
        );
    }
}
