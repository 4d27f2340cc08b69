//! DIF Presentation Exchange 2.0 definitions: their structure check, the JSONPath subset of their field paths,
//! submission requirements, and the equivalent DCQL query (one credential query per input descriptor, ids kept)
//! that clients speaking only DCQL (the web profile) and the Rust holder's matcher work from.

use serde_json::{Map, Value, json};

/// Formats whose claims are addressed at the top level of the credential (SD-JWT VC).
const SD_JWT_FORMATS: [&str; 2] = ["dc+sd-jwt", "vc+sd-jwt"];

/// Checks a presentation definition's structure.
pub fn check(pd: &Value) -> Result<(), String> {
    pd.get("id")
        .and_then(Value::as_str)
        .ok_or("presentation_definition has no id")?;
    let ds = pd
        .get("input_descriptors")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("presentation_definition needs input_descriptors")?;
    let mut ids: Vec<&str> = Vec::new();
    for d in ds {
        let id = d
            .get("id")
            .and_then(Value::as_str)
            .ok_or("an input descriptor has no id")?;
        if ids.contains(&id) {
            return Err("input descriptor ids must be unique".into());
        }
        ids.push(id);
        for f in fields(d) {
            let paths = f.get("path").and_then(Value::as_array).ok_or("a field has no path")?;
            if paths.is_empty()
                || !paths
                    .iter()
                    .all(|p| p.as_str().is_some_and(|s| parse_path(s).is_some()))
            {
                return Err("a field path is not a supported JSONPath ($.a.b, $['a'], $.a[0])".into());
            }
        }
    }
    if let Some(reqs) = pd.get("submission_requirements") {
        let reqs = reqs
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or("submission_requirements must be a non-empty array")?;
        for r in reqs {
            requirement(pd, r)?;
        }
    }
    Ok(())
}

/// One submission requirement over a group: `(descriptor ids of the group, how many must be submitted at least,
/// at most)`. `from_nested` is not supported.
pub fn requirement(pd: &Value, r: &Value) -> Result<(Vec<String>, usize, usize), String> {
    if r.get("from_nested").is_some() {
        return Err("submission_requirements with from_nested are not supported".into());
    }
    let group = r
        .get("from")
        .and_then(Value::as_str)
        .ok_or("a submission requirement has no from group")?;
    let ids: Vec<String> = pd
        .get("input_descriptors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| {
            d.get("group")
                .and_then(Value::as_array)
                .is_some_and(|g| g.iter().any(|x| x.as_str() == Some(group)))
        })
        .filter_map(|d| d.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    if ids.is_empty() {
        return Err("a submission requirement names a group no input descriptor is in".into());
    }
    let num = |k: &str| -> Result<Option<usize>, String> {
        match r.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| format!("submission requirement {k} must be a non-negative integer")),
        }
    };
    let (min, max) = match r.get("rule").and_then(Value::as_str) {
        Some("all") => (ids.len(), ids.len()),
        Some("pick") => match (num("count")?, num("min")?, num("max")?) {
            (Some(c), _, _) => (c, c),
            (None, min, max) => (min.unwrap_or(0), max.unwrap_or(ids.len())),
        },
        _ => return Err("a submission requirement's rule must be all or pick".into()),
    };
    if min > max || min > ids.len() {
        return Err("a submission requirement cannot be satisfied by its group".into());
    }
    let max = max.min(ids.len());
    Ok((ids, min, max))
}

/// Most DCQL options one requirement is translated into; past that, the whole group is the only option.
const MAX_OPTIONS: usize = 64;

