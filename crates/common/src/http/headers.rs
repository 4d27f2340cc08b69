//! Request and response header helpers shared by the roles' handlers.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

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
