//! SD-JWT VC presentations: the holder's stored credentials, selective disclosure of exactly the requested
//! claims, and the key-binding JWT (`typ kb+jwt`, `sd_hash`, `nonce`, `aud`, `transaction_data_hashes`).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use walletd_jose::{b64_decode, decode_jwt, sha256_b64};

use crate::signer::{KeySigner, SignPurpose, SignerError, sign_jwt};

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

    /// The issued disclosures by digest (sha-256 of the encoded disclosure): `(name, value, encoded)`, `name`
    /// `None` for an array element.
    fn disclosures(&self) -> HashMap<String, (Option<String>, Value, String)> {
        let (_, ds) = self.parts();
        ds.into_iter()
            .filter_map(|d| {
                let arr: Value = serde_json::from_slice(&b64_decode(d)?).ok()?;
                let entry = match arr.as_array().map(Vec::as_slice) {
                    Some([_salt, Value::String(name), value]) => (Some(name.clone()), value.clone()),
                    Some([_salt, value]) => (None, value.clone()),
                    _ => return None,
                };
                Some((sha256_b64(d), (entry.0, entry.1, d.to_string())))
            })
            .collect()
    }

    fn payload(&self) -> Value {
        let (jwt, _) = self.parts();
        decode_jwt(jwt).map(|d| d.claims).unwrap_or(Value::Null)
    }

    /// Every claim the holder could show: the always-visible ones and the selectively disclosable ones, nested
    /// disclosures (inside objects and arrays) put back in place.
    pub fn all_claims(&self) -> Map<String, Value> {
        let ds = self.disclosures();
        match resolve(&self.payload(), &ds, 0) {
            Value::Object(mut m) => {
                m.remove("_sd_alg");
                m
            }
            _ => Map::new(),
        }
    }

    /// A presentation disclosing only what `claim_paths` ("a", "a.b", "a.0", "a.*") need, key-bound: the
    /// disclosure of each claim on the path (a nested claim's parents included) and everything inside the claim.
    pub fn present(
        &self,
        key: &dyn KeySigner,
        claim_paths: &[String],
        audience: &str,
        nonce: &str,
        transaction_data: &[String],
    ) -> Result<String, SignerError> {
        let ds = self.disclosures();
        let payload = self.payload();
        let mut needed: HashSet<String> = HashSet::new();
        for p in claim_paths {
            let path: Vec<Value> = p
                .split('.')
                .map(|s| match s {
                    "*" => Value::Null,
                    n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                        n.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(n))
                    }
                    n => Value::from(n),
                })
                .collect();
            select(&payload, &path, &ds, &mut needed, 0);
        }
        let (jwt, order) = self.parts();
        let mut base = format!("{jwt}~");
        for d in order {
            if needed.contains(&sha256_b64(d)) {
                base.push_str(d);
                base.push('~');
            }
        }
        let mut claims = json!({"aud": audience, "nonce": nonce, "iat": crate::now(), "sd_hash": sha256_b64(&base)});
        if !transaction_data.is_empty() {
            let hashes: Vec<String> = transaction_data.iter().map(sha256_b64).collect();
            claims["transaction_data_hashes"] = json!(hashes);
            claims["transaction_data_hashes_alg"] = json!("sha-256");
        }
        let kb = sign_jwt(key, SignPurpose::KeyBinding, &json!({"typ": "kb+jwt"}), &claims)?;
        Ok(format!("{base}{kb}"))
    }
}

type Disclosures = HashMap<String, (Option<String>, Value, String)>;

/// Nesting deeper than this is not followed (a credential is the holder's own, but stay bounded).
const MAX_DEPTH: usize = 32;

