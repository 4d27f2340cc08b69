//! Typed `sign_request.params`. The frame keeps `params` as a JSON object (each action has its own members, and the
//! web client reads them by name), but the members of `sign_presentation` are a contract of their own: the engine
//! builds them from [`SignPresentationParams`], the holder reads them with it, and the schema names it. Its `mdoc`
//! member is the **mdoc DeviceAuth signing request**: the OpenID4VP 1.0 handover inputs, the `SessionTranscript`
//! they give, and the documents to sign DeviceAuth for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mdoc;

/// `sign_request.params` of the `sign_presentation` action (OID4VP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SignPresentationParams {
    /// The verifier's full `client_id` (with its prefix): the KB-JWT `aud`.
    pub audience: String,
    /// The request's nonce.
    pub nonce: String,
    /// The consent's `selected_credentials`, echoed verbatim (`{credential_id, credential_query_id,
    /// disclosed_claims}`; claim paths joined with `.`, `namespace.element` for an mdoc).
    pub credentials_to_include: Vec<Value>,
    /// Where the response is posted (`direct_post`, `direct_post.jwt`).
    pub response_uri: String,
    /// Base64url RFC 7638 thumbprint of the verifier's encryption key when the response is encrypted
    /// (`direct_post.jwt`); only sent when the query asks for an mdoc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier_jwk_thumbprint: Option<String>,
    /// The verifier's session id, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier_session_id: Option<String>,
    /// OID4VP `transaction_data`, the original base64url strings (clients with the `transaction_data` feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_data: Option<Vec<String>>,
    /// The mdoc DeviceAuth signing request, present when the DCQL query has an `mso_mdoc` credential query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mdoc: Option<MdocDeviceAuthRequest>,
}

/// Which OpenID4VP 1.0 handover (Appendix B.2.6) the `SessionTranscript` is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MdocHandover {
    /// Redirect-based flows: `[client_id, nonce, jwk_thumbprint / null, response_uri]`.
    #[serde(rename = "OpenID4VPHandover")]
    OpenId4Vp,
    /// The Digital Credentials API: `[origin, nonce, jwk_thumbprint / null]` (the engine runs no DC API flow; the
    /// variant is named so a client can check what it is asked for).
    #[serde(rename = "OpenID4VPDCAPIHandover")]
    OpenId4VpDcApi,
}

/// One document the client signs DeviceAuth for: the DCQL credential query it answers and the docType the query
/// asks for (`meta.doctype_value`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MdocDocumentToSign {
    /// The `mso_mdoc` credential query's id (the `vp_token` key of its DeviceResponse).
    pub credential_query_id: String,
    /// The docType the query asks for; absent when the query names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctype: Option<String>,
}

/// The mdoc DeviceAuth signing request (`sign_presentation`'s `params.mdoc`): the handover inputs, the resulting
/// `SessionTranscript` and the documents. The client signs, with each credential's device key, a `DeviceSignature`
/// (COSE_Sign1, detached payload) over `DeviceAuthenticationBytes` of that transcript and the document's docType,
/// and answers with one base64url `DeviceResponse` per credential query in `vp_token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MdocDeviceAuthRequest {
    /// The handover the transcript is built from.
    pub handover: MdocHandover,
    /// The verifier's full `client_id` (`OpenID4VPHandover`).
    pub client_id: String,
    /// The request's nonce.
    pub nonce: String,
    /// The `response_uri` (`OpenID4VPHandover`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_uri: Option<String>,
    /// The web origin (`OpenID4VPDCAPIHandover`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Base64url SHA-256 JWK thumbprint (RFC 7638) of the verifier's encryption key when the response is encrypted,
    /// else `null`.
    #[serde(default)]
    pub jwk_thumbprint: Option<String>,
    /// The `SessionTranscript` as base64url CBOR; a client may recompute it from the inputs above and must refuse
    /// to sign when they differ ([`MdocDeviceAuthRequest::session_transcript`]).
    pub session_transcript: String,
    /// The documents to sign for, one per `mso_mdoc` credential query of the consent.
    #[serde(default)]
    pub documents: Vec<MdocDocumentToSign>,
}

impl MdocDeviceAuthRequest {
    /// The request for an OpenID4VP redirect flow; `jwk_thumbprint` is the base64url thumbprint of the verifier's
    /// encryption key (encrypted responses only). `None` when that thumbprint is not base64url.
    pub fn openid4vp(
        client_id: &str,
        nonce: &str,
        response_uri: &str,
        jwk_thumbprint: Option<String>,
        documents: Vec<MdocDocumentToSign>,
    ) -> Option<Self> {
        let raw = match &jwk_thumbprint {
            Some(t) => Some(URL_SAFE_NO_PAD.decode(t).ok()?),
            None => None,
        };
        let st = mdoc::oid4vp_session_transcript(client_id, nonce, raw.as_deref(), Some(response_uri), None);
        Some(MdocDeviceAuthRequest {
            handover: MdocHandover::OpenId4Vp,
            client_id: client_id.to_string(),
            nonce: nonce.to_string(),
            response_uri: Some(response_uri.to_string()),
            origin: None,
            jwk_thumbprint,
            session_transcript: URL_SAFE_NO_PAD.encode(mdoc::encode(&st)),
            documents,
        })
    }

