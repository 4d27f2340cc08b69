//! The request object's verification by the prefix of its `client_id` (x509 certificates, `redirect_uri:`, DIDs,
//! verifier attestations, pre-registered clients) and the claims every request object must carry right.

use serde_json::{Map, Value};

use super::prefix::Prefix;
use crate::RegisteredVerifier;
use crate::oid4vp::attestation::{self, Attestation};
use crate::oid4vp::{did, keys};
use walletd_jose::x5c;
use walletd_jose::{self as jose, DecodedJwt};

/// The `aud` of a request object when the wallet has no issuer identifier of its own (static discovery).
pub const SELF_ISSUED_AUD: &str = "https://self-issued.me/v2";

/// A request object or the inline parameters, checked for authenticity: the claims, the x5c chain, and whether
/// it was signed.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The request's parameters.
    pub claims: Map<String, Value>,
    /// The x5c chain of a signed request (DER, leaf first).
    pub x5c: Vec<Vec<u8>>,
    /// Whether the request object was signed (and verified).
    pub signed: bool,
    /// What authenticates the verifier beyond the request object itself.
    pub authority: Authority,
}

/// How the client identifier is (or is still to be) authenticated beyond what the pure checks could do.
#[derive(Debug, Clone, Default)]
pub enum Authority {
    /// Nothing more: x509 prefixes, `redirect_uri:`.
    #[default]
    Done,
    /// `pre-registered`: the tenant's registration is still to be looked up (step 1, [`Authority::Registered`]).
    Registration,
    /// The registration found for a pre-registered client.
    Registered(RegisteredVerifier),
    /// A verified verifier attestation; its issuer's trust is evaluated in step 2.
    Attestation(Attestation),
    /// A DID client: `key` is the verification method that signed the request, once known (`did:jwk` at once;
    /// other methods after the PDP resolved the document, then `jwt` is verified with it).
    Did {
        /// The DID (client_id without the prefix).
        did: String,
        /// The request object's `kid` (a DID URL of `did`).
        kid: String,
        /// The verified signing key.
        key: Option<Value>,
        /// The request object, for the signature check after resolution.
        jwt: Box<DecodedJwt>,
    },
}