/// `node` with every disclosure put back in place (`_sd` digests become members, `{"...": digest}` elements
/// become values; undisclosable digests disappear).
fn resolve(node: &Value, ds: &Disclosures, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match node {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if k != "_sd" {
                    out.insert(k.clone(), resolve(v, ds, depth + 1));
                }
            }
            for d in m.get("_sd").and_then(Value::as_array).into_iter().flatten() {
                if let Some((Some(name), value, _)) = d.as_str().and_then(|d| ds.get(d)) {
                    out.insert(name.clone(), resolve(value, ds, depth + 1));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .filter_map(|e| match array_digest(e) {
                    Some(d) => ds
                        .get(d)
                        .filter(|(name, _, _)| name.is_none())
                        .map(|(_, v, _)| resolve(v, ds, depth + 1)),
                    None => Some(resolve(e, ds, depth + 1)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn array_digest(e: &Value) -> Option<&str> {
    let m = e.as_object()?;
    if m.len() != 1 {
        return None;
    }
    m.get("...")?.as_str()
}

/// Adds to `out` the digests of the disclosures needed to show `path` inside `node` (the claims on the way and
/// everything under the claim it ends at).
fn select(node: &Value, path: &[Value], ds: &Disclosures, out: &mut HashSet<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Some((step, rest)) = path.split_first() else {
        select_all(node, ds, out, depth);
        return;
    };
    match (step, node) {
        (Value::String(k), Value::Object(m)) => {
            if let Some(v) = m.get(k).filter(|_| k != "_sd") {
                select(v, rest, ds, out, depth + 1);
            }
            for d in m.get("_sd").and_then(Value::as_array).into_iter().flatten() {
                if let Some(d) = d.as_str()
                    && let Some((Some(name), value, _)) = ds.get(d)
                    && name == k
                {
                    out.insert(d.to_string());
                    select(value, rest, ds, out, depth + 1);
                }
            }
        }
        (Value::Number(n), Value::Array(a)) => {
            if let Some(e) = n.as_u64().and_then(|i| a.get(i as usize)) {
                select_element(e, rest, ds, out, depth);
            }
        }
        (Value::Null, Value::Array(a)) => {
            for e in a {
                select_element(e, rest, ds, out, depth);
            }
        }
        _ => {}
    }
}

fn select_element(e: &Value, rest: &[Value], ds: &Disclosures, out: &mut HashSet<String>, depth: usize) {
    match array_digest(e) {
        Some(d) => {
            if let Some((None, value, _)) = ds.get(d) {
                out.insert(d.to_string());
                select(value, rest, ds, out, depth + 1);
            }
        }
        None => select(e, rest, ds, out, depth + 1),
    }
}

/// Every disclosure inside `node`.
fn select_all(node: &Value, ds: &Disclosures, out: &mut HashSet<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match node {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "_sd" {
                    for d in v.as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if let Some((Some(_), value, _)) = ds.get(d) {
                            out.insert(d.to_string());
                            select_all(value, ds, out, depth + 1);
                        }
                    }
                } else {
                    select_all(v, ds, out, depth + 1);
                }
            }
        }
        Value::Array(a) => {
            for e in a {
                select_element(e, &[], ds, out, depth);
            }
        }
        _ => {}
    }
}

/// Answers a `sign_presentation` request: `vp_token` as the JSON text of `{query_id: [presentation]}`. A signer's
/// refusal is an error that says so.
pub fn answer_sign_presentation(
    params: &Value,
    wallet: &[StoredCredential],
    key: &dyn KeySigner,
) -> Result<String, String> {
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
        let p = match crate::mdoc::as_mdoc(cred) {
            Some(doc) => crate::mdoc::present(&doc, &paths, key, params)?,
            None => cred
                .present(key, &paths, audience, nonce, &tx)
                .map_err(|e| crate::signer::refusal(&e))?,
        };
        if let Some(list) = token.entry(qid.to_string()).or_insert_with(|| json!([])).as_array_mut() {
            list.push(json!(p));
        }
    }
    Ok(Value::Object(token).to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sdjwt;
    use walletd_jose::{EcKey, b64};

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

    #[test]
    fn nested_disclosures_disclose_their_parents_only() {
        let (ik, hk) = (EcKey::generate(), EcKey::generate());
        let street = b64(json!(["s3", "street", "Heidestr. 17"]).to_string());
        let locality = b64(json!(["s4", "locality", "Koeln"]).to_string());
        let address = b64(
            json!(["s5", "address", {"country": "DE", "_sd": [sha256_b64(&street), sha256_b64(&locality)]}])
                .to_string(),
        );
        let de = b64(json!(["s6", "DE"]).to_string());
        let fr = b64(json!(["s7", "FR"]).to_string());
        let claims = json!({"iss": "https://i", "vct": "https://i/pid", "cnf": {"jwk": hk.public_jwk()},
            "_sd": [sha256_b64(&address)], "nationalities": [{"...": sha256_b64(&de)}, {"...": sha256_b64(&fr)}],
            "_sd_alg": "sha-256"});
        let sd = format!(
            "{}~{street}~{locality}~{address}~{de}~{fr}~",
            ik.sign_jwt(&json!({"typ": "dc+sd-jwt"}), &claims)
        );
        let c = StoredCredential::new("c", sd);
        let all = c.all_claims();
        assert_eq!(
            all["address"],
            json!({"country": "DE", "street": "Heidestr. 17", "locality": "Koeln"})
        );
        assert_eq!(all["nationalities"], json!(["DE", "FR"]));
        let disclosed = |paths: &[&str]| {
            let p = c
                .present(
                    &hk,
                    &paths.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    "a",
                    "n",
                    &[],
                )
                .unwrap();
            let parts: Vec<String> = p.split('~').skip(1).map(str::to_string).collect();
            let mut found: Vec<&str> = Vec::new();
            for (name, d) in [
                ("street", &street),
                ("locality", &locality),
                ("address", &address),
                ("de", &de),
                ("fr", &fr),
            ] {
                if parts.contains(d) {
                    found.push(name);
                }
            }
            found
        };
        assert_eq!(disclosed(&["address.locality"]), vec!["locality", "address"]);
        assert_eq!(disclosed(&["address"]), vec!["street", "locality", "address"]);
        assert_eq!(disclosed(&["nationalities.1"]), vec!["fr"]);
        assert_eq!(disclosed(&["nationalities.*"]), vec!["de", "fr"]);
        assert!(disclosed(&["vct"]).is_empty());
        // The matcher finds nested claims and names the path.
        let q = json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt", "claims": [{"path": ["address", "locality"]}]}]});
        let m = crate::dcql::match_query(&q, std::slice::from_ref(&c)).unwrap();
        assert_eq!(m[0].disclosed_claims, vec!["address.locality"]);
    }
}
