//! Issuer and authorization server metadata discovery (RFC 8615 path insertion), through the egress guard.

use serde_json::Value;
use walletd_egress::{METADATA_MAX_BYTES, Method};
use walletd_protocol::ErrorCode;
use walletd_protocol::oid4vci::{CREDENTIAL_ISSUER_WELL_KNOWN, CredentialIssuerMetadata, well_known_url};

use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;
use crate::jose;

/// Fetches `/.well-known/openid-credential-issuer` and checks its `credential_issuer`.
pub async fn fetch_issuer(ctx: &FlowCtx, issuer: &str) -> FlowResult<CredentialIssuerMetadata> {
    let code = ErrorCode::MetadataFetchError;
    let url = well_known_url(issuer, CREDENTIAL_ISSUER_WELL_KNOWN)
        .ok_or_else(|| FlowFailure::new(ErrorCode::OfferParseError, "credential_issuer is not a URL"))?;
    let req = ctx
        .engine()
        .egress()
        .request(Method::GET, url.as_str())
        .header("accept", "application/json, application/jwt")
        .max_bytes(METADATA_MAX_BYTES);
    let resp = ctx.outbound(code, "issuer metadata", req.send()).await?;
    if !resp.status.is_success() {
        return Err(FlowFailure::new(
            code,
            format!("issuer metadata: HTTP {}", resp.status.as_u16()),
        ));
    }
    let ctype = resp
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (json, signed, x5c) = if ctype.starts_with("application/jwt") {
        // Signed metadata: the signature must verify with the x5c leaf; whether that certificate belongs to a
        // trusted issuer is the PDP's question (the chain goes to the trust evaluation).
        let text = resp.text();
        let jwt = text.trim();
        match jose::decode_jwt(jwt) {
            // Signed by a key named only by `kid`: verified with the issuer's JWKS from the `jwks_uri` it names.
            Some(d) if d.header.get("x5c").is_none() && d.header.get("kid").is_some() => {
                let claims = verify_signed_metadata_by_kid(ctx, &d)
                    .await
                    .map_err(|m| FlowFailure::new(code, m))?;
                (claims.0, true, claims.1)
            }
            _ => {
                let (claims, chain) = verify_signed_metadata(jwt).map_err(|m| FlowFailure::new(code, m))?;
                (claims, true, (chain, None))
            }
        }
    } else {
        let v: Value = resp
            .json()
            .map_err(|_| FlowFailure::new(code, "issuer metadata is not valid JSON"))?;
        (v, false, (Vec::new(), None))
    };
    if !json.is_object() {
        return Err(FlowFailure::new(code, "issuer metadata is not an object"));
    }
    let (x5c, signing_jwks) = x5c;
    let meta = CredentialIssuerMetadata {
        json,
        signed,
        x5c,
        signing_jwks,
    };
    if meta.str("credential_issuer").map(|s| s.trim_end_matches('/')) != Some(issuer.trim_end_matches('/')) {
        return Err(FlowFailure::new(
            code,
            "issuer metadata names another credential_issuer",
        ));
    }
    if meta.str("credential_endpoint").is_none() {
        return Err(FlowFailure::new(code, "issuer metadata has no credential_endpoint"));
    }
    Ok(meta)
}

/// Signed metadata whose header names its key by `kid` (no x5c): the JWKS comes from the `jwks_uri` the metadata
/// names (through the egress guard, `engine.jwks_max_bytes`); the key with that `kid` must verify the signature
/// (ES256 with a P-256 key, RS256 with an RSA key). Whether those keys belong to the issuer is the trust
/// evaluation's question: the JWKS becomes its key material.
async fn verify_signed_metadata_by_kid(
    ctx: &FlowCtx,
    d: &jose::DecodedJwt,
) -> Result<(Value, (Vec<Vec<u8>>, Option<Value>)), String> {
    if d.header.get("typ").and_then(Value::as_str) != Some("openidvci-issuer-metadata+jwt") {
        return Err("signed issuer metadata has the wrong typ".into());
    }
    let kid = d.header.get("kid").and_then(Value::as_str).unwrap_or_default();
    let uri = d
        .claims
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("signed issuer metadata names its key by kid but has no jwks_uri")?;
    let max = ctx.engine().config().jwks_max_bytes;
    let resp = ctx
        .outbound(
            ErrorCode::MetadataFetchError,
            "issuer JWKS",
            ctx.engine().egress().get(uri, max),
        )
        .await
        .map_err(|f| f.message)?;
    if !resp.status.is_success() {
        return Err(format!("issuer JWKS: HTTP {}", resp.status.as_u16()));
    }
    let jwks = parse_jwks(&resp.body).ok_or("the issuer's jwks_uri does not serve a JWKS")?;
    let key = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)))
        .ok_or("no key of the issuer's JWKS has the metadata's kid")?;
    if !verify_with_jwk(d, key) {
        return Err("the signature of the issuer metadata does not verify with the issuer's key".into());
    }
    Ok((d.claims.clone(), (Vec::new(), Some(jwks))))
}

