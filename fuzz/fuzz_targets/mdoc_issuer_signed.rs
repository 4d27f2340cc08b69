//! An issued mdoc as the engine and the holder read it (walletd_protocol::mdoc): raw CBOR bytes and the
//! base64url credential string, then everything the engine checks of it (digests, x5chain, the COSE signature with
//! the document signer certificate, the chain to an IACA) and the holder's selective disclosure. Bounded by small
//! limits; never panics, and what parses within the limits re-parses after selection.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_jose::x509_chain;
use walletd_protocol::mdoc::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 64 * 1024,
        max_depth: 24,
    };
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mdoc::parse_credential(text, &limits);
    }
    let Ok(doc) = mdoc::parse_issuer_signed(data, &limits) else { return };
    let _ = doc.verify_digests();
    let chain = doc.x5chain();
    if let (Some(leaf), Some(alg)) = (chain.first(), doc.algorithm()) {
        let _ = x509_chain::verify_cose_signature(leaf, alg, &doc.signed_bytes(), &doc.issuer_auth.signature);
        let _ = x509_chain::verify_chain(&chain, &chain, 1_700_000_000);
    }
    let wanted: Vec<(String, String)> = doc
        .element_names()
        .into_iter()
        .flat_map(|(ns, ids)| ids.into_iter().map(move |i| (ns.clone(), i)))
        .take(3)
        .collect();
    let selected = mdoc::select_items(&doc, &wanted);
    let bytes = mdoc::encode(&selected);
    let big = Limits {
        max_bytes: bytes.len().max(limits.max_bytes),
        max_depth: limits.max_depth,
    };
    assert!(mdoc::parse_issuer_signed(&bytes, &big).is_ok());
});
