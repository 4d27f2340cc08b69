//! Request and response header helpers shared by the roles' handlers.

use std::net::IpAddr;

use axum::http::HeaderMap;
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.0.0.2");
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // Not a trusted peer (or nothing trusted): the header is ignored.
        assert_eq!(
            client_ip(ip("192.0.2.9"), &xff("198.51.100.1"), &trusted),
            ip("192.0.2.9")
        );
        assert_eq!(client_ip(proxy, &xff("198.51.100.1"), &[]), proxy);
        // The right-most untrusted hop wins; what the client prepended does not.
        assert_eq!(
            client_ip(proxy, &xff("6.6.6.6, 198.51.100.1"), &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(proxy, &xff("198.51.100.1, 10.0.0.7"), &trusted),
            ip("198.51.100.1")
        );
        // Garbage stops at the last trusted hop; no header is the peer.
        assert_eq!(client_ip(proxy, &xff("nonsense, 10.0.0.7"), &trusted), ip("10.0.0.7"));
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }
}