/// ES256 with a P-256 JWK or RS256 with an RSA JWK.
fn verify_with_jwk(d: &jose::DecodedJwt, jwk: &Value) -> bool {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    let alg = d.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    let member = |k: &str| jwk.get(k).and_then(Value::as_str).and_then(jose::b64_decode);
    match (alg, jwk.get("kty").and_then(Value::as_str)) {
        ("ES256", Some("EC")) => {
            jose::verify_es256(&format!("{}.{}", d.signing_input, jose::b64(&d.signature)), jwk).is_some()
        }
        ("RS256", Some("RSA")) => match (member("n"), member("e")) {
            (Some(n), Some(e)) => RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, d.signing_input.as_bytes(), &d.signature)
                .is_ok(),
            _ => false,
        },
        _ => false,
    }
}

/// The issuer's JWKS from the metadata's `jwks_uri` (GET through the egress guard, at most `engine.jwks_max_bytes`,
/// within `engine.outbound_timeout`), for the trust evaluation's key material. Any failure (no `jwks_uri`, blocked,
/// too large, not a JWKS) answers `None`: the trust request then asks the PDP to resolve the issuer itself.
pub async fn fetch_jwks_uri(ctx: &FlowCtx, meta: &CredentialIssuerMetadata) -> Option<Value> {
    let uri = meta.str("jwks_uri")?;
    let max = ctx.engine().config().jwks_max_bytes;
    let resp = ctx
        .outbound(
            ErrorCode::UntrustedIssuer,
            "issuer JWKS",
            ctx.engine().egress().get(uri, max),
        )
        .await;
    let resp = match resp {
        Ok(r) if r.status.is_success() => r,
        Ok(r) => {
            tracing::debug!(flow_id = %ctx.flow_id, status = r.status.as_u16(), "issuer jwks_uri not usable");
            return None;
        }
        Err(e) => {
            tracing::debug!(flow_id = %ctx.flow_id, error = %e.message, "issuer jwks_uri not fetched");
            return None;
        }
    };
    parse_jwks(&resp.body)
}

/// A JWK Set: an object whose `keys` is a non-empty array of objects with `kty`. Only public members are kept
/// (a JWKS must not carry private keys; a careless one is not forwarded).
pub fn parse_jwks(body: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let keys = v.get("keys")?.as_array()?;
    if keys.is_empty() || keys.len() > 100 {
        return None;
    }
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let mut k = k.as_object()?.clone();
        k.get("kty")?.as_str()?;
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            k.remove(private);
        }
        out.push(Value::Object(k));
    }
    Some(serde_json::json!({"keys": out}))
}

/// Verifies signed issuer metadata (`typ openidvci-issuer-metadata+jwt`, ES256 or RS256, x5c in the header) with
/// its leaf certificate's key; returns the claims and the chain (DER).
pub fn verify_signed_metadata(jwt: &str) -> Result<(Value, Vec<Vec<u8>>), String> {
    let d = jose::decode_jwt(jwt).ok_or("signed issuer metadata is not a JWT")?;
    if d.header.get("typ").and_then(Value::as_str) != Some("openidvci-issuer-metadata+jwt") {
        return Err("signed issuer metadata has the wrong typ".into());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let chain: Vec<Vec<u8>> = d
        .header
        .get("x5c")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(|c| base64::Engine::decode(&b64, c).ok())
                .collect()
        })
        .unwrap_or_default();
    let leaf = chain.first().ok_or("signed issuer metadata has no x5c certificate")?;
    let (alg_oid, key) = der::spki_of_certificate(leaf).ok_or("the x5c leaf certificate cannot be parsed")?;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    let alg = d.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    let ok = match (alg, alg_oid) {
        ("ES256", der::Key::Ec) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key)
            .verify(d.signing_input.as_bytes(), &d.signature)
            .is_ok(),
        ("RS256", der::Key::Rsa) => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
            .verify(d.signing_input.as_bytes(), &d.signature)
            .is_ok(),
        _ => return Err("signed issuer metadata uses an unsupported algorithm (ES256, RS256)".into()),
    };
    if !ok {
        return Err("the signature of the issuer metadata does not verify with its x5c certificate".into());
    }
    Ok((d.claims, chain))
}

