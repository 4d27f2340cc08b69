//! HTTP helpers shared by the service and compatibility routes: error mapping, a JSON body extractor that answers
//! in the error shape, the client address, and `Cache-Control: no-store`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use walletd_common::http::{ApiError, Authenticator, TENANT_HEADER};

use crate::error::{AuthError, ErrorKind};
use crate::service::AuthService;

/// State of the auth routers.
#[derive(Clone)]
pub struct AuthState {
    pub service: Arc<AuthService>,
    pub authenticator: Authenticator,
}

impl FromRef<AuthState> for Authenticator {
    fn from_ref(s: &AuthState) -> Authenticator {
        s.authenticator.clone()
    }
}

/// The private-data ETag header.
pub const ETAG_HEADER: &str = "x-private-data-etag";

/// An [`AuthError`] as an HTTP response.
pub struct HttpError(pub AuthError);

impl From<AuthError> for HttpError {
    fn from(e: AuthError) -> Self {
        HttpError(e)
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        let kind = match e.status {
            StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
            StatusCode::FORBIDDEN => ErrorKind::Forbidden,
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
            _ => ErrorKind::BadRequest,
        };
        HttpError(AuthError::new(kind, e.code, e.message))
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = match e.kind {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut response = ApiError::new(status, e.code, e.message).into_response();
        if let Some(etag) = e.current_etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
            response.headers_mut().insert(ETAG_HEADER, etag);
        }
        response
    }
}

/// A JSON request body; bad JSON is a 400 (413 when too large) in the error shape, and the message never echoes
/// the input.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                HttpError(AuthError::new(
                    ErrorKind::PayloadTooLarge,
                    "payload_too_large",
                    "request body is too large",
                ))
            } else {
                HttpError(AuthError::bad_request(
                    "malformed_body",
                    "the request body could not be read",
                ))
            }
        })?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error_free(&mut de).map(JsonBody).map_err(|e| {
            let message = if e.is_syntax() || e.is_eof() {
                "the request body is not valid JSON".to_string()
            } else {
                // Line/column only: serde's message may quote the offending value.
                format!(
                    "the request body has the wrong shape (line {}, column {})",
                    e.line(),
                    e.column()
                )
            };
            HttpError(AuthError::bad_request("malformed_json", message))
        })
    }
}

fn serde_path_to_error_free<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, serde_json::Error> {
    let v = T::deserialize(&mut *de)?;
    de.end()?;
    Ok(v)
}

/// The client's address (the TCP peer). Limits key on it; behind a proxy every client shares the proxy's.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}

/// The tenant an unauthenticated request names (`X-Tenant-ID`, also set by the `/t/{tenant}` alias).
pub fn tenant_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(TENANT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// A header's value as text.
pub fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Middleware: every auth response is per user (tokens, account data) and must never be cached.
pub async fn no_store(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
