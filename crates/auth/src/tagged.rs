//! The web client's JSON encoding of binary values: `{"$b64u":"<base64url>"}`. Accepted on input wherever a
//! base64url string is expected (plain strings too), and produced on output for the compatibility API.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

pub use walletd_protocol::b64u_tag::{TAG, tag_at, untag};

/// `{"$b64u": <base64url of bytes>}`.
pub fn tagged(bytes: &[u8]) -> Value {
    json!({ TAG: URL_SAFE_NO_PAD.encode(bytes) })
}

/// Decodes base64url or standard base64, padded or not (clients differ).
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
        .ok()
}

/// Decodes a binary value given tagged or as a plain base64(url) string.
pub fn decode_value(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => decode_b64(s),
        Value::Object(map) => map.get(TAG).and_then(Value::as_str).and_then(decode_b64),
        _ => None,
    }
}

/// base64url without padding.
pub fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_and_padding_decode() {
        assert_eq!(decode_b64("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_b64("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert!(decode_b64("not base64 !").is_none());
        assert_eq!(decode_value(&tagged(&[1, 2, 3])).unwrap(), vec![1, 2, 3]);
    }
}
