//! The `presentation_submission` for a verifier that asked with a DIF Presentation Exchange definition: the
//! client answered per DCQL credential query (the definition's translation,
//! [`walletd_protocol::oid4vp::pe::to_dcql`], keeps the input descriptor ids), the verifier wants its descriptors.

use serde_json::{Map, Value, json};
use walletd_protocol::oid4vp::pe::descriptor_format;

/// The `vp_token` and `presentation_submission` for presentations per input descriptor id, in the definition's
/// order: one presentation is the token itself (`$`), several make an array (`$[i]`).
pub fn submission(pd: &Value, per_query: &Map<String, Value>) -> (Value, Value) {
    let mut tokens = Vec::new();
    let mut map = Vec::new();
    for d in pd
        .get("input_descriptors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = d["id"].as_str().unwrap_or_default();
        for p in per_query.get(id).and_then(Value::as_array).into_iter().flatten() {
            map.push((id.to_string(), descriptor_format(pd, d)));
            tokens.push(p.clone());
        }
    }
    let single = tokens.len() == 1;
    let descriptor_map: Vec<Value> = map
        .into_iter()
        .enumerate()
        .map(|(i, (id, format))| {
            let path = if single { "$".to_string() } else { format!("$[{i}]") };
            json!({"id": id, "format": format, "path": path})
        })
        .collect();
    let token = if single { tokens.remove(0) } else { Value::Array(tokens) };
    let sub = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "definition_id": pd["id"],
        "descriptor_map": descriptor_map,
    });
    (token, sub)
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
    fn one_presentation_is_the_token_itself() {
        walletd_protocol::oid4vp::pe::check(&pd()).unwrap();
        let per = json!({"pid": ["sdjwt~"]});
        let (token, sub) = submission(&pd(), per.as_object().unwrap());
        assert_eq!(token, "sdjwt~");
        assert_eq!(sub["definition_id"], "pd-1");
        assert_eq!(
            sub["descriptor_map"],
            json!([{"id": "pid", "format": "vc+sd-jwt", "path": "$"}])
        );
    }
}
