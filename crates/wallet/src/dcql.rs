//! DCQL matching over the holder's SD-JWT VCs: which credential answers which credential query, and which claims
//! to disclose (only the requested ones; with `claim_sets`, only those of the first set the credential satisfies).

use serde_json::{Map, Value};

use crate::present::StoredCredential;

/// One credential chosen for one credential query.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The credential query id.
    pub query_id: String,
    /// The holder's id of the credential.
    pub credential_id: String,
    /// The requested claim paths joined with "." (what `consent.disclosed_claims` carries).
    pub disclosed_claims: Vec<String>,
}

/// Matches `query`: without `credential_sets` every credential query is needed; with them, each required set is
/// answered by its first option whose queries all match (optional sets too when one of their options matches),
/// and only the queries of the chosen options are answered. `None` when a needed query has no credential.
pub fn match_query(query: &Value, wallet: &[StoredCredential]) -> Option<Vec<Match>> {
    let creds = query.get("credentials")?.as_array()?;
    let mut found: Vec<(String, Option<Match>)> = Vec::new();
    for q in creds {
        let id = q.get("id")?.as_str()?;
        let m = wallet.iter().find_map(|c| {
            match_one(q, c).map(|claims| Match {
                query_id: id.to_string(),
                credential_id: c.id.clone(),
                disclosed_claims: claims,
            })
        });
        found.push((id.to_string(), m));
    }
    let get = |id: &str| found.iter().find(|(q, _)| q == id).and_then(|(_, m)| m.clone());
    let Some(sets) = query.get("credential_sets").and_then(Value::as_array) else {
        return found.iter().map(|(_, m)| m.clone()).collect();
    };
    let mut out: Vec<Match> = Vec::new();
    for set in sets {
        let required = set.get("required").and_then(Value::as_bool).unwrap_or(true);
        let chosen = set.get("options").and_then(Value::as_array).and_then(|options| {
            options.iter().find_map(|o| {
                o.as_array()?
                    .iter()
                    .map(|id| id.as_str().and_then(get))
                    .collect::<Option<Vec<Match>>>()
            })
        });
        match chosen {
            Some(ms) => {
                for m in ms {
                    if !out.iter().any(|o| o.query_id == m.query_id) {
                        out.push(m);
                    }
                }
            }
            None if required => return None,
            None => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The disclosed claim paths if `cred` satisfies credential query `q`.
pub fn match_one(q: &Value, cred: &StoredCredential) -> Option<Vec<String>> {
    let format = q.get("format")?.as_str()?;
    if format == walletd_protocol::mdoc::FORMAT {
        return crate::mdoc::match_one(q, &crate::mdoc::as_mdoc(cred)?);
    }
    if format != "dc+sd-jwt" && format != "vc+sd-jwt" {
        return None;
    }
    let claims = cred.all_claims();
    let vcts: Vec<&str> = q
        .get("meta")
        .and_then(|m| m.get("vct_values"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !vcts.is_empty()
        && !claims
            .get("vct")
            .and_then(Value::as_str)
            .is_some_and(|v| vcts.contains(&v))
    {
        return None;
    }
    let requested: Vec<&Value> = q
        .get("claims")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let one = |cl: &Value| -> Option<String> {
        let path = cl.get("path")?.as_array()?;
        let value = lookup(&claims, path)?;
        if let Some(vals) = cl.get("values").and_then(Value::as_array)
            && !vals.contains(value)
        {
            return None;
        }
        Some(join(path))
    };
    match q.get("claim_sets").and_then(Value::as_array) {
        // The first set whose claims (by id) the credential all has; only those are disclosed.
        Some(sets) => sets.iter().find_map(|set| {
            set.as_array()?
                .iter()
                .map(|id| {
                    let cl = requested.iter().find(|c| c.get("id").is_some_and(|i| i == id))?;
                    one(cl)
                })
                .collect::<Option<Vec<String>>>()
        }),
        None => requested.into_iter().map(one).collect(),
    }
}

/// A claim path as `consent.disclosed_claims` carries it: elements joined with "." (`null` as "*").
pub fn join(path: &[Value]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|p| match p {
            Value::String(s) => s.clone(),
            Value::Null => "*".to_string(),
            other => other.to_string(),
        })
        .collect();
    parts.join(".")
}

/// The value at a DCQL claims path (also what Presentation Exchange paths are converted to).
pub(crate) fn lookup<'a>(claims: &'a Map<String, Value>, path: &[Value]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut cur = claims.get(first.as_str()?)?;
    for p in rest {
        cur = match p {
            Value::String(s) => cur.get(s.as_str())?,
            Value::Number(n) => cur.get(n.as_u64()? as usize)?,
            // `null` selects every element; the array as a whole is what is disclosed.
            _ => cur.as_array().map(|_| cur)?,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::tests::issue;
    use serde_json::json;
    use walletd_jose::EcKey;

    fn wallet() -> Vec<StoredCredential> {
        vec![StoredCredential::new(
            "c1",
            issue(&EcKey::generate(), &EcKey::generate()),
        )]
    }

    #[test]
    fn claim_sets_first_satisfiable_wins() {
        let w = wallet();
        let q = |sets: Value| {
            json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt", "claims": [
                {"id": "nick", "path": ["nickname"]}, {"id": "gn", "path": ["given_name"]},
                {"id": "fn", "path": ["family_name"]}], "claim_sets": sets}]})
        };
        let m = match_query(&q(json!([["nick"], ["gn"], ["gn", "fn"]])), &w).unwrap();
        assert_eq!(m[0].disclosed_claims, vec!["given_name"]);
        let m = match_query(&q(json!([["fn", "gn"], ["gn"]])), &w).unwrap();
        assert_eq!(m[0].disclosed_claims, vec!["family_name", "given_name"]);
        assert!(match_query(&q(json!([["nick"], ["unknown-id"]])), &w).is_none());
    }

    #[test]
    fn credential_sets_choose_options() {
        let w = wallet();
        let q = json!({"credentials": [
            {"id": "mdl", "format": "mso_mdoc"}, {"id": "pid", "format": "dc+sd-jwt", "claims": [{"path": ["given_name"]}]},
            {"id": "extra", "format": "dc+sd-jwt", "claims": [{"path": ["nickname"]}]}],
            "credential_sets": [{"options": [["mdl"], ["pid"]]}, {"required": false, "options": [["extra"]]}]});
        let m = match_query(&q, &w).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].query_id, "pid");
        let q2 = json!({"credentials": q["credentials"], "credential_sets": [{"options": [["mdl"], ["extra"]]}]});
        assert!(match_query(&q2, &w).is_none());
        // Without sets, every query is needed.
        assert!(match_query(&json!({"credentials": q["credentials"]}), &w).is_none());
    }
}
