//! HTTP helpers of the auth routes: router state, error mapping and the client address. The pieces every role
//! shares (JSON body, headers, tenant check) are in `walletd_common::http`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use walletd_common::http::{ApiError, Authenticator, TENANT_HEADER};
use walletd_common::limits::Limited;
use walletd_common::tenant::{TenantRefusal, resolve_tenant_id};
use walletd_db::StoreError;

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
        HttpError(e.into())
    }
}

/// A shared HTTP error (JSON body, headers, tenant check, store failure) in the service's terms, so the auth
/// service answers exactly what every other role answers.
impl From<ApiError> for AuthError {
    fn from(e: ApiError) -> Self {
        let kind = match e.status {
            StatusCode::UNAUTHORIZED => ErrorKind::Unauthorized,
            StatusCode::FORBIDDEN => ErrorKind::Forbidden,
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::CONFLICT => ErrorKind::Conflict,
            StatusCode::PRECONDITION_FAILED => ErrorKind::PreconditionFailed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::PayloadTooLarge,
            StatusCode::TOO_MANY_REQUESTS => ErrorKind::TooManyRequests,
            StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
            s if s.is_server_error() => ErrorKind::Internal,
            _ => ErrorKind::BadRequest,
        };
        let mut error = AuthError::new(kind, e.code, e.message);
        error.retry_after = e.retry_after;
        error
    }
}

/// A spent rate-limit budget (429 with `Retry-After`).
impl From<Limited> for AuthError {
    fn from(l: Limited) -> Self {
        ApiError::from(l).into()
    }
}

/// Database failures through the one `StoreError` mapping (`walletd_db`): 404/409/403 as such, 503 when transient.
impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// An unknown or disabled tenant, answered as every role answers it.
impl From<TenantRefusal> for AuthError {
    fn from(r: TenantRefusal) -> Self {
        ApiError::from(r).into()
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
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = match e.details.map(|d| *d) {
            // The OIDC gate's 401 carries `oidc_config` beside `error` and `message`, as the client expects.
            Some(serde_json::Value::Object(mut extra)) => {
                extra.insert("error".into(), e.code.into());
                extra.insert("message".into(), e.message.into());
                (status, axum::Json(serde_json::Value::Object(extra))).into_response()
            }
            _ => {
                let mut api = ApiError::new(status, e.code, e.message);
                api.retry_after = e.retry_after;
                api.into_response()
            }
        };
        if let Some(etag) = e.current_etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
            response.headers_mut().insert(ETAG_HEADER, etag);
        }
        response
    }
}

/// Spends one request of the client address's ceremony budget (`auth.rate_limit_per_ip`, or the override of the
/// tenant named by `X-Tenant-ID`) before the handler runs: 429 `rate_limited` with `Retry-After` once spent. The
/// address is the TCP peer, or the client `X-Forwarded-For` names when the peer is a trusted proxy
/// (`server.trusted_proxies`).
pub struct CeremonyBudget;

impl FromRequestParts<AuthState> for CeremonyBudget {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AuthState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let ip = state.service.client_ip(peer, &parts.headers);
        let tenant = resolve_tenant_id(None, parts.headers.get(TENANT_HEADER).and_then(|v| v.to_str().ok()));
        state.service.check_ip(ip, tenant).await?;
        Ok(CeremonyBudget)
    }
}
