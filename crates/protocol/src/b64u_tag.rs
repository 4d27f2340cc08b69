//! The web client's JSON encoding of binary values, `{"$b64u": "<base64url>"}`: one implementation for the server's
//! compatibility API (walletd-auth), the native wallet's cloud login and the test authenticator.

use serde_json::{Value, json};

/// The tag key.
pub const TAG: &str = "$b64u";

/// Replaces every `{"$b64u": s}` object (anywhere in `v`) by the string `s` (what the web client's parser does).
pub fn untag(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(s)) = map.get(TAG)
            {
                *v = Value::String(s.clone());
                return;
            }
            map.values_mut().for_each(untag);
        }
        Value::Array(items) => items.iter_mut().for_each(untag),
        _ => {}
    }
}

/// Wraps the string at `pointer` (a JSON pointer) in the tag, if it is a string.
pub fn tag_at(v: &mut Value, pointer: &str) {
    if let Some(slot) = v.pointer_mut(pointer)
        && let Value::String(s) = slot
    {
        let s = std::mem::take(s);
        *slot = json!({ TAG: s });
    }
}

/// [`tag_at`] for each of `pointers`, as the web client sends a WebAuthn credential's binaries.
pub fn tag(v: &mut Value, pointers: &[&str]) {
    for p in pointers {
        tag_at(v, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untag_replaces_nested_tags_only() {
        let mut v = json!({"a": {"$b64u": "AQI"}, "b": [{"$b64u": "Aw"}], "c": {"$b64u": "x", "other": 1}});
        untag(&mut v);
        assert_eq!(v, json!({"a": "AQI", "b": ["Aw"], "c": {"$b64u": "x", "other": 1}}));
    }

    #[test]
    fn tag_at_wraps_strings() {
        let mut v = json!({"publicKey": {"challenge": "AAA"}});
        tag_at(&mut v, "/publicKey/challenge");
        assert_eq!(v, json!({"publicKey": {"challenge": {"$b64u": "AAA"}}}));
    }

    #[test]
    fn tag_wraps_every_pointer_and_skips_missing_ones() {
        let mut v = json!({"id": "AQ", "response": {"x": "Ag"}});
        tag(&mut v, &["/id", "/response/x", "/missing"]);
        assert_eq!(v, json!({"id": {"$b64u": "AQ"}, "response": {"x": {"$b64u": "Ag"}}}));
    }
}
