//! What can go wrong while resolving type or issuer metadata, and how each maps to HTTP.

use axum::http::StatusCode;
use walletd_common::http::ApiError;

/// A registry failure. Messages name the document or image concerned, never internal addresses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    /// No source knows the vct and it cannot be fetched.
    #[error("{0}")]
    NotFound(String),
    /// The caller's input is wrong (400).
    #[error("{0}")]
    BadRequest(String),
    /// A document or image does not match its integrity metadata.
    #[error("{0}")]
    Integrity(String),
    /// An `extends` chain loops, is too long, or names an unknown type.
    #[error("{0}")]
    Extends(String),
    /// An image was refused (size, media type, content).
    #[error("{0}")]
    ImageRefused(String),
    /// An upstream document is not valid type metadata.
    #[error("{0}")]
    InvalidDocument(String),
    /// Upstream could not be reached or answered with an error; a stale value may be served instead.
    #[error("{message}")]
    Upstream { message: String, timeout: bool },
    /// The caller's budget of fetches outside the configured sources is spent (429 with `Retry-After`).
    #[error("too many metadata fetches outside the configured sources; {0}")]
    RateLimited(walletd_common::limits::Limited),
}

impl RegistryError {
    /// Whether serving a stale cached value is the right answer to this failure.
    pub fn is_upstream(&self) -> bool {
        matches!(self, RegistryError::Upstream { .. })
    }

    /// An upstream failure from the egress guard.
    pub fn from_egress(what: &str, e: &walletd_egress::EgressError) -> Self {
        match e.code() {
            "EGRESS_BLOCKED" | "EGRESS_INVALID_URL" => RegistryError::BadRequest(format!("{what}: {e}")),
            code => RegistryError::Upstream {
                message: format!("{what}: {e}"),
                timeout: code == "EGRESS_TIMEOUT",
            },
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        if let RegistryError::RateLimited(limited) = e {
            let mut api = ApiError::from(limited);
            api.message = e.to_string();
            return api;
        }
        let (status, code) = match &e {
            RegistryError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            RegistryError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            RegistryError::Integrity(_) => (StatusCode::BAD_GATEWAY, "integrity_mismatch"),
            RegistryError::Extends(_) => (StatusCode::BAD_GATEWAY, "extends_invalid"),
            RegistryError::ImageRefused(_) => (StatusCode::BAD_GATEWAY, "image_refused"),
            RegistryError::InvalidDocument(_) => (StatusCode::BAD_GATEWAY, "invalid_document"),
            RegistryError::Upstream { timeout: true, .. } => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
            RegistryError::Upstream { .. } => (StatusCode::BAD_GATEWAY, "upstream_error"),
            RegistryError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        };
        ApiError::new(status, code, e.to_string())
    }
}
