//! Tests on mdocs made by the independent @owf/mdoc library (tests/interop/mdoc.mjs; `fixture.json` was written
//! by it: an mDL and a PID bound to `holder_jwk`, a tampered mDL, the IACA and an unrelated IACA).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ciborium::Value;
use serde_json::Value as Json;

use super::*;

fn fixture() -> Json {
    serde_json::from_str(include_str!("fixture.json")).unwrap()
}

#[test]
fn issued_mdl_parses_with_its_mso() {
    let f = fixture();
    let doc = parse_credential(f["credential"].as_str().unwrap(), &Limits::default()).unwrap();
    assert_eq!(doc.mso.doc_type, "org.iso.18013.5.1.mDL");
    assert_eq!(doc.mso.digest_algorithm, "SHA-256");
    assert!(doc.mso.validity.valid_from <= doc.mso.validity.valid_until);
    let names = doc.element_names();
    assert!(names["org.iso.18013.5.1"].contains(&"family_name".to_string()));
    assert_eq!(
        doc.element("org.iso.18013.5.1", "given_name"),
        Some(&Value::Text("Erika".into()))
    );
    doc.verify_digests().unwrap();
    assert_eq!(doc.algorithm(), Some(-7));
    let chain = doc.x5chain();
    assert_eq!(chain.len(), 1);
    // The device key is the holder's: x and y of the COSE_Key (-2, -3) equal the JWK's.
    let x = doc
        .mso
        .device_key
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_integer() == Some((-2).into()))
        .and_then(|(_, v)| v.as_bytes().cloned())
        .unwrap();
    let jwk_x = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(f["holder_jwk"]["x"].as_str().unwrap())
        .unwrap();
    assert_eq!(x, jwk_x);
    let pid = parse_credential(f["pid"].as_str().unwrap(), &Limits::default()).unwrap();
    assert_eq!(pid.mso.doc_type, "eu.europa.ec.eudi.pid.1");
    pid.verify_digests().unwrap();
    let _ = STANDARD.decode(f["iaca"].as_str().unwrap()).unwrap();
}

#[test]
fn tampered_element_fails_its_digest() {
    let f = fixture();
    let doc = parse_credential(f["tampered"].as_str().unwrap(), &Limits::default()).unwrap();
    assert_eq!(
        doc.verify_digests(),
        Err(MdocError::DigestMismatch(
            "org.iso.18013.5.1".into(),
            "given_name".into()
        ))
    );
}

#[test]
fn limits_and_garbage_are_clear_errors() {
    let f = fixture();
    let cred = f["credential"].as_str().unwrap();
    let small = Limits {
        max_bytes: 256,
        max_depth: 32,
    };
    assert_eq!(parse_credential(cred, &small).unwrap_err(), MdocError::TooLarge(256));
    let shallow = Limits {
        max_bytes: 1 << 20,
        max_depth: 2,
    };
    assert_eq!(parse_credential(cred, &shallow).unwrap_err(), MdocError::TooDeep(2));
    assert_eq!(
        parse_credential("%%%", &Limits::default()).unwrap_err(),
        MdocError::NotBase64
    );
    assert!(matches!(
        parse_credential("oA", &Limits::default()),
        Err(MdocError::Malformed(_))
    ));
    assert!(matches!(
        parse_issuer_signed(&encode(&Value::Array(vec![])), &Limits::default()),
        Err(MdocError::Malformed(_))
    ));
}

#[test]
fn selected_items_keep_issuer_auth_and_only_what_was_asked() {
    let f = fixture();
    let doc = parse_credential(f["credential"].as_str().unwrap(), &Limits::default()).unwrap();
    let sel = select_items(&doc, &[("org.iso.18013.5.1".into(), "age_over_18".into())]);
    let again = issuer_signed_from_value(&sel, &Limits::default()).unwrap();
    assert_eq!(again.element_names()["org.iso.18013.5.1"], ["age_over_18"]);
    again.verify_digests().unwrap();
    assert_eq!(again.issuer_auth_value, doc.issuer_auth_value);
}
