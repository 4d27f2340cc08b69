//! The authorization response: the client's `vp_token` checked and shaped for DCQL or PE, and `direct_post.jwt`'s
//! encryption (ECDH-ES with AES-GCM, RFC 7516/7518) to the verifier's `use:"enc"` key.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value, json};

use crate::jose::{b64, b64_decode};
use crate::oid4vci::jwe::concat_kdf;

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

/// Encrypts `plaintext` to the P-256 `jwk` as a compact JWE (`alg ECDH-ES`, `enc`, `epk`, the key's `kid`).
pub fn encrypt(jwk: &Value, enc: &str, plaintext: &[u8]) -> Result<String, String> {
    let point = ec_point(jwk).ok_or("the verifier's encryption key is not a P-256 JWK")?;
    let eph = PrivateKey::generate(&ECDH_P256).map_err(|_| "cannot create an ephemeral key")?;
    let epub = eph.compute_public_key().map_err(|_| "cannot create an ephemeral key")?;
    let ep = epub.as_ref();
    let mut header = json!({
        "alg": "ECDH-ES", "enc": enc,
        "epk": {"kty": "EC", "crv": "P-256", "x": b64(&ep[1..33]), "y": b64(&ep[33..65])},
    });
    if let Some(kid) = jwk.get("kid") {
        header["kid"] = kid.clone();
    }
    let (alg, key_len) = match enc {
        "A128GCM" => (&AES_128_GCM, 16),
        "A256GCM" => (&AES_256_GCM, 32),
        _ => return Err("unsupported content encryption".into()),
    };
    let cek = agreement::agree(
        &eph,
        UnparsedPublicKey::new(&ECDH_P256, point),
        "the key agreement with the verifier's key failed".to_string(),
        |z| Ok(concat_kdf(z, enc, b"", b"", key_len)),
    )?;
    let h = b64(header.to_string());
    let mut iv = [0u8; 12];
    SystemRandom::new().fill(&mut iv).map_err(|_| "no randomness")?;
    let key = LessSafeKey::new(UnboundKey::new(alg, &cek).map_err(|_| "bad content key")?);
    let mut data = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(h.as_bytes()), &mut data)
        .map_err(|_| "encryption failed")?;
    let (ct, tag) = data.split_at(data.len() - 16);
    Ok(format!("{h}..{}.{}.{}", b64(iv), b64(ct), b64(tag)))
}

fn ec_point(jwk: &Value) -> Option<Vec<u8>> {
    let x = b64_decode(jwk.get("x")?.as_str()?)?;
    let y = b64_decode(jwk.get("y")?.as_str()?)?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut p = vec![0x04];
    p.extend(x);
    p.extend(y);
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid4vci::jwe::ResponseKey;

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
            let rk = ResponseKey::generate(if enc == "A128GCM" { "A128GCM" } else { "A256GCM" }).unwrap();
            let jwk = rk.request_member()["jwk"].clone();
            let meta = json!({"jwks": {"keys": [{"kty": "RSA", "use": "enc"}, jwk]}});
            let k = encryption_key(&meta).unwrap();
            let jwe = encrypt(&k, enc, b"{\"vp_token\":{}}").unwrap();
            assert_eq!(rk.decrypt(&jwe).unwrap(), b"{\"vp_token\":{}}");
        }
    }
}