/// Just enough DER to find a certificate's subject public key (no dependency for one lookup).
mod der {
    /// The key type of a subject public key.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Key {
        Ec,
        Rsa,
    }

    const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

    /// One TLV: (tag, contents, rest).
    fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, d) = d.split_first()?;
        let (&l0, mut d) = d.split_first()?;
        let len = if l0 < 0x80 {
            l0 as usize
        } else {
            let n = (l0 & 0x7f) as usize;
            if n == 0 || n > 4 || d.len() < n {
                return None;
            }
            let len = d[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
            d = &d[n..];
            len
        };
        (d.len() >= len).then(|| (tag, &d[..len], &d[len..]))
    }

    /// The subject public key (the BIT STRING's bytes: SEC1 point or PKCS#1 RSAPublicKey) and its type.
    pub fn spki_of_certificate(cert: &[u8]) -> Option<(Key, &[u8])> {
        let (0x30, cert, _) = tlv(cert)? else { return None };
        let (0x30, tbs, _) = tlv(cert)? else { return None };
        let mut rest = tbs;
        // [0] version (optional), serial, signature, issuer, validity, subject, then subjectPublicKeyInfo.
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest)?.2;
        }
        for _ in 0..5 {
            rest = tlv(rest)?.2;
        }
        let (0x30, spki, _) = tlv(rest)? else { return None };
        let (0x30, alg, after) = tlv(spki)? else { return None };
        let (0x06, oid, _) = tlv(alg)? else { return None };
        let key = match oid {
            OID_EC => Key::Ec,
            OID_RSA => Key::Rsa,
            _ => return None,
        };
        let (0x03, bits, _) = tlv(after)? else { return None };
        let (0, bits) = bits.split_first().map(|(u, b)| (*u, b))? else {
            return None;
        };
        Some((key, bits))
    }
}

/// Authorization server metadata: RFC 8414 first, then OpenID Connect discovery.
pub async fn fetch_as(ctx: &FlowCtx, as_issuer: &str) -> FlowResult<Value> {
    let code = ErrorCode::MetadataFetchError;
    let mut candidates = Vec::new();
    if let Some(u) = well_known_url(as_issuer, "oauth-authorization-server") {
        candidates.push(u.to_string());
    }
    candidates.push(format!(
        "{}/.well-known/openid-configuration",
        as_issuer.trim_end_matches('/')
    ));
    let mut last = FlowFailure::new(code, "authorization server metadata not found");
    for url in candidates {
        let resp = ctx
            .outbound(
                code,
                "authorization server metadata",
                ctx.engine().egress().get(&url, METADATA_MAX_BYTES),
            )
            .await;
        match resp {
            Ok(r) if r.status.is_success() => match r.json::<Value>() {
                Ok(v) if v.get("token_endpoint").and_then(Value::as_str).is_some() => return Ok(v),
                _ => last = FlowFailure::new(code, "authorization server metadata is invalid"),
            },
            Ok(r) => {
                last = FlowFailure::new(
                    code,
                    format!("authorization server metadata: HTTP {}", r.status.as_u16()),
                )
            }
            Err(e) if e.code == ErrorCode::EgressBlocked => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::{parse_jwks, verify_with_jwk};
    use crate::jose;
    use serde_json::json;

    #[test]
    fn jwks_keeps_public_members_only() {
        let j = parse_jwks(br#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"SECRET","kid":"k"}]}"#).unwrap();
        assert_eq!(
            j,
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "k"}]})
        );
        for bad in [
            &b"{}"[..],
            br#"{"keys":[]}"#,
            br#"{"keys":[{"x":1}]}"#,
            br#"{"keys":"no"}"#,
            b"not json",
        ] {
            assert!(parse_jwks(bad).is_none());
        }
    }

    #[test]
    fn kid_signed_metadata_verifies_with_es256_and_rs256_keys() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::rsa::KeySize;
        use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
        let ec = jose::EcKey::generate();
        let jwt = ec.sign_jwt(&json!({"kid": "e"}), &json!({"a": 1}));
        let d = jose::decode_jwt(&jwt).unwrap();
        assert!(verify_with_jwk(&d, ec.public_jwk()));
        assert!(!verify_with_jwk(&d, jose::EcKey::generate().public_jwk()));

        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let input = format!(
            "{}.{}",
            jose::b64(r#"{"alg":"RS256","kid":"r"}"#),
            jose::b64(r#"{"a":1}"#)
        );
        let mut sig = vec![0u8; rsa.public_modulus_len()];
        rsa.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        let d = jose::decode_jwt(&format!("{input}.{}", jose::b64(&sig))).unwrap();
        let pk = rsa.public_key();
        let jwk = json!({"kty": "RSA", "n": jose::b64(pk.modulus().big_endian_without_leading_zero()),
                         "e": jose::b64(pk.exponent().big_endian_without_leading_zero())});
        assert!(verify_with_jwk(&d, &jwk));
        // The wrong key type for the alg never verifies.
        assert!(!verify_with_jwk(&d, ec.public_jwk()));
    }
}
