//! Presentation Exchange definitions on arbitrary JSON: the check and the translation to DCQL never panic, and
//! every accepted definition translates to a DCQL query that passes the DCQL check with the same ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_engine::oid4vp::pe::submission;
use walletd_protocol::oid4vp::{dcql, pe};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if pe::check(&v).is_ok() {
        let q = pe::to_dcql(&v);
        if dcql::check(&q).is_ok() {
            let ids = dcql::query_ids(&q);
            let (_, sub) = submission(&v, &serde_json::Map::new());
            assert!(sub["descriptor_map"].as_array().is_some_and(Vec::is_empty));
            assert_eq!(ids.len(), v["input_descriptors"].as_array().map_or(0, Vec::len));
        }
    }
});
