//! Verifier attestations on arbitrary input: the text is put in a request object's `jwt` header (and also tried as
//! a whole request object with a verifier_attestation client_id); verification never panics, and with random input
//! never succeeds without a real signature chain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_jose::{b64, decode_jwt};
use walletd_engine::oid4vp::attestation::verify;
use walletd_engine::oid4vp::request::verify_request_object;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let header = serde_json::json!({"alg": "ES256", "typ": "oauth-authz-req+jwt", "jwt": text});
    let claims = r#"{"client_id":"verifier_attestation:v.example"}"#;
    let request = format!("{}.{}.c2ln", b64(header.to_string()), b64(claims));
    if let Some(d) = decode_jwt(&request) {
        let _ = verify(&d, "v.example", 0);
    }
    let _ = verify_request_object(text, Some("verifier_attestation:v.example"), None, 0);
});