    /// The `SessionTranscript` recomputed from the handover inputs; an error when an input is missing or malformed,
    /// or when the sent `session_transcript` is not the recomputed one (a client signs only what it can check).
    pub fn session_transcript(&self) -> Result<ciborium::Value, String> {
        let thumb = match &self.jwk_thumbprint {
            Some(t) => Some(
                URL_SAFE_NO_PAD
                    .decode(t)
                    .map_err(|_| "jwk_thumbprint is not base64url")?,
            ),
            None => None,
        };
        let st = match self.handover {
            MdocHandover::OpenId4Vp => {
                let uri = self
                    .response_uri
                    .as_deref()
                    .ok_or("an OpenID4VPHandover needs response_uri")?;
                mdoc::oid4vp_session_transcript(&self.client_id, &self.nonce, thumb.as_deref(), Some(uri), None)
            }
            MdocHandover::OpenId4VpDcApi => {
                let origin = self.origin.as_deref().ok_or("an OpenID4VPDCAPIHandover needs origin")?;
                mdoc::oid4vp_session_transcript(&self.client_id, &self.nonce, thumb.as_deref(), None, Some(origin))
            }
        };
        if URL_SAFE_NO_PAD.decode(&self.session_transcript).ok().as_deref() != Some(mdoc::encode(&st).as_slice()) {
            return Err("the session_transcript does not match its handover inputs".into());
        }
        Ok(st)
    }
}

/// The schema of `sign_request.params`: [`SignPresentationParams`] for `sign_presentation`, an object with the
/// action's members otherwise (`generate_proof`, `client_attestation_pop`; docs/api-v2.md).
pub(crate) fn sign_request_params_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let presentation = generator.subschema_for::<SignPresentationParams>();
    schemars::json_schema!({
        "description": "What to sign. `sign_presentation`: a SignPresentationParams (its `mdoc` member is the mdoc \
            DeviceAuth signing request); `generate_proof`: `{audience, nonce?, issuer?, proof_types_supported, \
            count, reissuance_kid?, key_attestation?}`; `client_attestation_pop`: `{audience, challenge?, \
            client_id?}`.",
        "anyOf": [presentation, {"type": "object"}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The schema fixture of a `sign_presentation` with an mdoc carries a transcript that verifies.
    #[test]
    fn the_fixture_is_a_real_request() {
        let f: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/server/sign_request_sign_presentation_mdoc.json"
        ))
        .unwrap();
        let p: SignPresentationParams = serde_json::from_value(f["params"].clone()).unwrap();
        p.mdoc.unwrap().session_transcript().unwrap();
    }

    #[test]
    fn the_transcript_is_checked_against_its_inputs() {
        let docs = vec![MdocDocumentToSign {
            credential_query_id: "mdl".into(),
            doctype: Some("org.iso.18013.5.1.mDL".into()),
        }];
        let r = MdocDeviceAuthRequest::openid4vp("x509_san_dns:v", "n", "https://v/r", None, docs).unwrap();
        assert!(r.session_transcript().is_ok());
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["handover"], "OpenID4VPHandover");
        assert_eq!(v["jwk_thumbprint"], Value::Null);
        assert_eq!(v["documents"][0]["doctype"], "org.iso.18013.5.1.mDL");
        let back: MdocDeviceAuthRequest = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        let mut other = r.clone();
        other.nonce = "m".into();
        assert!(other.session_transcript().unwrap_err().contains("does not match"));
        let mut no_uri = r.clone();
        no_uri.response_uri = None;
        assert!(no_uri.session_transcript().is_err());
        let enc = MdocDeviceAuthRequest::openid4vp("c", "n", "https://v/r", Some("AAAA".into()), vec![]).unwrap();
        assert_ne!(enc.session_transcript, r.session_transcript);
        assert!(MdocDeviceAuthRequest::openid4vp("c", "n", "u", Some("*".into()), vec![]).is_none());
        let dc: MdocDeviceAuthRequest = serde_json::from_value(json!({"handover": "OpenID4VPDCAPIHandover",
            "client_id": "c", "nonce": "n", "session_transcript": ""}))
        .unwrap();
        assert!(dc.session_transcript().unwrap_err().contains("origin"));
    }
}
