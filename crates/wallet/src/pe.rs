//! Presentation Exchange 2.0 matching: a definition is matched through its DCQL equivalent (the engine's
//! translation, one credential query per input descriptor, ids kept), plus the field filters DCQL cannot say.

use serde_json::Value;
use walletd_engine::oid4vp::pe::{parse_path, to_dcql};

use crate::dcql::{Match, match_query};
use crate::present::StoredCredential;

/// Matches every input descriptor of `pd`; `None` when one has no fitting credential.
pub fn match_definition(pd: &Value, wallet: &[StoredCredential]) -> Option<Vec<Match>> {
    let matches = match_query(&to_dcql(pd), wallet)?;
    let descriptors = pd.get("input_descriptors")?.as_array()?;
    for m in &matches {
        let d = descriptors.iter().find(|d| d["id"] == m.query_id.as_str())?;
        let cred = wallet.iter().find(|c| c.id == m.credential_id)?;
        if !filters_hold(d, &cred.all_claims()) {
            return None;
        }
    }
    Some(matches)
}

/// `filter.type`, `pattern` (prefix only), `enum` on top-level fields; optional fields may be absent.
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
        let value = path
            .as_ref()
            .and_then(|p| p.first())
            .and_then(Value::as_str)
            .and_then(|k| claims.get(k));
        let Some(value) = value else {
            if optional {
                continue;
            }
            return false;
        };
        let Some(filter) = f.get("filter") else { continue };
        let type_ok = match filter.get("type").and_then(Value::as_str) {
            Some("string") => value.is_string(),
            Some("number") | Some("integer") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            _ => true,
        };
        let enum_ok = filter
            .get("enum")
            .and_then(Value::as_array)
            .is_none_or(|e| e.contains(value));
        if !type_ok || !enum_ok {
            return false;
        }
    }
    true
}
