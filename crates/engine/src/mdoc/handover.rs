//! What a client needs to build an mdoc DeviceResponse for an OpenID4VP 1.0 request (Appendix B.2.6): the
//! mdoc DeviceAuth signing request ([`MdocDeviceAuthRequest`]: the handover inputs, the `SessionTranscript` the
//! device key signs in `DeviceAuthenticationBytes`, and the documents to sign for), computed here so every client
//! binds the same verifier, nonce, response URI and (for `direct_post.jwt`) verifier encryption key. Sent as
//! `params.mdoc` of `sign_presentation` when the query asks for an `mso_mdoc`.

use serde_json::Value;
use walletd_protocol::{MdocDeviceAuthRequest, MdocDocumentToSign, mdoc};

/// The `mso_mdoc` credential queries of a DCQL query.
fn mdoc_queries(dcql: Option<&Value>) -> impl Iterator<Item = &Value> {
    dcql.and_then(|q| q.get("credentials"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("format").and_then(Value::as_str) == Some(mdoc::FORMAT))
}

/// Whether a DCQL query has an `mso_mdoc` credential query.
pub(crate) fn asks_for_mdoc(dcql: Option<&Value>) -> bool {
    mdoc_queries(dcql).next().is_some()
}

/// The DeviceAuth signing request, with the thumbprint (base64url SHA-256 JWK thumbprint, RFC 7638) of
/// `encryption_jwk` when the response is encrypted, and one document per `mso_mdoc` query the consent selected.
pub(crate) fn params(
    client_id: &str,
    nonce: &str,
    response_uri: &str,
    encryption_jwk: Option<&Value>,
    dcql: Option<&Value>,
    selected: &[Value],
) -> Option<MdocDeviceAuthRequest> {
    let thumbprint = encryption_jwk
        .and_then(|j| walletd_jose::Jwk::from_value(j).ok())
        .and_then(|j| j.thumbprint().ok());
    let chosen = |id: &str| {
        selected
            .iter()
            .any(|s| s.get("credential_query_id").and_then(Value::as_str) == Some(id))
    };
    let documents = mdoc_queries(dcql)
        .filter_map(|q| {
            let id = q.get("id").and_then(Value::as_str)?;
            chosen(id).then(|| MdocDocumentToSign {
                credential_query_id: id.to_string(),
                doctype: q
                    .pointer("/meta/doctype_value")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect();
    MdocDeviceAuthRequest::openid4vp(client_id, nonce, response_uri, thumbprint, documents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_bind_the_encryption_key_and_name_the_documents() {
        assert!(asks_for_mdoc(Some(
            &json!({"credentials": [{"id": "a", "format": "mso_mdoc"}]})
        )));
        assert!(!asks_for_mdoc(Some(
            &json!({"credentials": [{"id": "a", "format": "dc+sd-jwt"}]})
        )));
        assert!(!asks_for_mdoc(None));
        let q = json!({"credentials": [
            {"id": "a", "format": "mso_mdoc", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"}},
            {"id": "b", "format": "mso_mdoc", "meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"}},
            {"id": "c", "format": "dc+sd-jwt"}]});
        let sel = [json!({"credential_query_id": "a"}), json!({"credential_query_id": "c"})];
        let plain = params("x509_san_dns:v", "n", "https://v/r", None, Some(&q), &sel).unwrap();
        assert_eq!(plain.jwk_thumbprint, None);
        assert_eq!(plain.documents.len(), 1);
        assert_eq!(plain.documents[0].doctype.as_deref(), Some("org.iso.18013.5.1.mDL"));
        plain.session_transcript().unwrap();
        let key = walletd_jose::EcKey::generate();
        let enc = params(
            "x509_san_dns:v",
            "n",
            "https://v/r",
            Some(&key.public_jwk().to_value()),
            Some(&q),
            &sel,
        )
        .unwrap();
        assert_eq!(enc.jwk_thumbprint, Some(key.thumbprint()));
        assert_ne!(plain.session_transcript, enc.session_transcript);
        enc.session_transcript().unwrap();
    }
}
