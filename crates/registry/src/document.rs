//! SD-JWT VC Type Metadata documents (draft-ietf-oauth-sd-jwt-vc, "Type Metadata"): validation of the shape the
//! registry relies on, the image references it embeds, and how an `extends` chain is merged.

use serde_json::{Map, Value};

use crate::sri::Integrity;

/// Longest `vct` accepted.
pub const MAX_VCT_LEN: usize = 2048;

/// Top-level members that must be strings when present.
const STRING_MEMBERS: [&str; 7] = [
    "name",
    "description",
    "extends",
    "schema_uri",
    "vct#integrity",
    "extends#integrity",
    "schema_uri#integrity",
];

/// Parses and validates a document from bytes.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    validate(&doc)?;
    Ok(doc)
}

/// Checks a document against the draft's structure: `vct` a non-empty string, typed optional members, display
/// entries, rendering (simple logo/background image, SVG templates), claim metadata with valid paths, integrity
/// strings that parse, and not both `schema` and `schema_uri`.
pub fn validate(doc: &Value) -> Result<(), String> {
    let obj = doc.as_object().ok_or("a type metadata document is a JSON object")?;
    match obj.get("vct").and_then(Value::as_str) {
        Some(v) if !v.is_empty() && v.len() <= MAX_VCT_LEN => {}
        _ => {
            return Err(format!(
                "`vct` must be a non-empty string of at most {MAX_VCT_LEN} bytes"
            ));
        }
    }
    for key in STRING_MEMBERS {
        if let Some(v) = obj.get(key)
            && !v.is_string()
        {
            return Err(format!("`{key}` must be a string"));
        }
    }
    for key in ["vct#integrity", "extends#integrity", "schema_uri#integrity"] {
        if let Some(s) = obj.get(key).and_then(Value::as_str) {
            Integrity::parse(s).map_err(|e| format!("`{key}`: {e}"))?;
        }
    }
    if obj.contains_key("extends#integrity") && !obj.contains_key("extends") {
        return Err("`extends#integrity` without `extends`".into());
    }
    if obj.contains_key("schema") && obj.contains_key("schema_uri") {
        return Err("`schema` and `schema_uri` are mutually exclusive".into());
    }
    if let Some(s) = obj.get("schema")
        && !s.is_object()
    {
        return Err("`schema` must be an object".into());
    }
    if let Some(display) = obj.get("display") {
        let items = display.as_array().ok_or("`display` must be an array")?;
        for (i, d) in items.iter().enumerate() {
            validate_display(d).map_err(|e| format!("display[{i}]: {e}"))?;
        }
    }
    if let Some(claims) = obj.get("claims") {
        let items = claims.as_array().ok_or("`claims` must be an array")?;
        for (i, c) in items.iter().enumerate() {
            validate_claim(c).map_err(|e| format!("claims[{i}]: {e}"))?;
        }
    }
    Ok(())
}

fn validate_display(d: &Value) -> Result<(), String> {
    let d = d.as_object().ok_or("must be an object")?;
    // `locale` in current drafts, `lang` in older ones.
    let locale = d.get("locale").or_else(|| d.get("lang"));
    if locale.is_some_and(|l| !l.is_string()) {
        return Err("`locale` must be a string".into());
    }
    for key in ["name", "description"] {
        if d.get(key).is_some_and(|v| !v.is_string()) {
            return Err(format!("`{key}` must be a string"));
        }
    }
    let Some(rendering) = d.get("rendering") else {
        return Ok(());
    };
    let rendering = rendering.as_object().ok_or("`rendering` must be an object")?;
    if let Some(simple) = rendering.get("simple") {
        let simple = simple.as_object().ok_or("`rendering.simple` must be an object")?;
        for key in ["logo", "background_image"] {
            if let Some(img) = simple.get(key) {
                validate_image_ref(img).map_err(|e| format!("rendering.simple.{key}: {e}"))?;
            }
        }
        for key in ["background_color", "text_color"] {
            if simple.get(key).is_some_and(|v| !v.is_string()) {
                return Err(format!("rendering.simple.{key} must be a string"));
            }
        }
    }
    if let Some(templates) = rendering.get("svg_templates") {
        let templates = templates.as_array().ok_or("`svg_templates` must be an array")?;
        for (i, t) in templates.iter().enumerate() {
            validate_image_ref(t).map_err(|e| format!("svg_templates[{i}]: {e}"))?;
            if templates.len() > 1 && t.get("properties").is_none() {
                return Err(format!(
                    "svg_templates[{i}]: `properties` is required when there are several"
                ));
            }
        }
    }
    Ok(())
}

fn validate_image_ref(v: &Value) -> Result<(), String> {
    let o = v.as_object().ok_or("must be an object")?;
    match o.get("uri").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => {}
        _ => return Err("`uri` must be a non-empty string".into()),
    }
    if let Some(i) = o.get("uri#integrity") {
        let s = i.as_str().ok_or("`uri#integrity` must be a string")?;
        Integrity::parse(s).map_err(|e| format!("`uri#integrity`: {e}"))?;
    }
    Ok(())
}

