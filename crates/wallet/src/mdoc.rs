//! mdoc (`mso_mdoc`) credentials in the Rust holder: DCQL matching (`meta.doctype_value`, claim paths
//! `[namespace, element]`, `values`, `claim_sets`; `intent_to_retain` is the verifier's statement and does not
//! change what matches) and the DeviceResponse with selective disclosure by namespace and element, device-signed
//! over the OpenID4VP 1.0 SessionTranscript the engine sends in `sign_presentation`'s `params.mdoc`.
//!
//! `disclosed_claims` entries of an mdoc are `namespace.element` (the DCQL path joined with "." like every other
//! format); namespaces contain dots, element identifiers do not, so the last "." separates them.

use ciborium::Value as Cbor;
use serde_json::Value;
use walletd_jose::b64;
use walletd_protocol::MdocDeviceAuthRequest;
use walletd_protocol::mdoc::{self, IssuerSigned, Limits};

use crate::present::StoredCredential;
use crate::signer::{KeySigner, SignPurpose, SignerError};

/// The stored credential as an mdoc, when it is one (base64url `IssuerSigned`; SD-JWTs contain `~`).
pub fn as_mdoc(cred: &StoredCredential) -> Option<IssuerSigned> {
    if cred.sd_jwt.contains('~') || cred.sd_jwt.contains('.') {
        return None;
    }
    mdoc::parse_credential(&cred.sd_jwt, &Limits::default()).ok()
}

/// An element value as JSON (for `values` filters): text, integers, booleans, floats; other types do not compare.
fn as_json(v: &Cbor) -> Option<Value> {
    Some(match v {
        Cbor::Text(t) => Value::from(t.as_str()),
        Cbor::Bool(b) => Value::from(*b),
        Cbor::Integer(i) => Value::from(i64::try_from(*i).ok()?),
        Cbor::Float(f) => Value::from(*f),
        Cbor::Tag(_, inner) => return as_json(inner),
        _ => return None,
    })
}

/// The disclosed `namespace.element` entries if the mdoc `doc` satisfies DCQL credential query `q`.
pub fn match_one(q: &Value, doc: &IssuerSigned) -> Option<Vec<String>> {
    if q.get("format").and_then(Value::as_str) != Some(mdoc::FORMAT) {
        return None;
    }
    if let Some(want) = q
        .get("meta")
        .and_then(|m| m.get("doctype_value"))
        .and_then(Value::as_str)
        && want != doc.mso.doc_type
    {
        return None;
    }
    let requested: Vec<&Value> = q
        .get("claims")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let one = |cl: &Value| -> Option<String> {
        let path = cl.get("path")?.as_array()?;
        let [ns, el] = path.as_slice() else { return None };
        let (ns, el) = (ns.as_str()?, el.as_str()?);
        let value = doc.element(ns, el)?;
        if let Some(vals) = cl.get("values").and_then(Value::as_array)
            && !as_json(value).is_some_and(|v| vals.contains(&v))
        {
            return None;
        }
        Some(format!("{ns}.{el}"))
    };
    match q.get("claim_sets").and_then(Value::as_array) {
        Some(sets) => sets.iter().find_map(|set| {
            set.as_array()?
                .iter()
                .map(|id| {
                    let cl = requested.iter().find(|c| c.get("id").is_some_and(|i| i == id))?;
                    one(cl)
                })
                .collect::<Option<Vec<String>>>()
        }),
        None => requested.into_iter().map(one).collect(),
    }
}

/// The SessionTranscript of `params.mdoc` (the typed mdoc DeviceAuth signing request), recomputed from its
/// handover inputs and required to be the one the engine sent.
pub fn session_transcript(params: &Value) -> Result<Cbor, String> {
    let m = params.get("mdoc").ok_or("sign_presentation carries no mdoc handover")?;
    let request: MdocDeviceAuthRequest =
        serde_json::from_value(m.clone()).map_err(|e| format!("the mdoc handover is malformed: {e}"))?;
    request.session_transcript()
}

