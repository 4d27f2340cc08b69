//! The credential offer parser (JSON text, nested JSON text, offer URLs) on arbitrary input: never panics; an
//! accepted offer names an issuer and at least one configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_protocol::oid4vci::{OfferSource, parse_offer_input};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let input = serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()));
    if let Ok(OfferSource::Value(o)) = parse_offer_input(&input) {
        assert!(!o.credential_issuer.is_empty() && !o.credential_configuration_ids.is_empty());
    }
});
