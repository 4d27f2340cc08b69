//! The authorization request (OpenID4VP 1.0 §5): where it comes from ([`source`]: URL forms, request_uri, inline),
//! the request object's verification per client_id prefix ([`authenticate`], [`prefix`]), and the rules every
//! request must follow (here). Pure functions (no I/O) except what `resolve.rs` does around them, so the parser can
//! be fuzzed.

mod authenticate;
mod prefix;
mod source;

use serde_json::Value;
use walletd_protocol::oid4vp::{dcql, pe};

pub use authenticate::{Authenticated, Authority, SELF_ISSUED_AUD, authenticate_inline, verify_request_object};
pub use prefix::Prefix;
pub use source::{Source, parse_start};

use walletd_jose::b64_decode;

/// Which response mode and where the response goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// `direct_post`: a form with `vp_token`.
    DirectPost,
    /// `direct_post.jwt`: a form with `response=<JWE>`.
    DirectPostJwt,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The full client identifier (with prefix): the KB-JWT audience.
    pub client_id: String,
    /// Its prefix.
    pub prefix: Prefix,
    /// The verifier's nonce.
    pub nonce: String,
    /// `state`, echoed in the response.
    pub state: Option<String>,
    /// How the response is sent.
    pub response_mode: ResponseMode,
    /// Where it is sent.
    pub response_uri: String,
    /// A DCQL query.
    pub dcql_query: Option<Value>,
    /// A Presentation Exchange definition.
    pub presentation_definition: Option<Value>,
    /// `client_metadata` (name, logo, jwks, encryption values).
    pub client_metadata: Value,
    /// `transaction_data`, the original base64url strings.
    pub transaction_data: Vec<String>,
    /// The x5c chain of a signed request.
    pub x5c: Vec<Vec<u8>>,
    /// How the verifier is authenticated beyond the request object (see [`Authority`]).
    pub authority: Authority,
}

/// Applies the request rules (OpenID4VP 1.0 §5 and §8.2) to authenticated parameters.
pub fn validate(a: Authenticated) -> Result<AuthRequest, String> {
    let c = &a.claims;
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    let client_id = s("client_id").ok_or("the request has no client_id")?;
    let (prefix, id) = Prefix::split(&client_id);
    let response_type = s("response_type").unwrap_or_default();
    if !response_type.split(' ').any(|t| t == "vp_token") {
        return Err("response_type must be vp_token".into());
    }
    let nonce = s("nonce").filter(|n| !n.is_empty()).ok_or("the request has no nonce")?;
    let response_mode = match s("response_mode").as_deref() {
        Some("direct_post") => ResponseMode::DirectPost,
        Some("direct_post.jwt") => ResponseMode::DirectPostJwt,
        Some(m) => {
            let m: String = m.chars().take(30).collect();
            return Err(format!(
                "response_mode {m} is not supported (direct_post, direct_post.jwt)"
            ));
        }
        None => return Err("the request has no response_mode (the engine answers with direct_post only)".into()),
    };
    if c.contains_key("redirect_uri") {
        return Err("redirect_uri must not be used with direct_post".into());
    }
    let response_uri = s("response_uri").ok_or("direct_post needs a response_uri")?;
    let parsed = url::Url::parse(&response_uri).map_err(|_| "response_uri is not a URL")?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err("response_uri must be an https URL".into());
    }
    if prefix == Prefix::RedirectUri && id != response_uri {
        return Err("a redirect_uri client_id must equal the response_uri".into());
    }
    // OpenID4VP 1.0 (x509_san_dns): unless the wallet keeps a list of client ids allowed to choose freely (this
    // engine keeps none), the host of the URI the response goes to must be the certificate's dNSName.
    if prefix == Prefix::X509SanDns && !parsed.host_str().is_some_and(|h| h.eq_ignore_ascii_case(id)) {
        return Err("the response_uri's host is not the x509_san_dns client_id's DNS name".into());
    }
    if let Authority::Attestation(att) = &a.authority
        && let Some(uris) = &att.redirect_uris
        && !uris.iter().any(|u| u == &response_uri)
    {
        return Err("the response_uri is not among the verifier attestation's redirect_uris".into());
    }
    let dcql_query = c.get("dcql_query").cloned().filter(|v| !v.is_null());
    let presentation_definition = c.get("presentation_definition").cloned().filter(|v| !v.is_null());
    if c.contains_key("presentation_definition_uri") {
        return Err(
            "presentation_definition_uri is not supported (OpenID4VP 1.0 does not define it): send dcql_query".into(),
        );
    }
    match (&dcql_query, &presentation_definition) {
        (Some(q), None) => dcql::check(q)?,
        (None, Some(pd)) => pe::check(pd)?,
        (Some(_), Some(_)) => return Err("the request has both dcql_query and presentation_definition".into()),
        (None, None) => return Err("the request has neither dcql_query nor presentation_definition".into()),
    }
    let transaction_data = match c.get("transaction_data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for i in items {
                let t = i.as_str().ok_or("transaction_data entries must be strings")?;
                let decoded = b64_decode(t).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                if decoded.is_none_or(|d| d.get("type").is_none()) {
                    return Err("a transaction_data entry is not base64url JSON with a type".into());
                }
                out.push(t.to_string());
            }
            out
        }
        Some(_) => return Err("transaction_data must be an array".into()),
    };
    let client_metadata = c.get("client_metadata").cloned().unwrap_or(Value::Null);
    Ok(AuthRequest {
        client_id,
        prefix,
        nonce,
        state: s("state"),
        response_mode,
        response_uri,
        dcql_query,
        presentation_definition,
        client_metadata,
        transaction_data,
        x5c: a.x5c,
        authority: a.authority,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::{Map, json};
    use walletd_jose as jose;

    pub(crate) fn base() -> Map<String, Value> {
        let v = json!({"client_id": "redirect_uri:https://v.example/post", "response_type": "vp_token",
            "response_mode": "direct_post", "response_uri": "https://v.example/post", "nonce": "n",
            "dcql_query": {"credentials": [{"id": "pid", "format": "dc+sd-jwt"}]}});
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rules() {
        let ok = |m: Map<String, Value>| {
            validate(Authenticated {
                claims: m,
                x5c: vec![],
                signed: false,
                authority: Authority::Done,
            })
        };
        assert!(ok(base()).is_ok());
        let mut m = base();
        m.remove("nonce");
        assert!(ok(m).unwrap_err().contains("nonce"));
        let mut m = base();
        m.insert("redirect_uri".into(), json!("https://v.example/r"));
        assert!(ok(m).unwrap_err().contains("redirect_uri"));
        let mut m = base();
        m.remove("response_uri");
        assert!(ok(m).is_err());
        let mut m = base();
        m.insert("response_uri".into(), json!("https://other.example/post"));
        assert!(ok(m).is_err());
        let mut m = base();
        m.insert("transaction_data".into(), json!([jose::b64(r#"{"type":"t"}"#)]));
        assert_eq!(ok(m).unwrap().transaction_data.len(), 1);
    }

    #[test]
    fn x509_san_dns_response_uri_host() {
        let mut m = base();
        m.insert("client_id".into(), json!("x509_san_dns:v.example"));
        let a = |m: Map<String, Value>| Authenticated {
            claims: m,
            x5c: vec![],
            signed: true,
            authority: Authority::Done,
        };
        assert!(validate(a(m.clone())).is_ok());
        m.insert("response_uri".into(), json!("https://other.example/post"));
        assert!(validate(a(m)).unwrap_err().contains("host"));
    }
}
