//! The authorization request (OpenID4VP 1.0 §5): where it comes from (URL forms, request_uri, inline), the request
//! object's verification per client_id prefix, and the rules every request must follow. Pure functions (no I/O)
//! except what `mod.rs` does around them, so the parser can be fuzzed.

use serde_json::{Map, Value};
use walletd_jose::x5c;
use walletd_jose::{self as jose, DecodedJwt, b64_decode};

use super::attestation::{self, Attestation};
use super::{did, keys};
use crate::RegisteredVerifier;

/// The `aud` of a request object when the wallet has no issuer identifier of its own (static discovery).
pub const SELF_ISSUED_AUD: &str = "https://self-issued.me/v2";

/// How the client identifier is authenticated (its prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `x509_san_dns:` (the leaf's SAN dNSName equals the identifier).
    X509SanDns,
    /// `x509_hash:` (SHA-256 of the leaf's DER equals the identifier).
    X509Hash,
    /// `redirect_uri:` (unsigned requests only; responses go to the identifier itself).
    RedirectUri,
    /// `decentralized_identifier:` or a bare `did:`.
    Did,
    /// `verifier_attestation:`.
    VerifierAttestation,
    /// No prefix: a verifier registered with the tenant.
    PreRegistered,
    /// A prefix the engine does not know (`openid_federation:`, `origin:`...).
    Other,
}

impl Prefix {
    /// The prefix of `client_id` and the identifier after it.
    pub fn split(client_id: &str) -> (Prefix, &str) {
        const KNOWN: [(&str, Prefix); 5] = [
            ("x509_san_dns:", Prefix::X509SanDns),
            ("x509_hash:", Prefix::X509Hash),
            ("redirect_uri:", Prefix::RedirectUri),
            ("decentralized_identifier:", Prefix::Did),
            ("verifier_attestation:", Prefix::VerifierAttestation),
        ];
        for (p, kind) in KNOWN {
            if let Some(rest) = client_id.strip_prefix(p) {
                return (kind, rest);
            }
        }
        if client_id.starts_with("did:") {
            return (Prefix::Did, client_id);
        }
        // Prefixes are `name:` with a lowercase name; an https URL or a plain name is a pre-registered client.
        match client_id.split_once(':') {
            Some((name, _))
                if !name.is_empty()
                    && name != "https"
                    && name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '-') =>
            {
                (Prefix::Other, client_id)
            }
            _ => (Prefix::PreRegistered, client_id),
        }
    }

    /// The name the client is shown (`verifier.client_id_scheme`).
    pub fn scheme_name(self) -> &'static str {
        match self {
            Prefix::X509SanDns => "x509_san_dns",
            Prefix::X509Hash => "x509_hash",
            Prefix::RedirectUri => "redirect_uri",
            Prefix::Did => "decentralized_identifier",
            Prefix::VerifierAttestation => "verifier_attestation",
            Prefix::PreRegistered => "pre-registered",
            Prefix::Other => "other",
        }
    }
}

/// Where the request's parameters are.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Parameters in the URL or query string (may still hold `request` by value).
    Params(Map<String, Value>),
    /// A `request_uri` to fetch; `post` when `request_uri_method=post`; the `client_id` next to it, if any.
    Reference {
        /// Where the request object is.
        uri: String,
        /// POST with wallet metadata instead of GET.
        post: bool,
        /// The `client_id` in the URL.
        client_id: Option<String>,
    },
}

/// Reads a `flow_start.request_uri` value: an `openid4vp://`, `haip://`, `haip-vp://` or https URL with the
/// request's parameters, or a raw query string. An https URL without request parameters is a request_uri.
pub fn parse_start(request_uri: &str, client_id: Option<&str>) -> Result<Source, String> {
    let s = request_uri.trim();
    if s.is_empty() {
        return Err("the request is empty".into());
    }
    let lower = s.to_ascii_lowercase();
    let is_url = [
        "openid4vp:",
        "haip:",
        "haip-vp:",
        "https:",
        "http:",
        "mdoc-openid4vp:",
        "eudi-openid4vp:",
    ]
    .iter()
    .any(|p| lower.starts_with(p));
    let query = if is_url {
        s.split_once('?').map(|(_, q)| q).unwrap_or("")
    } else {
        s.trim_start_matches('?')
    };
    let query = query.split('#').next().unwrap_or("");
    let mut params = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        params.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    let has_request_params = ["client_id", "request_uri", "request", "response_type", "dcql_query"]
        .iter()
        .any(|k| params.contains_key(*k));
    if !has_request_params {
        if lower.starts_with("https:") || lower.starts_with("http:") {
            return Ok(Source::Reference {
                uri: s.to_string(),
                post: false,
                client_id: client_id.map(str::to_string),
            });
        }
        return Err("the request has no OpenID4VP parameters".into());
    }
    if let Some(cid) = client_id {
        params
            .entry("client_id")
            .or_insert_with(|| Value::String(cid.to_string()));
    }
    if let Some(uri) = params.get("request_uri").and_then(Value::as_str) {
        let method = params
            .get("request_uri_method")
            .and_then(Value::as_str)
            .unwrap_or("get");
        let post = match method.to_ascii_lowercase().as_str() {
            "get" => false,
            "post" => true,
            _ => return Err("request_uri_method must be get or post".into()),
        };
        return Ok(Source::Reference {
            uri: uri.to_string(),
            post,
            client_id: params.get("client_id").and_then(Value::as_str).map(str::to_string),
        });
    }
    Ok(Source::Params(params))
}

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
        (Some(q), None) => super::dcql::check(q)?,
        (None, Some(pd)) => super::pe::check(pd)?,
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_forms() {
        for scheme in [
            "openid4vp://",
            "haip://",
            "haip-vp://",
            "https://wallet.example/authorize",
        ] {
            let s = parse_start(
                &format!("{scheme}?client_id=x509_hash%3Aabc&request_uri=https%3A%2F%2Fv.example%2Fr%2F1"),
                None,
            )
            .unwrap();
            assert_eq!(
                s,
                Source::Reference {
                    uri: "https://v.example/r/1".into(),
                    post: false,
                    client_id: Some("x509_hash:abc".into())
                }
            );
        }
        let s = parse_start("client_id=a&request_uri=https://v/r&request_uri_method=post", None).unwrap();
        assert!(matches!(s, Source::Reference { post: true, .. }));
        assert!(matches!(
            parse_start("https://v.example/request/1", Some("c")).unwrap(),
            Source::Reference { post: false, .. }
        ));
        assert!(matches!(
            parse_start("openid4vp://?client_id=redirect_uri%3Ahttps%3A%2F%2Fv&nonce=n", None).unwrap(),
            Source::Params(_)
        ));
        assert!(parse_start("openid4vp://", None).is_err());
        assert!(parse_start("client_id=a&request_uri=x&request_uri_method=put", None).is_err());
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            Prefix::split("x509_san_dns:v.example"),
            (Prefix::X509SanDns, "v.example")
        );
        assert_eq!(Prefix::split("did:web:v.example").0, Prefix::Did);
        assert_eq!(Prefix::split("https://v.example").0, Prefix::PreRegistered);
        assert_eq!(Prefix::split("verifier-1").0, Prefix::PreRegistered);
        assert_eq!(Prefix::split("openid_federation:https://v").0, Prefix::Other);
    }

    fn base() -> Map<String, Value> {
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
