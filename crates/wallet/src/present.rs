//! SD-JWT VC presentations: the holder's stored credentials, selective disclosure of exactly the requested
//! claims, and the key-binding JWT (`typ kb+jwt`, `sd_hash`, `nonce`, `aud`, `transaction_data_hashes`).

use serde_json::{Map, Value, json};
use walletd_engine::jose::{EcKey, b64_decode, decode_jwt, sha256_b64};

/// A credential in the holder's wallet.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    /// The holder's id for it (what `consent.credential_id` names).
    pub id: String,
    /// The issued SD-JWT (`<jwt>~<disclosure>~...~`).
    pub sd_jwt: String,
}

impl StoredCredential {
    /// A stored credential.
    pub fn new(id: impl Into<String>, sd_jwt: impl Into<String>) -> Self {
        StoredCredential {
            id: id.into(),
            sd_jwt: sd_jwt.into(),
        }
    }

    fn parts(&self) -> (&str, Vec<&str>) {
        let mut it = self.sd_jwt.split('~');
        let jwt = it.next().unwrap_or_default();
        (jwt, it.filter(|d| !d.is_empty() && !d.contains('.')).collect())
    }

    /// The top-level claim name each disclosure discloses, with its value.
    fn disclosures(&self) -> Vec<(String, Value, String)> {
        let (_, ds) = self.parts();
        ds.into_iter()
            .filter_map(|d| {
                let arr: Value = serde_json::from_slice(&b64_decode(d)?).ok()?;
                match arr.as_array().map(Vec::as_slice) {
                    Some([_salt, Value::String(name), value]) => Some((name.clone(), value.clone(), d.to_string())),
                    _ => None,
                }
            })
            .collect()
    }

    /// Every claim the holder could show: the always-visible ones and the selectively disclosable ones.
    pub fn all_claims(&self) -> Map<String, Value> {
        let (jwt, _) = self.parts();
        let mut claims = decode_jwt(jwt)
            .and_then(|d| d.claims.as_object().cloned())
            .unwrap_or_default();
        claims.remove("_sd");
        claims.remove("_sd_alg");
        for (name, value, _) in self.disclosures() {
            claims.insert(name, value);
        }
        claims
    }

    /// A presentation disclosing only the top-level claims named by `claim_paths` ("a" or "a.b"), key-bound.
    pub fn present(
        &self,
        key: &EcKey,
        claim_paths: &[String],
        audience: &str,
        nonce: &str,
        transaction_data: &[String],
    ) -> String {
        let wanted: Vec<&str> = claim_paths
            .iter()
            .map(|p| p.split('.').next().unwrap_or_default())
            .collect();
        let (jwt, _) = self.parts();
        let mut base = format!("{jwt}~");
        for (name, _, d) in self.disclosures() {
            if wanted.contains(&name.as_str()) {
                base.push_str(&d);
                base.push('~');
            }
        }
        let mut claims = json!({"aud": audience, "nonce": nonce, "iat": crate::now(), "sd_hash": sha256_b64(&base)});
        if !transaction_data.is_empty() {
            let hashes: Vec<String> = transaction_data.iter().map(sha256_b64).collect();
            claims["transaction_data_hashes"] = json!(hashes);
            claims["transaction_data_hashes_alg"] = json!("sha-256");
        }
        let kb = key.sign_jwt(&json!({"typ": "kb+jwt"}), &claims);
        format!("{base}{kb}")
    }
}

