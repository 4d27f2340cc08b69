//! What a client needs to build an mdoc DeviceResponse for an OpenID4VP 1.0 request (Appendix B.2.6): the
//! handover inputs and the `SessionTranscript` the device key signs (in `DeviceAuthenticationBytes`), computed
//! here so every client binds the same verifier, nonce, response URI and (for `direct_post.jwt`) verifier
//! encryption key. Sent as `params.mdoc` of `sign_presentation` when the query asks for an `mso_mdoc`.

use serde_json::{Value, json};
use walletd_protocol::mdoc;

/// Whether a DCQL query has an `mso_mdoc` credential query.
pub(crate) fn asks_for_mdoc(dcql: Option<&Value>) -> bool {
    dcql.and_then(|q| q.get("credentials"))
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.get("format").and_then(Value::as_str) == Some(mdoc::FORMAT))
        })
}

/// `params.mdoc`: `{handover, client_id, nonce, response_uri, jwk_thumbprint, session_transcript}` with the
/// thumbprint (base64url SHA-256 JWK thumbprint, RFC 7638) of `encryption_jwk` when the response is encrypted, and
/// the session transcript as base64url CBOR.
pub(crate) fn params(client_id: &str, nonce: &str, response_uri: &str, encryption_jwk: Option<&Value>) -> Value {
    let thumbprint = encryption_jwk
        .and_then(|j| walletd_jose::Jwk::from_value(j).ok())
        .and_then(|j| j.thumbprint().ok());
    let raw = thumbprint.as_deref().and_then(walletd_jose::b64_decode);
    let st = mdoc::oid4vp_session_transcript(client_id, nonce, raw.as_deref(), Some(response_uri), None);
    json!({
        "handover": "OpenID4VPHandover",
        "client_id": client_id,
        "nonce": nonce,
        "response_uri": response_uri,
        "jwk_thumbprint": thumbprint,
        "session_transcript": walletd_jose::b64(mdoc::encode(&st)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_bind_the_encryption_key_when_there_is_one() {
        assert!(asks_for_mdoc(Some(
            &json!({"credentials": [{"id": "a", "format": "mso_mdoc"}]})
        )));
        assert!(!asks_for_mdoc(Some(
            &json!({"credentials": [{"id": "a", "format": "dc+sd-jwt"}]})
        )));
        assert!(!asks_for_mdoc(None));
        let plain = params("x509_san_dns:v", "n", "https://v/r", None);
        assert_eq!(plain["jwk_thumbprint"], Value::Null);
        let key = walletd_jose::EcKey::generate();
        let enc = params("x509_san_dns:v", "n", "https://v/r", Some(&key.public_jwk().to_value()));
        assert_eq!(enc["jwk_thumbprint"], json!(key.thumbprint()));
        assert_ne!(plain["session_transcript"], enc["session_transcript"]);
    }
}
