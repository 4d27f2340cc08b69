//! The authorization response: the client's `vp_token` checked and shaped for DCQL or PE, and `direct_post.jwt`'s
//! encryption (ECDH-ES with AES-GCM, RFC 7516/7518) to the verifier's `use:"enc"` key.

use serde_json::{Map, Value};
use walletd_jose::Jwk;
use walletd_jose::jwe;
use walletd_jose::jwk::EcCurve;

/// The client's `vp_token` as presentations per query id. Accepts the object itself or its JSON text; refuses
/// `{}`, empty arrays, empty presentations and ids that were not asked for.
pub fn normalize_vp_token(v: &Value, query_ids: &[String]) -> Result<Map<String, Value>, String> {
    let obj = match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => m,
            _ => return Err("vp_token is not a JSON object of presentations per query".into()),
        },
        Value::Object(m) => m.clone(),
        _ => return Err("vp_token is not a JSON object of presentations per query".into()),
    };
    if obj.is_empty() {
        return Err("vp_token is empty".into());
    }
    let mut out = Map::new();
    for (id, p) in obj {
        if !query_ids.contains(&id) {
            return Err("vp_token answers a query that was not asked".into());
        }
        let list = match p {
            Value::Array(a) => a,
            one @ (Value::String(_) | Value::Object(_)) => vec![one],
            _ => return Err("vp_token holds something other than presentations".into()),
        };
        let ok = |p: &Value| match p {
            Value::String(s) => !s.trim().is_empty(),
            Value::Object(m) => !m.is_empty(),
            _ => false,
        };
        if list.is_empty() || !list.iter().all(ok) {
            return Err("vp_token has an empty presentation".into());
        }
        out.insert(id, Value::Array(list));
    }
    Ok(out)
}

/// The verifier's encryption key from `client_metadata.jwks` (`use:"enc"`, or no `use`; P-256 for ECDH-ES).
pub fn encryption_key(client_metadata: &Value) -> Option<Value> {
    let keys = client_metadata.get("jwks")?.get("keys")?.as_array()?;
    let usable = |k: &&Value| {
        k.get("kty").and_then(Value::as_str) == Some("EC")
            && k.get("crv").and_then(Value::as_str) == Some("P-256")
            && k.get("alg").and_then(Value::as_str).is_none_or(|a| a == "ECDH-ES")
    };
    keys.iter()
        .filter(usable)
        .find(|k| k.get("use").and_then(Value::as_str) == Some("enc"))
        .or_else(|| keys.iter().filter(usable).find(|k| k.get("use").is_none()))
        .cloned()
}

/// The content encryption: the first of `encrypted_response_enc_values_supported` the engine implements
/// (A128GCM when absent, as OpenID4VP 1.0 §8.3 defaults).
pub fn choose_enc(client_metadata: &Value) -> Result<&'static str, String> {
    let listed = client_metadata
        .get("encrypted_response_enc_values_supported")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        .or_else(|| {
            // Drafts: one value.
            client_metadata
                .get("authorization_encrypted_response_enc")
                .and_then(Value::as_str)
                .map(|s| vec![s])
        });
    match listed {
        None => Ok("A128GCM"),
        Some(l) => l
            .into_iter()
            .find_map(|e| match e {
                "A128GCM" => Some("A128GCM"),
                "A256GCM" => Some("A256GCM"),
                _ => None,
            })
            .ok_or_else(|| "the verifier wants a response encryption the engine does not implement".into()),
    }
}

/// Encrypts `plaintext` to the verifier's P-256 `jwk` as a compact JWE (`alg ECDH-ES`, `enc`, `epk`, the key's
/// `kid`).
pub fn encrypt(jwk: &Value, enc: &str, plaintext: &[u8]) -> Result<String, String> {
    let key = Jwk::from_value(jwk).map_err(|_| "the verifier's encryption key is not a P-256 JWK")?;
    if key.ec_point(EcCurve::P256).is_err() {
        return Err("the verifier's encryption key is not a P-256 JWK".into());
    }
    jwe::encrypt(&key, enc, plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use walletd_jose::jwe::RecipientKey;

    #[test]
    fn vp_token_shapes() {
        let ids = vec!["pid".to_string()];
        assert!(normalize_vp_token(&json!(r#"{"pid":["a~"]}"#), &ids).is_ok());
        assert_eq!(
            normalize_vp_token(&json!({"pid": "a~"}), &ids).unwrap()["pid"],
            json!(["a~"])
        );
        for bad in [
            json!("{}"),
            json!({}),
            json!({"pid": []}),
            json!({"pid": [""]}),
            json!({"x": ["a"]}),
            json!(""),
        ] {
            assert!(normalize_vp_token(&bad, &ids).is_err(), "{bad}");
        }
    }

    #[test]
    fn enc_choice_and_round_trip() {
        assert_eq!(choose_enc(&json!({})).unwrap(), "A128GCM");
        assert_eq!(
            choose_enc(&json!({"encrypted_response_enc_values_supported": ["A256GCM"]})).unwrap(),
            "A256GCM"
        );
        assert!(choose_enc(&json!({"encrypted_response_enc_values_supported": ["A128CBC-HS256"]})).is_err());
        for enc in ["A128GCM", "A256GCM"] {
            // The engine's own response decryption (OID4VCI) reads what this encrypts.
            let rk = RecipientKey::generate(if enc == "A128GCM" { "A128GCM" } else { "A256GCM" }).unwrap();
            let jwk = crate::oid4vci::encryption::request_member(&rk)["jwk"].clone();
            let meta = json!({"jwks": {"keys": [{"kty": "RSA", "use": "enc"}, jwk]}});
            let k = encryption_key(&meta).unwrap();
            let jwe = encrypt(&k, enc, b"{\"vp_token\":{}}").unwrap();
            assert_eq!(rk.decrypt(&jwe).unwrap(), b"{\"vp_token\":{}}");
        }
    }
}
