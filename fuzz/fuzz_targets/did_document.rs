//! DID handling on arbitrary input: DID documents (as a PDP's resolution answer would carry them), did:jwk
//! identifiers and kids never panic; a key found is a public JWK (no `d`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_engine::oid4vp::did::{check_kid, did_jwk_key, key_from_document};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = check_kid("did:web:v.example", text);
    if let Ok(k) = did_jwk_key(text) {
        assert!(k.get("d").is_none());
    }
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else { return };
    let did = doc.get("id").and_then(|v| v.as_str()).unwrap_or("did:web:v.example").to_string();
    let kid = doc
        .pointer("/verificationMethod/0/id")
        .and_then(|v| v.as_str())
        .map(|id| if id.starts_with('#') { format!("{did}{id}") } else { id.to_string() })
        .unwrap_or_else(|| format!("{did}#key-1"));
    if let Ok(k) = key_from_document(&doc, &did, &kid) {
        assert!(k.get("d").is_none());
    }
});