/// Verifies a request object (`typ oauth-authz-req+jwt`) by the prefix of its `client_id`.
/// `url_client_id` is the client_id next to the request_uri; `wallet_nonce` what the wallet POSTed; `now` seconds.
pub fn verify_request_object(
    text: &str,
    url_client_id: Option<&str>,
    wallet_nonce: Option<&str>,
    now: u64,
) -> Result<Authenticated, String> {
    let text = text.trim();
    let (header, claims, decoded) = if text.starts_with('{') {
        // Plain JSON parameters are an unsigned request.
        let claims: Value = serde_json::from_str(text).map_err(|_| "the request object is not valid JSON")?;
        (Value::Null, claims, None)
    } else {
        let d = unsigned_or_signed(text)?;
        (d.header.clone(), d.claims.clone(), Some(d))
    };
    let Value::Object(claims) = claims else {
        return Err("the request object's claims are not an object".into());
    };
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
    let signed = decoded.is_some() && alg != "none";
    if signed && header.get("typ").and_then(Value::as_str) != Some("oauth-authz-req+jwt") {
        return Err("the request object's typ is not oauth-authz-req+jwt".into());
    }
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .ok_or("the request object has no client_id")?;
    if let Some(u) = url_client_id
        && u != client_id
    {
        return Err("the client_id of the request URL differs from the request object's".into());
    }
    if let Some(exp) = claims.get("exp") {
        let exp = exp.as_u64().ok_or("the request object's exp is not a number")?;
        // A minute of clock skew.
        if exp.saturating_add(60) < now {
            return Err("the request object has expired".into());
        }
    }
    if let Some(aud) = claims.get("aud") {
        let ok = match aud {
            Value::String(s) => s == SELF_ISSUED_AUD,
            Value::Array(a) => a.iter().any(|v| v.as_str() == Some(SELF_ISSUED_AUD)),
            _ => false,
        };
        if !ok {
            return Err("the request object is addressed to another audience".into());
        }
    }
    if let Some(sent) = wallet_nonce
        && claims.get("wallet_nonce").and_then(Value::as_str) != Some(sent)
    {
        return Err("the request object does not echo the wallet_nonce".into());
    }
    let x5c = x5c::chain_from_header(&header);
    let (prefix, id) = Prefix::split(client_id);
    let mut authority = Authority::Done;
    match prefix {
        Prefix::X509SanDns | Prefix::X509Hash => {
            let d = decoded
                .as_ref()
                .filter(|_| signed)
                .ok_or("an x509 client_id needs a signed request")?;
            let leaf = x5c.first().ok_or("the signed request has no x5c certificate")?;
            keys::verify_with_certificate(d, leaf)?;
            if prefix == Prefix::X509SanDns {
                let names = x5c::san_dns_names(leaf).ok_or("the x5c leaf certificate cannot be parsed")?;
                if !names.iter().any(|n| n.eq_ignore_ascii_case(id)) {
                    return Err("the certificate's SAN dNSName does not match the client_id".into());
                }
            } else if x5c::certificate_hash(leaf) != id {
                return Err("the certificate's hash does not match the client_id".into());
            }
        }
        Prefix::RedirectUri => {
            if signed {
                return Err("a redirect_uri client_id must not sign its request".into());
            }
        }
        Prefix::Did => {
            if !id.starts_with("did:") || id.len() <= "did:".len() {
                return Err("a decentralized_identifier client_id must be a DID".into());
            }
            let d = decoded
                .as_ref()
                .filter(|_| signed)
                .ok_or("a DID client_id needs a signed request")?;
            let kid = header
                .get("kid")
                .and_then(Value::as_str)
                .ok_or("the DID client's request object has no kid")?;
            did::check_kid(id, kid)?;
            let key = if id.starts_with("did:jwk:") {
                let key = did::did_jwk_key(id)?;
                keys::verify_with_jwk(d, &key, "the request object (did:jwk key)")?;
                Some(key)
            } else {
                None
            };
            authority = Authority::Did {
                did: id.to_string(),
                kid: kid.to_string(),
                key,
                jwt: Box::new(d.clone()),
            };
        }
        Prefix::VerifierAttestation => {
            let d = decoded
                .as_ref()
                .filter(|_| signed)
                .ok_or("a verifier_attestation client_id needs a signed request")?;
            authority = Authority::Attestation(attestation::verify(d, id, now)?);
        }
        Prefix::PreRegistered => {
            // The registration holds no key, so a signature could not be verified: see docs (OID4VP).
            if signed {
                return Err(
                    "a pre-registered verifier's request object must be unsigned (its registration has no key)".into(),
                );
            }
            authority = Authority::Registration;
        }
        Prefix::Other => return Err("the client_id prefix is not supported".into()),
    }
    Ok(Authenticated {
        claims,
        x5c,
        signed,
        authority,
    })
}

/// Inline parameters (no request object): JSON-valued members decoded; allowed for `redirect_uri:` only.
pub fn authenticate_inline(mut params: Map<String, Value>) -> Result<Authenticated, String> {
    for key in [
        "dcql_query",
        "presentation_definition",
        "client_metadata",
        "transaction_data",
    ] {
        if let Some(Value::String(s)) = params.get(key) {
            let v: Value = serde_json::from_str(s).map_err(|_| format!("{key} is not valid JSON"))?;
            params.insert(key.to_string(), v);
        }
    }
    let text = Value::Object(params).to_string();
    verify_request_object(&text, None, None, 0)
}

