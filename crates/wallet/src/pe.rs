//! Presentation Exchange 2.0 matching: each input descriptor is matched through its DCQL equivalent (the
//! translation in `walletd_protocol::oid4vp::pe`, ids kept) plus the field filters DCQL cannot say;
//! `submission_requirements` (rules `all` and `pick` with `count`/`min`/`max` over groups) decide which
//! descriptors are answered.
//!
//! Filters are a JSON Schema subset: `type`, `const`, `enum`, `minimum`/`maximum`/`exclusiveMinimum`/
//! `exclusiveMaximum`, `minLength`/`maxLength`, `contains` (recursively), `pattern` when it is a literal with
//! optional `^`/`$` anchors, and the annotations `title`/`description`/`$comment`. Any other keyword (or a pattern
//! with other regex syntax) makes the field unmatched: better no match than a false one.

use serde_json::Value;
use walletd_protocol::oid4vp::pe::{parse_path, requirement, to_dcql};

use crate::dcql::{Match, match_one};
use crate::present::StoredCredential;

/// Matches `pd`; `None` when a needed input descriptor (all of them, or what the submission requirements ask
/// for) has no fitting credential.
pub fn match_definition(pd: &Value, wallet: &[StoredCredential]) -> Option<Vec<Match>> {
    let q = to_dcql(pd);
    let descriptors = pd.get("input_descriptors")?.as_array()?;
    let queries = q.get("credentials")?.as_array()?;
    let mut found: Vec<(String, Option<Match>)> = Vec::new();
    for d in descriptors {
        let id = d.get("id")?.as_str()?;
        let cq = queries.iter().find(|c| c["id"] == id)?;
        let m = wallet.iter().find_map(|c| {
            let claims = match_one(cq, c)?;
            filters_hold(d, &c.all_claims()).then(|| Match {
                query_id: id.to_string(),
                credential_id: c.id.clone(),
                disclosed_claims: claims,
            })
        });
        found.push((id.to_string(), m));
    }
    let Some(reqs) = pd.get("submission_requirements").and_then(Value::as_array) else {
        return found.into_iter().map(|(_, m)| m).collect();
    };
    let mut out: Vec<Match> = Vec::new();
    for r in reqs {
        let (ids, min, max) = requirement(pd, r).ok()?;
        let matched: Vec<&Match> = ids
            .iter()
            .filter_map(|id| found.iter().find(|(q, _)| q == id).and_then(|(_, m)| m.as_ref()))
            .collect();
        if matched.len() < min {
            return None;
        }
        // As few as allowed (at least one when there is one), to disclose no more than asked for.
        let take = min.max(1).min(max).min(matched.len());
        for m in matched.into_iter().take(take) {
            if !out.iter().any(|o| o.query_id == m.query_id) {
                out.push(m.clone());
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Every field's filter holds on the value at its first path; optional fields may be absent.
fn filters_hold(d: &Value, claims: &serde_json::Map<String, Value>) -> bool {
    let fields = d
        .get("constraints")
        .and_then(|c| c.get("fields"))
        .and_then(Value::as_array);
    for f in fields.into_iter().flatten() {
        let optional = f.get("optional").and_then(Value::as_bool).unwrap_or(false);
        let path = f
            .get("path")
            .and_then(|p| p.get(0))
            .and_then(Value::as_str)
            .and_then(parse_path);
        let value = path.as_deref().and_then(|p| crate::dcql::lookup(claims, p));
        let Some(value) = value else {
            if optional {
                continue;
            }
            return false;
        };
        if let Some(filter) = f.get("filter")
            && !schema_holds(filter, value, 0)
        {
            return false;
        }
    }
    true
}

/// The JSON Schema subset of the module docs; unknown keywords fail.
pub fn schema_holds(filter: &Value, value: &Value, depth: usize) -> bool {
    let Some(filter) = filter.as_object() else { return false };
    if depth > 8 {
        return false;
    }
    let num = |v: &Value| v.as_f64();
    for (k, want) in filter {
        let ok = match k.as_str() {
            "title" | "description" | "$comment" => true,
            "type" => match want.as_str() {
                Some("string") => value.is_string(),
                Some("number") => value.is_number(),
                Some("integer") => value.as_f64().is_some_and(|f| f.fract() == 0.0),
                Some("boolean") => value.is_boolean(),
                Some("object") => value.is_object(),
                Some("array") => value.is_array(),
                Some("null") => value.is_null(),
                _ => false,
            },
            "const" => want == value,
            "enum" => want.as_array().is_some_and(|e| e.contains(value)),
            "minimum" => matches!((num(value), num(want)), (Some(v), Some(w)) if v >= w),
            "maximum" => matches!((num(value), num(want)), (Some(v), Some(w)) if v <= w),
            "exclusiveMinimum" => matches!((num(value), num(want)), (Some(v), Some(w)) if v > w),
            "exclusiveMaximum" => matches!((num(value), num(want)), (Some(v), Some(w)) if v < w),
            "minLength" => {
                matches!((value.as_str(), want.as_u64()), (Some(s), Some(n)) if s.chars().count() as u64 >= n)
            }
            "maxLength" => {
                matches!((value.as_str(), want.as_u64()), (Some(s), Some(n)) if s.chars().count() as u64 <= n)
            }
            "pattern" => {
                matches!((value.as_str(), want.as_str()), (Some(s), Some(p)) if literal_pattern(p, s) == Some(true))
            }
            "contains" => value
                .as_array()
                .is_some_and(|a| a.iter().any(|e| schema_holds(want, e, depth + 1))),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A regex that is a literal with optional `^`/`$` anchors, applied to `s`; `None` for any other regex syntax.
fn literal_pattern(p: &str, s: &str) -> Option<bool> {
    let (start, p) = p.strip_prefix('^').map_or((false, p), |r| (true, r));
    let (end, lit) = p.strip_suffix('$').map_or((false, p), |r| (true, r));
    if lit.chars().any(|c| "\\.^$|?*+()[]{}".contains(c)) {
        return None;
    }
    Some(match (start, end) {
        (true, true) => s == lit,
        (true, false) => s.starts_with(lit),
        (false, true) => s.ends_with(lit),
        (false, false) => s.contains(lit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::tests::issue;
    use serde_json::json;
    use walletd_jose::EcKey;

    #[test]
    fn filters() {
        let t = |f: Value, v: Value| schema_holds(&f, &v, 0);
        assert!(t(json!({"type": "string", "pattern": "^Eri"}), json!("Erika")));
        assert!(!t(json!({"pattern": "^Max"}), json!("Erika")));
        assert!(t(json!({"pattern": "ka$"}), json!("Erika")));
        assert!(
            !t(json!({"pattern": "^E.*a$"}), json!("Erika")),
            "regex syntax is no match, never a guess"
        );
        assert!(t(json!({"type": "integer", "minimum": 18, "maximum": 120}), json!(42)));
        assert!(!t(json!({"exclusiveMinimum": 42}), json!(42)));
        assert!(t(json!({"minLength": 2, "maxLength": 5}), json!("Erika")));
        assert!(!t(json!({"maxLength": 4}), json!("Erika")));
        assert!(t(json!({"contains": {"const": "DE"}}), json!(["FR", "DE"])));
        assert!(!t(json!({"contains": {"const": "IT"}}), json!(["FR", "DE"])));
        assert!(!t(json!({"format": "date"}), json!("2000-01-01")), "unknown keyword");
        assert!(t(json!({"description": "x", "enum": ["a"]}), json!("a")));
    }

    #[test]
    fn submission_requirements_pick_from_groups() {
        let w = vec![StoredCredential::new(
            "c1",
            issue(&EcKey::generate(), &EcKey::generate()),
        )];
        let d = |id: &str, g: &str, claim: &str| {
            json!({"id": id, "group": [g], "format": {"dc+sd-jwt": {}},
                "constraints": {"fields": [{"path": [format!("$.{claim}")]}]}})
        };
        let pd = |reqs: Value| {
            json!({"id": "x", "input_descriptors": [d("nick", "A", "nickname"), d("gn", "A", "given_name"),
                d("fn", "B", "family_name")], "submission_requirements": reqs})
        };
        let ids = |m: Option<Vec<Match>>| m.map(|m| m.into_iter().map(|m| m.query_id).collect::<Vec<_>>());
        assert_eq!(
            ids(match_definition(
                &pd(json!([{"rule": "pick", "count": 1, "from": "A"}])),
                &w
            )),
            Some(vec!["gn".to_string()])
        );
        assert_eq!(
            ids(match_definition(
                &pd(json!([{"rule": "pick", "min": 1, "from": "A"}, {"rule": "all", "from": "B"}])),
                &w
            )),
            Some(vec!["gn".to_string(), "fn".to_string()])
        );
        assert_eq!(
            ids(match_definition(&pd(json!([{"rule": "all", "from": "A"}])), &w)),
            None
        );
        assert_eq!(
            ids(match_definition(
                &pd(json!([{"rule": "pick", "count": 2, "from": "A"}])),
                &w
            )),
            None
        );
        // Nested paths and filters on them: the whole path is followed.
        let pd = json!({"id": "y", "input_descriptors": [{"id": "pid", "format": {"dc+sd-jwt": {}},
            "constraints": {"fields": [{"path": ["$.given_name"], "filter": {"type": "string", "minLength": 3}}]}}]});
        assert!(match_definition(&pd, &w).is_some());
    }
}
