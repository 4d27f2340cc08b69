//! Where the request's parameters are: the URL forms of `flow_start.request_uri` (`openid4vp://`, `haip://`, https,
//! a raw query string), a `request_uri` to fetch, or inline parameters.

use serde_json::{Map, Value};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
