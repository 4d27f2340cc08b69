//! Encrypted credential responses (OpenID4VCI `credential_response_encryption`): which content encryption to ask
//! for, and the request's encryption parameters. The JWE itself (a P-256 `ECDH-ES` key per flow, decryption) is
//! `walletd_jose::jwe`.
//!
//! Only `ECDH-ES` is asked for, with AES-GCM (preferred: A256GCM, then A128GCM) or AES-CBC with HMAC-SHA2
//! (A128CBC-HS256, then A256CBC-HS512) for issuers that offer nothing else. An issuer offering none of these is
//! asked for no encryption unless it requires it, in which case the flow fails with a clear message.
//!
//! Compression (`zip: "DEF"`): OpenID4VCI 1.0 lets the wallet ASK for it (`zip` in the request, among the issuer's
//! `zip_values_supported`); the issuer never compresses unasked. The engine never asks (the responses are small and
//! compression before encryption is a length side channel), so a compressed response is refused.

use serde_json::{Value, json};
use walletd_jose::jwe::{ENC_PREFERENCE, RecipientKey};

/// What the issuer's metadata says about response encryption.
#[derive(Debug, PartialEq, Eq)]
pub enum Support {
    /// No `credential_response_encryption` in the metadata: ask for none.
    None,
    /// Ask for `enc` with ECDH-ES.
    Use(&'static str),
    /// Required, but no algorithm pair the engine implements is offered.
    RequiredUnsupported,
}

/// Chooses the content encryption from the metadata's `credential_response_encryption` object. Encryption is used
/// whenever the issuer supports it (the response then never crosses a TLS-terminating proxy in the clear).
pub fn choose(meta_enc: Option<&Value>) -> Support {
    let Some(m) = meta_enc.filter(|m| m.is_object()) else {
        return Support::None;
    };
    let list = |k: &str| -> Vec<&str> {
        m.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let required = m.get("encryption_required").and_then(Value::as_bool).unwrap_or(false);
    let algs = list("alg_values_supported");
    let encs = list("enc_values_supported");
    let enc = ENC_PREFERENCE.iter().find(|e| encs.contains(e)).copied();
    match (algs.contains(&"ECDH-ES"), enc) {
        (true, Some(e)) => Support::Use(e),
        _ if required => Support::RequiredUnsupported,
        _ => Support::None,
    }
}

/// The request's `credential_response_encryption` member for the flow's key (1.0: `jwk` carrying `alg`, and
/// `enc`; drafts also read a top-level `alg`, which 1.0 issuers ignore).
pub fn request_member(key: &RecipientKey) -> Value {
    json!({"jwk": key.public_jwk(), "alg": "ECDH-ES", "enc": key.enc()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_and_requirements() {
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A128CBC-HS256", "A128GCM", "A256GCM"]});
        assert_eq!(choose(Some(&m)), Support::Use("A256GCM"));
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A128GCM"]});
        assert_eq!(choose(Some(&m)), Support::Use("A128GCM"));
        let m = json!({"alg_values_supported": ["RSA-OAEP"], "enc_values_supported": ["A128GCM"], "encryption_required": true});
        assert_eq!(choose(Some(&m)), Support::RequiredUnsupported);
        let m =
            json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A256CBC-HS512", "A128CBC-HS256"]});
        assert_eq!(choose(Some(&m)), Support::Use("A128CBC-HS256"));
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A256CBC-HS512"]});
        assert_eq!(choose(Some(&m)), Support::Use("A256CBC-HS512"));
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A192GCM"]});
        assert_eq!(choose(Some(&m)), Support::None);
        assert_eq!(choose(None), Support::None);
    }
}
