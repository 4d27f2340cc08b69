//! DCQL (OpenID4VP 1.0 §6): the engine only checks the query's shape and knows its credential query ids; matching
//! against credentials is the client's business.

use serde_json::Value;

/// Checks a DCQL query's structure (credentials with ids and formats, claim paths, credential_sets options).
pub fn check(q: &Value) -> Result<(), String> {
    let creds = q
        .get("credentials")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("dcql_query needs a non-empty credentials array")?;
    let ids = query_ids(q);
    if ids.len() != creds.len() {
        return Err("every DCQL credential query needs a unique id of [A-Za-z0-9_-]".into());
    }
    for c in creds {
        c.get("format")
            .and_then(Value::as_str)
            .ok_or("a DCQL credential query has no format")?;
        if let Some(claims) = c.get("claims") {
            let claims = claims.as_array().ok_or("DCQL claims must be an array")?;
            for cl in claims {
                let path = cl
                    .get("path")
                    .and_then(Value::as_array)
                    .ok_or("a DCQL claim has no path")?;
                if path.is_empty() || !path.iter().all(|p| p.is_string() || p.is_u64() || p.is_null()) {
                    return Err("a DCQL claim path must be a non-empty array of strings, integers or null".into());
                }
            }
        }
    }
    if let Some(sets) = q.get("credential_sets") {
        for set in sets.as_array().ok_or("credential_sets must be an array")? {
            let options = set
                .get("options")
                .and_then(Value::as_array)
                .ok_or("a credential set has no options")?;
            for o in options {
                let o = o.as_array().ok_or("a credential set option must be an array")?;
                if !o
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| ids.iter().any(|id| id == s)))
                {
                    return Err("a credential set names an unknown credential query".into());
                }
            }
        }
    }
    Ok(())
}

/// The ids of the credential queries (deduplicated, valid ones only).
pub fn query_ids(q: &Value) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for c in q.get("credentials").and_then(Value::as_array).into_iter().flatten() {
        if let Some(id) = c.get("id").and_then(Value::as_str)
            && !id.is_empty()
            && id
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
            && !ids.iter().any(|i| i == id)
        {
            ids.push(id.to_string());
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let q = json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt", "claims": [{"path": ["given_name"]}]}],
            "credential_sets": [{"options": [["pid"]], "purpose": "p"}]});
        assert!(check(&q).is_ok());
        assert!(check(&json!({"credentials": []})).is_err());
        assert!(check(&json!({"credentials": [{"id": "a b", "format": "x"}]})).is_err());
        assert!(check(&json!({"credentials": [{"id": "a", "format": "x"}, {"id": "a", "format": "x"}]})).is_err());
        assert!(check(&json!({"credentials": [{"id": "a", "format": "x", "claims": [{"path": []}]}]})).is_err());
        assert!(
            check(&json!({"credentials": [{"id": "a", "format": "x"}], "credential_sets": [{"options": [["b"]]}]}))
                .is_err()
        );
    }
}
