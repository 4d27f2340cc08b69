//! Request and response header helpers shared by the roles' handlers.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use ipnet::IpNet;

use super::{ApiError, TENANT_HEADER};

/// A header's value as text; absent is `None`, a value that is not visible ASCII is a 400 (never silently
/// ignored: an ignored `If-Match` would turn a conditional write into an unconditional one).
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request(format!("the {name} header is not valid")))
        })
        .transpose()
}

/// The client's address for limits: the TCP `peer`, unless the peer is one of the `trusted` reverse proxies
/// (`server.trusted_proxies`); then the right-most `X-Forwarded-For` address that is not itself a trusted proxy
/// (addresses left of it were written by the client and prove nothing). Unreadable entries end the walk at the last
/// trusted hop, so a forged header never yields an address the proxies did not see.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

/// The tenant an unauthenticated request names (`X-Tenant-ID`, also set by the `/t/{tenant}` alias); blank or
/// unreadable is `None`.
pub fn tenant_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// `Cache-Control: no-store` on a response that carries per-user data (tokens, blobs, tenant lists). Usable
/// directly or as `axum::middleware::map_response(no_store)`.
pub async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_str_refuses_non_ascii_and_passes_absent() {
        let mut h = HeaderMap::new();
        assert_eq!(header_str(&h, "if-match").unwrap(), None);
        h.insert("if-match", HeaderValue::from_static("\"3\""));
        assert_eq!(header_str(&h, "if-match").unwrap(), Some("\"3\""));
        h.insert("if-match", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(header_str(&h, "if-match").unwrap_err().code, "bad_request");
    }

    #[test]
    fn tenant_header_ignores_blank() {
        let mut h = HeaderMap::new();
        h.insert(TENANT_HEADER, HeaderValue::from_static("  "));
        assert_eq!(tenant_header(&h), None);
        h.insert(TENANT_HEADER, HeaderValue::from_static(" acme "));
        assert_eq!(tenant_header(&h).as_deref(), Some("acme"));
    }
}
