//! Bounded CBOR decoding and the few accessors the mdoc structures need.

use ciborium::Value;

use super::{Limits, MdocError, malformed};

/// Decodes exactly one CBOR data item of at most `limits.max_bytes`, nested at most `limits.max_depth` deep.
/// Trailing bytes are refused.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Value, MdocError> {
    if bytes.len() > limits.max_bytes {
        return Err(MdocError::TooLarge(limits.max_bytes));
    }
    let mut rest = bytes;
    let v: Value =
        ciborium::de::from_reader_with_recursion_limit(&mut rest, limits.max_depth).map_err(|e| match e {
            ciborium::de::Error::RecursionLimitExceeded => MdocError::TooDeep(limits.max_depth),
            _ => malformed("not CBOR"),
        })?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the CBOR item"));
    }
    Ok(v)
}

/// Encodes a CBOR value (ciborium's encoding: definite lengths, shortest heads).
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail; a value ciborium cannot encode does not exist in `Value`.
    let _ = ciborium::ser::into_writer(v, &mut out);
    out
}

/// The member `key` (a text key) of a CBOR map.
pub fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

/// A text member of a CBOR map.
pub fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    map_get(v, key)?.as_text()
}

/// Embedded CBOR (`#6.24(bstr .cbor T)`): the decoded item and the bytes it was decoded from.
pub fn embedded<'a>(v: &'a Value, limits: &Limits) -> Result<(Value, &'a [u8]), MdocError> {
    match v {
        Value::Tag(24, inner) => match inner.as_ref() {
            Value::Bytes(b) => Ok((decode(b, limits)?, b.as_slice())),
            _ => Err(malformed("tag 24 does not wrap a byte string")),
        },
        _ => Err(malformed("expected embedded CBOR (tag 24)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Vec<u8> {
        let mut b = vec![0x81; depth];
        b.push(0x00);
        b
    }

    #[test]
    fn size_depth_and_trailing_bytes_are_bounded() {
        let l = Limits {
            max_bytes: 64,
            max_depth: 8,
        };
        assert!(decode(&nested(7), &l).is_ok());
        assert_eq!(decode(&nested(9), &l), Err(MdocError::TooDeep(8)));
        assert_eq!(decode(&[0u8; 65], &l), Err(MdocError::TooLarge(64)));
        assert!(matches!(decode(&[0x00, 0x00], &l), Err(MdocError::Malformed(_))));
        assert!(matches!(
            decode(&[0x5a, 0xff, 0xff, 0xff, 0xff], &l),
            Err(MdocError::Malformed(_))
        ));
        // A deeply nested map value: refused, no stack overflow.
        let mut deep = [0xa1, 0x61, b'a'].repeat(100_000);
        deep.push(0);
        let big = Limits {
            max_bytes: 1 << 20,
            max_depth: 32,
        };
        assert_eq!(decode(&deep, &big), Err(MdocError::TooDeep(32)));
    }

    #[test]
    fn embedded_cbor_is_decoded_with_the_same_limits() {
        let inner = encode(&Value::Text("x".into()));
        let v = Value::Tag(24, Box::new(Value::Bytes(inner.clone())));
        let (d, raw) = embedded(&v, &Limits::default()).unwrap();
        assert_eq!(d, Value::Text("x".into()));
        assert_eq!(raw, inner.as_slice());
        assert!(embedded(&Value::Bytes(inner), &Limits::default()).is_err());
    }
}
