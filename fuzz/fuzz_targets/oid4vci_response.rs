//! What an issuer sends back that the engine parses beyond plain JSON: a JWKS from `jwks_uri` and an encrypted
//! (compact JWE) credential response, for every content encryption the engine accepts. Never panics; an accepted
//! JWKS has keys with `kty` and no private members; a JWE made up by the fuzzer never decrypts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_jose::jwe::RecipientKey;
use walletd_jose::jwk::parse_jwks;

fuzz_target!(|data: &[u8]| {
    if let Some(jwks) = parse_jwks(data) {
        for k in jwks.to_value()["keys"].as_array().unwrap() {
            assert!(k["kty"].is_string());
            assert!(k.get("d").is_none() && k.get("k").is_none());
        }
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    for enc in ["A256GCM", "A128GCM", "A128CBC-HS256", "A256CBC-HS512"] {
        let key = RecipientKey::generate(enc).unwrap();
        assert!(key.decrypt(text).is_err());
    }
});
