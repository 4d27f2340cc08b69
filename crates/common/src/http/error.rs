//! The JSON error body every route answers with: `{"error":"<code>","message":"..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use walletd_protocol::HttpErrorCode;

/// An error answered to an HTTP client. The message is for people and never carries secrets or internal addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Retry-After` seconds (a 429 from the rate limiter).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// An error with an explicit status and one of the declared codes (prefer this to [`ApiError::new`]: the code
    /// is then listed in `walletd_protocol::HttpErrorCode` and docs/api-v1.md).
    pub fn with_code(status: StatusCode, code: HttpErrorCode, message: impl Into<String>) -> Self {
        Self::new(status, code.as_str(), message)
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 503 `unavailable`: a dependency is down; the client may retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500 `internal_error`. The cause is logged by the caller; the client learns nothing about it.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({"error": self.code, "message": self.message}))).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        response
    }
}

/// A spent budget: 429 `rate_limited` with `Retry-After`, the shape the web client reads for every error
/// (`{error, message}`; it has no special handling of 429 and never ends a session on one).
impl From<crate::limits::Limited> for ApiError {
    fn from(l: crate::limits::Limited) -> Self {
        let mut e = ApiError::with_code(StatusCode::TOO_MANY_REQUESTS, HttpErrorCode::RateLimited, l.to_string());
        e.retry_after = Some(l.retry_after_secs());
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_answer_declared_codes() {
        let helpers = [
            ApiError::bad_request("m"),
            ApiError::unauthorized("m"),
            ApiError::forbidden("m"),
            ApiError::not_found("m"),
            ApiError::unavailable("m"),
            ApiError::internal(),
        ];
        for e in helpers {
            assert!(
                HttpErrorCode::ALL.iter().any(|c| c.as_str() == e.code),
                "`{}` is not in HttpErrorCode",
                e.code
            );
        }
        let e = ApiError::with_code(StatusCode::CONFLICT, HttpErrorCode::Conflict, "exists");
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "conflict"));
    }
}
