//! The holder's side of an OpenID4VP mdoc presentation: the OpenID4VP 1.0 `SessionTranscript` (Appendix B.2.6),
//! the `DeviceAuthenticationBytes` the device key signs, and an `IssuerSigned` narrowed to the disclosed elements.

use ciborium::Value;
use sha2::Digest as _;

use super::cbor::encode;
use super::issuer_signed::IssuerSigned;

/// One requested element: namespace, element identifier.
pub type DeviceRequestItem = (String, String);

/// `SessionTranscript = [null, null, ["OpenID4VPHandover", SHA-256(OpenID4VPHandoverInfoBytes)]]` with
/// `OpenID4VPHandoverInfo = [client_id, nonce, jwk_thumbprint / null, response_uri]` (redirect flows), or the
/// Digital Credentials API form `["OpenID4VPDCAPIHandover", SHA-256([origin, nonce, jwk_thumbprint / null])]`
/// when `origin` is given instead of a response URI. `jwk_thumbprint` is the SHA-256 JWK thumbprint (raw bytes)
/// of the verifier's encryption key when the response is encrypted.
pub fn oid4vp_session_transcript(
    client_id: &str,
    nonce: &str,
    jwk_thumbprint: Option<&[u8]>,
    response_uri: Option<&str>,
    origin: Option<&str>,
) -> Value {
    let thumb = jwk_thumbprint.map_or(Value::Null, |t| Value::Bytes(t.to_vec()));
    let (name, info) = match origin {
        Some(o) => (
            "OpenID4VPDCAPIHandover",
            Value::Array(vec![Value::Text(o.into()), Value::Text(nonce.into()), thumb]),
        ),
        None => (
            "OpenID4VPHandover",
            Value::Array(vec![
                Value::Text(client_id.into()),
                Value::Text(nonce.into()),
                thumb,
                Value::Text(response_uri.unwrap_or_default().into()),
            ]),
        ),
    };
    let hash = sha2::Sha256::digest(encode(&info)).to_vec();
    Value::Array(vec![
        Value::Null,
        Value::Null,
        Value::Array(vec![Value::Text(name.into()), Value::Bytes(hash)]),
    ])
}

/// `DeviceAuthenticationBytes = #6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript, DocType,
/// DeviceNameSpacesBytes])`, with `device_name_spaces_bytes` the `#6.24` wrapped device namespaces.
pub fn device_authentication_bytes(
    session_transcript: &Value,
    doc_type: &str,
    device_name_spaces_bytes: &Value,
) -> Vec<u8> {
    let da = Value::Array(vec![
        Value::Text("DeviceAuthentication".into()),
        session_transcript.clone(),
        Value::Text(doc_type.into()),
        device_name_spaces_bytes.clone(),
    ]);
    encode(&Value::Tag(24, Box::new(Value::Bytes(encode(&da)))))
}

/// The `IssuerSigned` to present: only the requested elements (in the issued order), `issuerAuth` unchanged.
/// Requested elements the credential does not hold are left out; namespaces left empty are dropped.
pub fn select_items(issuer_signed: &IssuerSigned, requested: &[DeviceRequestItem]) -> Value {
    let mut ns_out = Vec::new();
    for (ns, items) in &issuer_signed.name_spaces {
        let kept: Vec<Value> = items
            .iter()
            .filter(|i| requested.iter().any(|(n, e)| n == ns && *e == i.element_identifier))
            .map(|i| i.tagged.clone())
            .collect();
        if !kept.is_empty() {
            ns_out.push((Value::Text(ns.clone()), Value::Array(kept)));
        }
    }
    Value::Map(vec![
        (Value::Text("nameSpaces".into()), Value::Map(ns_out)),
        (
            Value::Text("issuerAuth".into()),
            issuer_signed.issuer_auth_value.clone(),
        ),
    ])
}

/// A `DeviceResponse` (ISO/IEC 18013-5 §8.3.2.1.2.2) with one document: the selected issuer-signed elements,
/// empty device-signed namespaces and a `DeviceSignature` (COSE_Sign1, ES256, detached payload) over the
/// `DeviceAuthenticationBytes` of `session_transcript`. `sign` signs the Sig_structure with the device key and
/// returns the raw `r||s` signature.
pub fn device_response(
    issuer_signed: &IssuerSigned,
    requested: &[DeviceRequestItem],
    session_transcript: &Value,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    use coset::{AsCborValue, CoseSign1Builder, HeaderBuilder, iana};
    let doc_type = issuer_signed.mso.doc_type.clone();
    let device_ns = Value::Tag(24, Box::new(Value::Bytes(encode(&Value::Map(vec![])))));
    let payload = device_authentication_bytes(session_transcript, &doc_type, &device_ns);
    let protected = HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .create_detached_signature(&payload, &[], |tbs| sign(tbs))
        .build();
    // A COSE_Sign1 built from a header and bytes always converts.
    let device_signature = sign1.to_cbor_value().unwrap_or(Value::Null);
    let t = |s: &str| Value::Text(s.into());
    let document = Value::Map(vec![
        (t("docType"), Value::Text(doc_type)),
        (t("issuerSigned"), select_items(issuer_signed, requested)),
        (
            t("deviceSigned"),
            Value::Map(vec![
                (t("nameSpaces"), device_ns),
                (
                    t("deviceAuth"),
                    Value::Map(vec![(t("deviceSignature"), device_signature)]),
                ),
            ]),
        ),
    ]);
    encode(&Value::Map(vec![
        (t("version"), t("1.0")),
        (t("documents"), Value::Array(vec![document])),
        (t("status"), Value::Integer(0.into())),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_transcript_shapes() {
        let st = oid4vp_session_transcript("x509_san_dns:v.example", "n", None, Some("https://v.example/r"), None);
        let a = st.as_array().unwrap();
        assert_eq!(a[0], Value::Null);
        let h = a[2].as_array().unwrap();
        assert_eq!(h[0], Value::Text("OpenID4VPHandover".into()));
        assert_eq!(h[1].as_bytes().unwrap().len(), 32);
        let other = oid4vp_session_transcript("x509_san_dns:v.example", "m", None, Some("https://v.example/r"), None);
        assert_ne!(st, other, "the nonce is bound");
        let enc = oid4vp_session_transcript("c", "n", Some(&[1; 32]), Some("https://v.example/r"), None);
        assert_ne!(
            enc,
            oid4vp_session_transcript("c", "n", None, Some("https://v.example/r"), None)
        );
        let dc = oid4vp_session_transcript("c", "n", None, None, Some("https://v.example"));
        assert_eq!(
            dc.as_array().unwrap()[2].as_array().unwrap()[0],
            Value::Text("OpenID4VPDCAPIHandover".into())
        );
        let dab = device_authentication_bytes(&st, "org.iso.18013.5.1.mDL", &Value::Null);
        assert_eq!(dab[0], 0xd8, "tag 24");
    }
}