/// A base64url DeviceResponse disclosing `disclosed` (`namespace.element`) of `doc`, DeviceAuth signed by `key`.
pub fn present(
    doc: &IssuerSigned,
    disclosed: &[String],
    key: &dyn KeySigner,
    params: &Value,
) -> Result<String, String> {
    let st = session_transcript(params)?;
    let items: Vec<(String, String)> = disclosed
        .iter()
        .filter_map(|d| d.rsplit_once('.'))
        .map(|(ns, el)| (ns.to_string(), el.to_string()))
        .collect();
    // The protocol crate's signing callback cannot fail: a refusal is kept aside and the response thrown away.
    let mut refused: Option<SignerError> = None;
    let bytes = mdoc::device_response(doc, &items, &st, |tbs| {
        key.sign_es256(SignPurpose::DeviceAuth, tbs).unwrap_or_else(|e| {
            refused = Some(e);
            Vec::new()
        })
    });
    if let Some(e) = refused {
        return Err(crate::signer::refusal(&e));
    }
    Ok(b64(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use walletd_jose::{EcKey, b64_decode};

    fn stored() -> (StoredCredential, IssuerSigned) {
        let f: Value = serde_json::from_str(include_str!("../../protocol/src/mdoc/fixture.json")).unwrap();
        let c = StoredCredential::new("m1", f["credential"].as_str().unwrap());
        let doc = as_mdoc(&c).unwrap();
        (c, doc)
    }

    #[test]
    fn dcql_for_mdocs() {
        let (c, doc) = stored();
        let q = json!({"id": "mdl", "format": "mso_mdoc", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"},
            "claims": [{"path": ["org.iso.18013.5.1", "age_over_18"], "intent_to_retain": false},
                       {"path": ["org.iso.18013.5.1", "given_name"], "values": ["Erika"]}]});
        assert_eq!(
            match_one(&q, &doc).unwrap(),
            ["org.iso.18013.5.1.age_over_18", "org.iso.18013.5.1.given_name"]
        );
        let m = crate::dcql::match_query(&json!({"credentials": [q.clone()]}), std::slice::from_ref(&c)).unwrap();
        assert_eq!(m[0].credential_id, "m1");
        for bad in [
            json!({"meta": {"doctype_value": "eu.europa.ec.eudi.pid.1"}}),
            json!({"claims": [{"path": ["org.iso.18013.5.1", "portrait"]}]}),
            json!({"claims": [{"path": ["org.iso.18013.5.1", "given_name"], "values": ["Max"]}]}),
            json!({"claims": [{"path": ["given_name"]}]}),
            json!({"format": "dc+sd-jwt"}),
        ] {
            let mut q1 = q.clone();
            q1.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
            assert!(match_one(&q1, &doc).is_none(), "{bad}");
        }
        let sets = json!({"id": "mdl", "format": "mso_mdoc", "claims": [
            {"id": "p", "path": ["org.iso.18013.5.1", "portrait"]}, {"id": "a", "path": ["org.iso.18013.5.1", "age_over_18"]}],
            "claim_sets": [["p"], ["a"]]});
        assert_eq!(match_one(&sets, &doc).unwrap(), ["org.iso.18013.5.1.age_over_18"]);
        // An SD-JWT is not an mdoc.
        assert!(as_mdoc(&StoredCredential::new("s", "a.b.c~")).is_none());
    }

    #[test]
    fn device_response_discloses_only_the_chosen_elements() {
        let (_, doc) = stored();
        let key = EcKey::generate();
        let m = MdocDeviceAuthRequest::openid4vp("x509_san_dns:v", "n", "https://v/r", None, vec![]).unwrap();
        let params = json!({ "mdoc": m });
        let p = present(&doc, &["org.iso.18013.5.1.age_over_18".into()], &key, &params).unwrap();
        let resp = mdoc::decode(&b64_decode(&p).unwrap(), &Limits::default()).unwrap();
        let d = &mdoc::map_get(&resp, "documents").unwrap().as_array().unwrap()[0];
        let shown =
            mdoc::issuer_signed_from_value(mdoc::map_get(d, "issuerSigned").unwrap(), &Limits::default()).unwrap();
        assert_eq!(shown.element_names()["org.iso.18013.5.1"], ["age_over_18"]);
        shown.verify_digests().unwrap();
        let mut bad = params.clone();
        bad["mdoc"]["session_transcript"] = json!("AAAA");
        assert!(present(&doc, &[], &key, &bad).is_err());
        assert!(present(&doc, &[], &key, &json!({})).is_err());
    }
}