fn unsigned_or_signed(text: &str) -> Result<jose::DecodedJwt, String> {
    // An unsigned JWT ends with an empty signature (`h.p.`), which decode_jwt accepts as zero bytes.
    let d = jose::decode_jwt(text).ok_or("the request object is not a JWT")?;
    let alg = d.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    if alg == "none" && !d.signature.is_empty() {
        return Err("an unsigned request object carries a signature".into());
    }
    if alg != "none" && d.signature.is_empty() {
        return Err("the request object has no signature".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid4vp::request::tests::base;
    use crate::oid4vp::request::validate;
    use serde_json::json;

    #[test]
    fn request_objects() {
        let claims = Value::Object(base());
        let unsigned = format!("{}.{}.", jose::b64(r#"{"alg":"none"}"#), jose::b64(claims.to_string()));
        assert!(verify_request_object(&unsigned, Some("redirect_uri:https://v.example/post"), None, 0).is_ok());
        assert!(
            verify_request_object(&unsigned, Some("redirect_uri:https://x"), None, 0)
                .unwrap_err()
                .contains("differs")
        );
        let mut c = base();
        c.insert("exp".into(), json!(100));
        let expired = format!(
            "{}.{}.",
            jose::b64(r#"{"alg":"none"}"#),
            jose::b64(Value::Object(c).to_string())
        );
        assert!(
            verify_request_object(&expired, None, None, 1000)
                .unwrap_err()
                .contains("expired")
        );
        // A signed redirect_uri request is refused, and an x509 request without x5c too.
        let k = jose::EcKey::generate();
        let signed = k.sign_jwt(&json!({"typ": "oauth-authz-req+jwt"}), &claims);
        assert!(verify_request_object(&signed, None, None, 0).is_err());
        let mut c = base();
        c.insert("client_id".into(), json!("x509_san_dns:v.example"));
        let signed = k.sign_jwt(&json!({"typ": "oauth-authz-req+jwt"}), &Value::Object(c));
        assert!(
            verify_request_object(&signed, None, None, 0)
                .unwrap_err()
                .contains("x5c")
        );
        let mut c = base();
        c.insert("client_id".into(), json!("verifier-1"));
        let pre = format!(
            "{}.{}.",
            jose::b64(r#"{"alg":"none"}"#),
            jose::b64(Value::Object(c).to_string())
        );
        assert!(matches!(
            verify_request_object(&pre, None, None, 0).unwrap().authority,
            Authority::Registration
        ));
        let mut c = base();
        c.insert("client_id".into(), json!("verifier-1"));
        let signed = k.sign_jwt(&json!({"typ": "oauth-authz-req+jwt"}), &Value::Object(c));
        assert!(
            verify_request_object(&signed, None, None, 0)
                .unwrap_err()
                .contains("unsigned")
        );
        // did:jwk: the kid names the DID, the key in it signed the request; another key is refused.
        let did = format!("did:jwk:{}", jose::b64(k.public_jwk().to_string()));
        let mut c = base();
        c.insert("client_id".into(), json!(format!("decentralized_identifier:{did}")));
        let h = json!({"typ": "oauth-authz-req+jwt", "kid": format!("{did}#0")});
        let ok = verify_request_object(&k.sign_jwt(&h, &Value::Object(c.clone())), None, None, 0).unwrap();
        assert!(matches!(ok.authority, Authority::Did { key: Some(_), .. }));
        let other = jose::EcKey::generate().sign_jwt(&h, &Value::Object(c.clone()));
        assert!(
            verify_request_object(&other, None, None, 0)
                .unwrap_err()
                .contains("signature")
        );
        let mut not_did = base();
        not_did.insert("client_id".into(), json!("decentralized_identifier:web.example"));
        let h = json!({"typ": "oauth-authz-req+jwt", "kid": "web.example#0"});
        let e = verify_request_object(&k.sign_jwt(&h, &Value::Object(not_did)), None, None, 0).unwrap_err();
        assert!(e.contains("must be a DID"), "{e}");
        let h = json!({"typ": "oauth-authz-req+jwt", "kid": "did:jwk:else#0"});
        assert!(
            verify_request_object(&k.sign_jwt(&h, &Value::Object(c)), None, None, 0)
                .unwrap_err()
                .contains("kid")
        );
    }

    #[test]
    fn verifier_attestation_binds_the_response_uri() {
        let (issuer, verifier) = (jose::EcKey::generate(), jose::EcKey::generate());
        let att = issuer.sign_jwt(
            &json!({"typ": attestation::TYP, "jwk": issuer.public_jwk()}),
            &json!({"iss": "https://a.example", "sub": "v1", "exp": 2000, "cnf": {"jwk": verifier.public_jwk()},
                "redirect_uris": ["https://v.example/post"]}),
        );
        let request = |response_uri: &str| {
            let mut c = base();
            c.insert("client_id".into(), json!("verifier_attestation:v1"));
            c.insert("response_uri".into(), json!(response_uri));
            verifier.sign_jwt(&json!({"typ": "oauth-authz-req+jwt", "jwt": att}), &Value::Object(c))
        };
        let a = verify_request_object(&request("https://v.example/post"), None, None, 1000).unwrap();
        assert!(matches!(a.authority, Authority::Attestation(_)));
        assert!(validate(a).is_ok());
        let a = verify_request_object(&request("https://elsewhere.example/post"), None, None, 1000).unwrap();
        assert!(validate(a).unwrap_err().contains("redirect_uris"));
    }
}
