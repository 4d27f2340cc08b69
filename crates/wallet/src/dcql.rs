//! DCQL matching over the holder's SD-JWT VCs: which credential answers which credential query, and which claims
//! to disclose (only the requested ones).

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

/// Matches every credential query of `query` (the first fitting credential each); `None` when a query that is
/// needed has no match. Queries outside the first `credential_sets` option are optional; without sets all are needed.
pub fn match_query(query: &Value, wallet: &[StoredCredential]) -> Option<Vec<Match>> {
    let creds = query.get("credentials")?.as_array()?;
    let required: Option<Vec<&str>> = query
        .get("credential_sets")
        .and_then(|s| s.get(0))
        .and_then(|s| s.get("options"))
        .and_then(|o| o.get(0))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect());
    let mut out = Vec::new();
    for q in creds {
        let id = q.get("id")?.as_str()?;
        let found = wallet
            .iter()
            .find_map(|c| match_one(q, c).map(|claims| (c.id.clone(), claims)));
        match found {
            Some((credential_id, claims)) => out.push(Match {
                query_id: id.to_string(),
                credential_id,
                disclosed_claims: claims,
            }),
            None if required.as_ref().is_none_or(|r| r.contains(&id)) => return None,
            None => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The disclosed claim paths if `cred` satisfies credential query `q`.
pub fn match_one(q: &Value, cred: &StoredCredential) -> Option<Vec<String>> {
    let format = q.get("format")?.as_str()?;
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
    let mut disclosed = Vec::new();
    for cl in q.get("claims").and_then(Value::as_array).into_iter().flatten() {
        let path = cl.get("path")?.as_array()?;
        let value = lookup(&claims, path)?;
        if let Some(vals) = cl.get("values").and_then(Value::as_array)
            && !vals.contains(value)
        {
            return None;
        }
        let joined: Vec<String> = path
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                Value::Null => "*".to_string(),
                other => other.to_string(),
            })
            .collect();
        disclosed.push(joined.join("."));
    }
    Some(disclosed)
}

fn lookup<'a>(claims: &'a Map<String, Value>, path: &[Value]) -> Option<&'a Value> {
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
