//! The OID4VP request parsing on arbitrary input: the flow_start URL forms, request objects (JSON, unsigned and
//! signed JWTs with x5c) and the request rules never panic; an accepted request has a nonce and a response_uri.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_engine::oid4vp::request::{authenticate_inline, parse_start, validate, verify_request_object, Source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let authenticated = match parse_start(text, None) {
        Ok(Source::Params(p)) => authenticate_inline(p).ok(),
        _ => verify_request_object(text, None, None, 0).ok(),
    };
    if let Some(a) = authenticated
        && let Ok(r) = validate(a)
    {
        assert!(!r.nonce.is_empty() && !r.response_uri.is_empty());
    }
});
