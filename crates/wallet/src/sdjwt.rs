//! SD-JWT VC: verify the issuer's signature and the disclosures, check the key binding (`cnf.jwk`), and make and
//! verify key-binding JWTs.

use serde_json::{Map, Value, json};
use walletd_jose::{EcKey, Jwk, b64_decode, jws, sha256_b64};

/// A verified SD-JWT VC.
#[derive(Debug, Clone)]
pub struct VerifiedSdJwt {
    /// The issuer JWT's header.
    pub header: Value,
    /// The claims with every disclosed claim put back in place of its digest.
    pub claims: Map<String, Value>,
    /// The holder key the credential is bound to.
    pub cnf_jwk: Jwk,
}

/// Verifies `sd_jwt` (`<jwt>~<disclosure>~...~`) against the issuer's public JWK and checks that it is bound to
/// `holder_jwk`.
pub fn verify_sd_jwt_vc(sd_jwt: &str, issuer_jwk: &Jwk, holder_jwk: &Jwk) -> Result<VerifiedSdJwt, String> {
    let mut parts = sd_jwt.split('~');
    let jwt = parts.next().ok_or("empty SD-JWT")?;
    let decoded = jws::verify_es256(jwt, issuer_jwk).ok_or("the issuer signature does not verify")?;
    let typ = decoded.header.get("typ").and_then(Value::as_str).unwrap_or("");
    if typ != "dc+sd-jwt" && typ != "vc+sd-jwt" {
        return Err(format!("unexpected typ {typ}"));
    }
    let Value::Object(mut claims) = decoded.claims else {
        return Err("claims are not an object".into());
    };
    let digests: Vec<String> = claims
        .get("_sd")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    for d in parts.filter(|p| !p.is_empty()) {
        if d.contains('.') {
            return Err("a key-binding JWT is attached; verify it with verify_key_binding".into());
        }
        if !digests.contains(&sha256_b64(d)) {
            return Err("a disclosure's digest is not in _sd".into());
        }
        let arr: Value = serde_json::from_slice(&b64_decode(d).ok_or("a disclosure is not base64url")?)
            .map_err(|_| "a disclosure is not JSON")?;
        match arr.as_array().map(Vec::as_slice) {
            Some([_salt, Value::String(name), value]) => {
                claims.insert(name.clone(), value.clone());
            }
            _ => return Err("unsupported disclosure shape".into()),
        }
    }
    claims.remove("_sd");
    claims.remove("_sd_alg");
    let cnf_jwk = claims
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .ok_or("the credential is not key-bound (no cnf.jwk)")?;
    let cnf_jwk = Jwk::from_value(cnf_jwk).map_err(|_| "the credential's cnf.jwk is not a JWK")?;
    if cnf_jwk.thumbprint().ok() != holder_jwk.thumbprint().ok() {
        return Err("the credential is bound to another key".into());
    }
    Ok(VerifiedSdJwt {
        header: decoded.header,
        claims,
        cnf_jwk,
    })
}

/// Appends a key-binding JWT (`typ kb+jwt`, `sd_hash` over the presented SD-JWT) signed by `key`.
pub fn present(sd_jwt: &str, key: &EcKey, audience: &str, nonce: &str) -> String {
    let base = if sd_jwt.ends_with('~') {
        sd_jwt.to_string()
    } else {
        format!("{sd_jwt}~")
    };
    let claims = json!({"aud": audience, "nonce": nonce, "iat": crate::now(), "sd_hash": sha256_b64(&base)});
    let kb = key.sign_jwt(&json!({"typ": "kb+jwt"}), &claims);
    format!("{base}{kb}")
}

/// Verifies a presentation's key-binding JWT against the credential's `cnf.jwk`, `aud`, `nonce` and `sd_hash`.
pub fn verify_key_binding(presentation: &str, cnf_jwk: &Jwk, audience: &str, nonce: &str) -> Result<(), String> {
    let (base, kb) = presentation.rsplit_once('~').ok_or("not an SD-JWT presentation")?;
    let base = format!("{base}~");
    let d = jws::verify_es256(kb, cnf_jwk).ok_or("the key-binding signature does not verify")?;
    if d.header.get("typ").and_then(Value::as_str) != Some("kb+jwt") {
        return Err("the key-binding JWT has the wrong typ".into());
    }
    let c = &d.claims;
    if c.get("aud").and_then(Value::as_str) != Some(audience) || c.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err("the key-binding JWT has the wrong aud or nonce".into());
    }
    if c.get("sd_hash").and_then(Value::as_str) != Some(sha256_b64(&base).as_str()) {
        return Err("sd_hash does not match the presented SD-JWT".into());
    }
    Ok(())
}
