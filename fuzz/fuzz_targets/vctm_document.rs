//! The type metadata parser and validator, SRI parsing/matching, image-reference discovery, extends merging and
//! the SVG policy on arbitrary input: never panics; a valid document has a non-empty vct; merging a valid
//! document over itself keeps its vct; an SRI string that parses matches data only by its strongest digest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_registry::{document, images, sri};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = document::parse(data) {
        assert!(!doc["vct"].as_str().unwrap_or_default().is_empty());
        for pointer in document::image_refs(&doc) {
            assert!(doc.pointer(&pointer).and_then(|o| o.get("uri")).is_some(), "{pointer}");
        }
        let merged = document::merge(&doc, &doc);
        assert_eq!(merged["vct"], doc["vct"]);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(i) = sri::Integrity::parse(text) {
            let _ = i.matches(data);
        }
        let own = sri::sha256_integrity(data);
        assert!(sri::Integrity::parse(&own).is_ok_and(|i| i.matches(data)));
    }
    let _ = images::check_svg(data);
    let _ = images::check_content("image/png", data);
});