/// The DCQL `credential_sets` of a definition's (checked) submission requirements: `all` is one option with the
/// whole group; `pick` lists every combination of the smallest allowed size (at least one; a minimum of 0 makes
/// the set optional), or the whole group when there would be more than [`MAX_OPTIONS`].
fn credential_sets(pd: &Value, purpose: Option<&str>) -> Option<Vec<Value>> {
    let reqs = pd.get("submission_requirements")?.as_array()?;
    let mut sets = Vec::new();
    for r in reqs {
        let Ok((ids, min, _max)) = requirement(pd, r) else {
            continue;
        };
        let k = min.max(1);
        let mut options: Vec<Vec<String>> = Vec::new();
        combinations(&ids, k, 0, &mut Vec::new(), &mut options);
        if options.len() > MAX_OPTIONS {
            options = vec![ids.clone()];
        }
        let mut set = json!({"options": options, "required": min > 0});
        if let Some(p) = r.get("purpose").and_then(Value::as_str).or(purpose) {
            set["purpose"] = json!(p);
        }
        sets.push(set);
    }
    Some(sets)
}

fn combinations(ids: &[String], k: usize, from: usize, cur: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if out.len() > MAX_OPTIONS {
        return;
    }
    if cur.len() == k {
        out.push(cur.clone());
        return;
    }
    for i in from..ids.len() {
        cur.push(ids[i].clone());
        combinations(ids, k, i + 1, cur, out);
        cur.pop();
    }
}

