//! An issuer's IACA list (`mdoc_iacas_uri`) as the engine parses it: JSON with base64 DER or PEM certificates.
//! Never panics; every accepted entry is an X.509 certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = walletd_engine::mdoc::parse_iaca_list(data) {
        for der in list {
            assert!(walletd_jose::x509_chain::subject(&der).is_some());
        }
    }
});
