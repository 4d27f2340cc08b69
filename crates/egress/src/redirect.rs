//! The redirect decision: a pure function from (current request, response) to the next hop.
//!
//! Redirects are never followed by the HTTP stack. For each 301/302/303/307/308 with a `Location`, the client
//! calls [`next_hop`], then runs the full URL and address checks again on the new URL.

use reqwest::{Method, StatusCode};
use url::{Origin, Url};

use crate::error::{EgressError, Rule};
use crate::policy::Policy;

/// What to send to the next hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// The absolute target.
    pub url: Url,
    /// Method to use (303, and 301/302 after POST, switch to GET).
    pub method: Method,
    /// Whether the request body is sent again (only 307/308 to the same origin).
    pub keep_body: bool,
    /// Whether `Authorization`/`Cookie`/`Proxy-Authorization` may be sent: only to the origin of the first
    /// request.
    pub keep_credentials: bool,
}

/// Whether `status` is a redirect the guard follows.
pub fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Decides the next hop of a redirect from `current` (requested with `method`, with or without a body) to
/// `location`. `first_origin` is the origin of the call's first request. Applies the scheme rules, the
/// https-to-http rule, the 307/308 body rule and the IP-literal rules (names are resolved and checked by the
/// caller).
pub fn next_hop(
    policy: &Policy,
    current: &Url,
    method: &Method,
    status: StatusCode,
    location: &str,
    has_body: bool,
    first_origin: &Origin,
) -> Result<NextHop, EgressError> {
    // Only from a URL the guard could have requested. The client never holds another, but the function is public
    // and fuzzed: joining onto a `file:` base with a drive-letter path reaches a debug assertion inside the `url`
    // crate (2.5.8, `Parser::parse_path`), which the fuzz smoke run hit (fuzz target egress_url_policy).
    policy.check_scheme(current.scheme()).map_err(EgressError::Blocked)?;
    let url = current
        .join(location)
        .map_err(|e| EgressError::InvalidUrl(format!("redirect Location: {e}")))?;
    if current.scheme() == "https" && url.scheme() == "http" {
        return Err(EgressError::Blocked(Rule::RedirectDowngrade));
    }
    policy.check_url(&url)?;
    let same_origin = url.origin() == current.origin();
    let (method, keep_body) = match status.as_u16() {
        307 | 308 => {
            if has_body && !same_origin {
                return Err(EgressError::Blocked(Rule::RedirectBodyCrossOrigin));
            }
            (method.clone(), has_body)
        }
        303 if *method != Method::HEAD => (Method::GET, false),
        301 | 302 if *method == Method::POST => (Method::GET, false),
        _ => (method.clone(), false),
    };
    let keep_credentials = url.origin() == *first_origin;
    Ok(NextHop {
        url,
        method,
        keep_body: keep_body && has_body,
        keep_credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EgressConfig;

    fn policy() -> Policy {
        Policy::new(&EgressConfig::default())
    }

    fn hop(cur: &str, loc: &str, status: u16, method: Method, body: bool) -> Result<NextHop, EgressError> {
        let cur = Url::parse(cur).unwrap();
        let origin = cur.origin();
        next_hop(
            &policy(),
            &cur,
            &method,
            StatusCode::from_u16(status).unwrap(),
            loc,
            body,
            &origin,
        )
    }

    #[test]
    fn a_redirect_from_a_scheme_the_guard_never_requests_is_refused() {
        // The fuzz smoke run's crash input: its base and Location, which panicked in the `url` crate when joined.
        let e = hop("file:b:qidida/%0`\0\x12q:/`q//b:", "../\n ", 302, Method::GET, false).unwrap_err();
        assert!(
            matches!(e, EgressError::Blocked(Rule::Scheme(ref s)) if s == "file"),
            "{e:?}"
        );
    }

    #[test]
    fn relative_same_origin_keeps_everything_on_307() {
        let h = hop("https://a.example/x", "/y", 307, Method::POST, true).unwrap();
        assert_eq!(h.url.as_str(), "https://a.example/y");
        assert_eq!(h.method, Method::POST);
        assert!(h.keep_body && h.keep_credentials);
    }

    #[test]
    fn cross_origin_drops_credentials() {
        let h = hop("https://a.example/x", "https://b.example/y", 302, Method::GET, false).unwrap();
        assert!(!h.keep_credentials);
        // Another port is another origin.
        let h = hop(
            "https://a.example/x",
            "https://a.example:8443/y",
            302,
            Method::GET,
            false,
        )
        .unwrap();
        assert!(!h.keep_credentials);
    }

    #[test]
    fn post_becomes_get_on_303_and_302() {
        for s in [301, 302, 303] {
            let h = hop("https://a.example/x", "/y", s, Method::POST, true).unwrap();
            assert_eq!(h.method, Method::GET, "{s}");
            assert!(!h.keep_body);
        }
    }

    #[test]
    fn refusals() {
        let r = |e: EgressError| e.rule().map(|r| r.label());
        assert_eq!(
            r(hop("https://a.example/", "http://a.example/", 302, Method::GET, false).unwrap_err()),
            Some("redirect_downgrade")
        );
        assert_eq!(
            r(hop("https://a.example/", "https://b.example/", 308, Method::POST, true).unwrap_err()),
            Some("redirect_body_cross_origin")
        );
        assert_eq!(
            r(hop("https://a.example/", "file:///etc/passwd", 302, Method::GET, false).unwrap_err()),
            Some("scheme")
        );
        assert_eq!(
            r(hop("https://a.example/", "https://10.0.0.1/", 302, Method::GET, false).unwrap_err()),
            Some("private")
        );
    }
}