fn fields(d: &Value) -> impl Iterator<Item = &Value> {
    d.get("constraints")
        .and_then(|c| c.get("fields"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The format an input descriptor asks for (its own `format`, else the definition's), as named there.
pub fn descriptor_format(pd: &Value, d: &Value) -> String {
    let first_key = |v: Option<&Value>| v.and_then(Value::as_object).and_then(|m| m.keys().next().cloned());
    first_key(d.get("format"))
        .or_else(|| first_key(pd.get("format")))
        .unwrap_or_else(|| "dc+sd-jwt".to_string())
}

/// Parses the JSONPath subset PE definitions use: `$.a.b`, `$['a']["b"]`, `$.a[0]`, `$.a[*]`.
pub fn parse_path(p: &str) -> Option<Vec<Value>> {
    let mut rest = p.trim().strip_prefix('$')?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() {
                return None;
            }
            out.push(if name == "*" { Value::Null } else { json!(name) });
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            rest = &r[end + 1..];
            if inner == "*" {
                out.push(Value::Null);
            } else if let Ok(i) = inner.parse::<u64>() {
                out.push(json!(i));
            } else {
                let q = inner.chars().next()?;
                let name = inner.strip_prefix(q)?.strip_suffix(q)?;
                if !matches!(q, '\'' | '"') || name.is_empty() {
                    return None;
                }
                out.push(json!(name));
            }
        } else {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The DCQL query equivalent to a (checked) presentation definition. `vct` (or `type`) fields with a `const` or
/// `enum` filter become `meta.vct_values`; every other field becomes a claim with the first of its paths.
pub fn to_dcql(pd: &Value) -> Value {
    let mut creds = Vec::new();
    for d in pd
        .get("input_descriptors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let format = descriptor_format(pd, d);
        let sd_jwt = SD_JWT_FORMATS.contains(&format.as_str());
        let mut claims = Vec::new();
        let mut vct_values: Vec<Value> = Vec::new();
        for f in fields(d) {
            let Some(path) = f
                .get("path")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .and_then(parse_path)
            else {
                continue;
            };
            if sd_jwt && path.len() == 1 && (path[0] == "vct" || path[0] == "type") {
                let filter = f.get("filter");
                if let Some(c) = filter.and_then(|f| f.get("const")) {
                    vct_values.push(c.clone());
                } else if let Some(e) = filter.and_then(|f| f.get("enum")).and_then(Value::as_array) {
                    vct_values.extend(e.iter().cloned());
                }
                continue;
            }
            let mut claim = json!({"path": path});
            if let Some(c) = f.get("filter").and_then(|f| f.get("const")) {
                claim["values"] = json!([c]);
            }
            claims.push(claim);
        }
        let mut q = Map::new();
        q.insert("id".into(), d["id"].clone());
        q.insert(
            "format".into(),
            json!(if sd_jwt { "dc+sd-jwt" } else { format.as_str() }),
        );
        if sd_jwt {
            q.insert("meta".into(), json!({"vct_values": vct_values}));
        }
        if !claims.is_empty() {
            q.insert("claims".into(), Value::Array(claims));
        }
        creds.push(Value::Object(q));
    }
    let ids: Vec<Value> = creds.iter().map(|c| c["id"].clone()).collect();
    let mut query = json!({"credentials": creds});
    let purpose = pd.get("purpose").or_else(|| pd.get("name")).and_then(Value::as_str);
    if let Some(sets) = credential_sets(pd, purpose) {
        query["credential_sets"] = Value::Array(sets);
    } else if let Some(p) = purpose {
        query["credential_sets"] = json!([{"options": [ids], "required": true, "purpose": p}]);
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pd() -> Value {
        json!({"id": "pd-1", "purpose": "age check", "input_descriptors": [{
        "id": "pid", "format": {"vc+sd-jwt": {"sd-jwt_alg_values": ["ES256"]}},
        "constraints": {"limit_disclosure": "required", "fields": [
            {"path": ["$.vct"], "filter": {"type": "string", "const": "https://x/pid"}},
            {"path": ["$.given_name", "$.first_name"]},
            {"path": ["$['address']['locality']"]}
        ]}}]})
    }

    #[test]
    fn submission_requirements() {
        let d = |id: &str, g: &str| json!({"id": id, "group": [g], "constraints": {"fields": [{"path": ["$.a"]}]}});
        let mut pd = json!({"id": "x", "input_descriptors": [d("a", "A"), d("b", "A"), d("c", "A"), d("z", "B")],
            "submission_requirements": [{"rule": "pick", "count": 2, "from": "A"}, {"rule": "all", "from": "B"}]});
        check(&pd).unwrap();
        let q = to_dcql(&pd);
        crate::oid4vp::dcql::check(&q).unwrap();
        assert_eq!(
            q["credential_sets"][0]["options"],
            json!([["a", "b"], ["a", "c"], ["b", "c"]])
        );
        assert_eq!(q["credential_sets"][1], json!({"options": [["z"]], "required": true}));
        pd["submission_requirements"] = json!([{"rule": "pick", "min": 0, "max": 1, "from": "A"}]);
        check(&pd).unwrap();
        assert_eq!(to_dcql(&pd)["credential_sets"][0]["required"], false);
        for bad in [
            json!([{"rule": "pick", "count": 4, "from": "A"}]),
            json!([{"rule": "some", "from": "A"}]),
            json!([{"rule": "all", "from": "Q"}]),
            json!([{"rule": "all", "from_nested": []}]),
            json!([{"rule": "pick", "min": 2, "max": 1, "from": "A"}]),
            json!({}),
        ] {
            pd["submission_requirements"] = bad.clone();
            assert!(check(&pd).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(parse_path("$.a.b"), Some(vec![json!("a"), json!("b")]));
        assert_eq!(
            parse_path("$['a'][\"b\"][0][*]"),
            Some(vec![json!("a"), json!("b"), json!(0), Value::Null])
        );
        assert_eq!(parse_path("$"), None);
        assert_eq!(parse_path("a.b"), None);
        assert_eq!(parse_path("$..a"), None);
        assert_eq!(parse_path("$[a]"), None);
    }

    #[test]
    fn translation() {
        check(&pd()).unwrap();
        let q = to_dcql(&pd());
        crate::oid4vp::dcql::check(&q).unwrap();
        assert_eq!(q["credentials"][0]["id"], "pid");
        assert_eq!(q["credentials"][0]["format"], "dc+sd-jwt");
        assert_eq!(q["credentials"][0]["meta"]["vct_values"], json!(["https://x/pid"]));
        assert_eq!(
            q["credentials"][0]["claims"],
            json!([{"path": ["given_name"]}, {"path": ["address", "locality"]}])
        );
        assert_eq!(q["credential_sets"][0]["purpose"], "age check");
    }
}
