//! The DCQL query check on arbitrary JSON: never panics; an accepted query has as many unique ids as queries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_protocol::oid4vp::dcql::{check, query_ids};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if check(&v).is_ok() {
        assert_eq!(query_ids(&v).len(), v["credentials"].as_array().map_or(0, Vec::len));
    }
});