fn validate_claim(c: &Value) -> Result<(), String> {
    let c = c.as_object().ok_or("must be an object")?;
    let path = c
        .get("path")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or("`path` must be a non-empty array")?;
    let segment_ok = |s: &Value| s.is_string() || s.is_null() || s.as_u64().is_some();
    if !path.iter().all(segment_ok) {
        return Err("`path` segments are strings, null or non-negative integers".into());
    }
    if let Some(sd) = c.get("sd") {
        match sd.as_str() {
            Some("always" | "allowed" | "never") => {}
            _ => return Err("`sd` must be always, allowed or never".into()),
        }
    }
    if c.get("display").is_some_and(|d| !d.is_array()) {
        return Err("`display` must be an array".into());
    }
    if c.get("mandatory").is_some_and(|m| !m.is_boolean()) {
        return Err("`mandatory` must be a boolean".into());
    }
    Ok(())
}

/// JSON pointers of every image reference object (`{uri, uri#integrity?}`) the registry embeds: each display
/// entry's `rendering.simple.logo`, `rendering.simple.background_image` and `rendering.svg_templates[*]`.
pub fn image_refs(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(display) = doc.get("display").and_then(Value::as_array) else {
        return out;
    };
    for (i, d) in display.iter().enumerate() {
        let Some(rendering) = d.get("rendering") else {
            continue;
        };
        for key in ["logo", "background_image"] {
            if rendering.pointer(&format!("/simple/{key}/uri")).is_some() {
                out.push(format!("/display/{i}/rendering/simple/{key}"));
            }
        }
        if let Some(templates) = rendering.get("svg_templates").and_then(Value::as_array) {
            for j in 0..templates.len() {
                out.push(format!("/display/{i}/rendering/svg_templates/{j}"));
            }
        }
    }
    out
}

/// Merges a child over its resolved parent: members of the child win; `display` is merged per locale and
/// `claims` per path (the child's entry replaces the parent's), so an extension refines rather than erases.
pub fn merge(parent: &Value, child: &Value) -> Value {
    let (Some(p), Some(c)) = (parent.as_object(), child.as_object()) else {
        return child.clone();
    };
    let mut out: Map<String, Value> = p.clone();
    // Integrity of the parent describes the parent, not the merged result.
    out.remove("vct#integrity");
    for (k, v) in c {
        let merged = match (k.as_str(), p.get(k)) {
            ("display", Some(pv)) => merge_list(pv, v, |d| {
                d.get("locale")
                    .or_else(|| d.get("lang"))
                    .cloned()
                    .unwrap_or(Value::Null)
            }),
            ("claims", Some(pv)) => merge_list(pv, v, |c| c.get("path").cloned().unwrap_or(Value::Null)),
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    // A child with `schema_uri` replaces a parent's inline `schema` and vice versa.
    if c.contains_key("schema_uri") {
        out.remove("schema");
    } else if c.contains_key("schema") {
        out.remove("schema_uri");
        out.remove("schema_uri#integrity");
    }
    Value::Object(out)
}

fn merge_list(parent: &Value, child: &Value, key: impl Fn(&Value) -> Value) -> Value {
    let (Some(p), Some(c)) = (parent.as_array(), child.as_array()) else {
        return child.clone();
    };
    let mut out: Vec<Value> = p
        .iter()
        .filter(|pe| !c.iter().any(|ce| key(ce) == key(pe)))
        .cloned()
        .collect();
    out.extend(c.iter().cloned());
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_and_invalid_documents() {
        let ok = json!({"vct": "https://x/vct", "name": "N", "display": [{"locale": "en", "name": "N",
            "rendering": {"simple": {"logo": {"uri": "https://x/l.png", "uri#integrity": crate::sri::sha256_integrity(b"l")}},
                          "svg_templates": [{"uri": "https://x/t.svg"}]}}],
            "claims": [{"path": ["a", null, 0], "sd": "always"}]});
        validate(&ok).unwrap();
        assert_eq!(
            image_refs(&ok),
            [
                "/display/0/rendering/simple/logo",
                "/display/0/rendering/svg_templates/0"
            ]
        );
        for bad in [
            json!([]),
            json!({"vct": ""}),
            json!({"vct": 1}),
            json!({"vct": "a", "name": 1}),
            json!({"vct": "a", "extends#integrity": "sha256-x"}),
            json!({"vct": "a", "extends": "b", "extends#integrity": "nope"}),
            json!({"vct": "a", "schema": {}, "schema_uri": "x"}),
            json!({"vct": "a", "display": {}}),
            json!({"vct": "a", "display": [{"rendering": {"simple": {"logo": {}}}}]}),
            json!({"vct": "a", "claims": [{"path": []}]}),
            json!({"vct": "a", "claims": [{"path": [-1]}]}),
            json!({"vct": "a", "claims": [{"path": ["x"], "sd": "sometimes"}]}),
        ] {
            assert!(validate(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn child_refines_parent() {
        let parent = json!({"vct": "p", "name": "P", "description": "parent",
            "display": [{"locale": "en", "name": "P-en"}, {"locale": "de", "name": "P-de"}],
            "claims": [{"path": ["a"], "sd": "always"}, {"path": ["b"]}], "schema": {"type": "object"}});
        let child = json!({"vct": "c", "name": "C", "extends": "p",
            "display": [{"locale": "en", "name": "C-en"}], "claims": [{"path": ["a"], "sd": "never"}],
            "schema_uri": "https://x/s.json"});
        let m = merge(&parent, &child);
        assert_eq!(m["vct"], "c");
        assert_eq!(m["description"], "parent");
        assert_eq!(
            m["display"],
            json!([{"locale": "de", "name": "P-de"}, {"locale": "en", "name": "C-en"}])
        );
        assert_eq!(m["claims"], json!([{"path": ["b"]}, {"path": ["a"], "sd": "never"}]));
        assert!(m.get("schema").is_none());
    }
}
