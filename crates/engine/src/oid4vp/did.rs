//! Verifiers identified by a DID (client_id prefix `decentralized_identifier:`, or a bare `did:`). The request
//! object's `kid` is a DID URL of the client_id and names the verification method that signed it.
//!
//! `did:jwk` is self-contained and resolved here. Every other method's DID document comes from the tenant's PDP
//! (an AuthZEN resolution request, the document in the answer's `context.trust_metadata`) and is read by
//! [`key_from_document`]: untrusted input (bounded by the trust client's response size limit), fuzzed.

use serde_json::Value;
use walletd_jose::b64_decode;

/// Checks that `kid` is a DID URL of `did` with a fragment (`<did>#<fragment>`).
pub fn check_kid(did: &str, kid: &str) -> Result<(), String> {
    match kid.strip_prefix(did).and_then(|rest| rest.strip_prefix('#')) {
        Some(frag) if !frag.is_empty() => Ok(()),
        _ => Err("the request object's kid is not a DID URL of the client_id".into()),
    }
}

/// The public key of a `did:jwk` (the method-specific id is the base64url JSON of the JWK).
pub fn did_jwk_key(did: &str) -> Result<Value, String> {
    let encoded = did.strip_prefix("did:jwk:").ok_or("not a did:jwk")?;
    // A DID URL's fragment/query is not part of the key.
    let encoded = encoded.split(['#', '?', '/']).next().unwrap_or_default();
    let jwk: Value = b64_decode(encoded)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the did:jwk does not carry a JWK")?;
    check_public_jwk(&jwk)?;
    Ok(jwk)
}

/// The `publicKeyJwk` of the verification method `kid` in `doc`, the DID document of `did`.
pub fn key_from_document(doc: &Value, did: &str, kid: &str) -> Result<Value, String> {
    check_kid(did, kid)?;
    if doc.get("id").and_then(Value::as_str) != Some(did) {
        return Err("the resolved DID document is not the client_id's".into());
    }
    let methods = doc
        .get("verificationMethod")
        .and_then(Value::as_array)
        .ok_or("the DID document has no verificationMethod")?;
    let fragment = &kid[did.len()..];
    for m in methods {
        let id = m.get("id").and_then(Value::as_str).unwrap_or_default();
        if id != kid && id != fragment {
            continue;
        }
        if let Some(c) = m.get("controller").and_then(Value::as_str)
            && c != did
        {
            return Err("the verification method is controlled by another DID".into());
        }
        let jwk = m
            .get("publicKeyJwk")
            .ok_or("the verification method has no publicKeyJwk")?;
        check_public_jwk(jwk)?;
        return Ok(jwk.clone());
    }
    Err("the DID document has no verification method for the request object's kid".into())
}

fn check_public_jwk(jwk: &Value) -> Result<(), String> {
    if !jwk.is_object() || jwk.get("kty").and_then(Value::as_str).is_none() {
        return Err("the DID's key is not a JWK".into());
    }
    if jwk.get("d").is_some() {
        return Err("the DID's key is a private key".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use walletd_jose::{EcKey, b64};

    #[test]
    fn did_jwk_and_documents() {
        let k = EcKey::generate();
        let did = format!("did:jwk:{}", b64(k.public_jwk().to_string()));
        assert_eq!(did_jwk_key(&did).unwrap(), k.public_jwk().to_value());
        assert!(did_jwk_key("did:jwk:!!").is_err());
        assert!(did_jwk_key(&format!("did:jwk:{}", b64(k.private_jwk().to_string()))).is_err());
        assert!(check_kid(&did, &format!("{did}#0")).is_ok());
        assert!(check_kid(&did, &did).is_err());
        assert!(check_kid(&did, "did:jwk:other#0").is_err());

        let web = "did:web:v.example";
        let doc = json!({"id": web, "verificationMethod": [
            {"id": "#k1", "type": "JsonWebKey2020", "controller": web, "publicKeyJwk": k.public_jwk()},
            {"id": "did:web:v.example#k2", "controller": "did:web:evil.example", "publicKeyJwk": k.public_jwk()}]});
        assert_eq!(
            key_from_document(&doc, web, "did:web:v.example#k1").unwrap(),
            k.public_jwk().to_value()
        );
        assert!(
            key_from_document(&doc, web, "did:web:v.example#k2")
                .unwrap_err()
                .contains("controlled")
        );
        assert!(key_from_document(&doc, web, "did:web:v.example#k3").is_err());
        assert!(key_from_document(&doc, "did:web:other.example", "did:web:other.example#k1").is_err());
        assert!(key_from_document(&json!([]), web, "did:web:v.example#k1").is_err());
    }
}