/// Answers a `sign_presentation` request: `vp_token` as the JSON text of `{query_id: [presentation]}`.
pub fn answer_sign_presentation(params: &Value, wallet: &[StoredCredential], key: &EcKey) -> Result<String, String> {
    let audience = params["audience"].as_str().ok_or("no audience")?;
    let nonce = params["nonce"].as_str().ok_or("no nonce")?;
    let tx: Vec<String> = params["transaction_data"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let mut token = Map::new();
    for c in params["credentials_to_include"]
        .as_array()
        .ok_or("no credentials_to_include")?
    {
        let id = c["credential_id"].as_str().ok_or("no credential_id")?;
        let qid = c["credential_query_id"].as_str().ok_or("no credential_query_id")?;
        let cred = wallet.iter().find(|w| w.id == id).ok_or("unknown credential")?;
        let paths: Vec<String> = c["disclosed_claims"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let p = cred.present(key, &paths, audience, nonce, &tx);
        if let Some(list) = token.entry(qid.to_string()).or_insert_with(|| json!([])).as_array_mut() {
            list.push(json!(p));
        }
    }
    Ok(Value::Object(token).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdjwt;
    use walletd_engine::jose::b64;

    /// An SD-JWT VC with two disclosable claims, issued to `holder`.
    pub(crate) fn issue(issuer: &EcKey, holder: &EcKey) -> String {
        let d1 = b64(json!(["s1", "given_name", "Erika"]).to_string());
        let d2 = b64(json!(["s2", "family_name", "Mustermann"]).to_string());
        let claims = json!({"iss": "https://i", "vct": "https://i/pid", "cnf": {"jwk": holder.public_jwk()},
            "_sd": [sha256_b64(&d1), sha256_b64(&d2)], "_sd_alg": "sha-256"});
        format!("{}~{d1}~{d2}~", issuer.sign_jwt(&json!({"typ": "dc+sd-jwt"}), &claims))
    }

    #[test]
    fn only_requested_claims_and_key_binding() {
        let (ik, hk) = (EcKey::generate(), EcKey::generate());
        let w = vec![StoredCredential::new("c1", issue(&ik, &hk))];
        let q = json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://i/pid"]},
            "claims": [{"path": ["given_name"]}]}]});
        let m = crate::dcql::match_query(&q, &w).unwrap();
        assert_eq!(m[0].disclosed_claims, vec!["given_name"]);
        let params = json!({"audience": "x509_hash:abc", "nonce": "n", "transaction_data": ["dA"],
            "credentials_to_include": [{"credential_id": "c1", "credential_query_id": "pid", "disclosed_claims": ["given_name"]}]});
        let token: Value = serde_json::from_str(&answer_sign_presentation(&params, &w, &hk).unwrap()).unwrap();
        let p = token["pid"][0].as_str().unwrap();
        let (base, kb) = p.rsplit_once('~').unwrap();
        let v = sdjwt::verify_sd_jwt_vc(&format!("{base}~"), ik.public_jwk(), hk.public_jwk()).unwrap();
        assert!(v.claims.contains_key("given_name") && !v.claims.contains_key("family_name"));
        sdjwt::verify_key_binding(p, hk.public_jwk(), "x509_hash:abc", "n").unwrap();
        assert_eq!(
            decode_jwt(kb).unwrap().claims["transaction_data_hashes"],
            json!([sha256_b64("dA")])
        );
        // No match: wrong vct, missing claim, value filter.
        for bad in [
            json!({"meta": {"vct_values": ["x"]}}),
            json!({"claims": [{"path": ["age"]}]}),
            json!({"claims": [{"path": ["given_name"], "values": ["Max"]}]}),
        ] {
            let mut q1 = json!({"id": "pid", "format": "dc+sd-jwt"});
            q1.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
            assert!(crate::dcql::match_query(&json!({"credentials": [q1]}), &w).is_none());
        }
        // PE: the same through a definition, and an enum filter that fails.
        let pd = json!({"id": "d", "input_descriptors": [{"id": "pid", "format": {"dc+sd-jwt": {}},
            "constraints": {"fields": [{"path": ["$.given_name"]}]}}]});
        assert_eq!(
            crate::pe::match_definition(&pd, &w).unwrap()[0].disclosed_claims,
            vec!["given_name"]
        );
        let pd = json!({"id": "d", "input_descriptors": [{"id": "pid", "format": {"dc+sd-jwt": {}},
            "constraints": {"fields": [{"path": ["$.given_name"], "filter": {"type": "string", "enum": ["Max"]}}]}}]});
        assert!(crate::pe::match_definition(&pd, &w).is_none());
    }
}
