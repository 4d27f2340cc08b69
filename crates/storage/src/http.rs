//! HTTP helpers of the storage routes: router state, storage error mapping, base64url, query strings. The pieces
//! every role shares (JSON body, headers) are in `walletd_common::http`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use walletd_common::http::{ApiError, AuthUser, Authenticator};

use crate::service::{Owner, StorageError, StorageService};

/// State of every storage router. Axum clones the state for each request (the route, the `State` extractor),
/// so it is one reference count rather than the four of its parts.
#[derive(Clone)]
pub(crate) struct StorageState(Arc<StateParts>);

pub(crate) struct StateParts {
    pub service: StorageService,
    pub auth: Authenticator,
    pub legacy_records: bool,
}

impl StorageState {
    pub(crate) fn new(service: StorageService, auth: Authenticator, legacy_records: bool) -> Self {
        StorageState(Arc::new(StateParts {
            service,
            auth,
            legacy_records,
        }))
    }
}

impl std::ops::Deref for StorageState {
    type Target = StateParts;
    fn deref(&self) -> &StateParts {
        &self.0
    }
}

impl FromRef<StorageState> for Authenticator {
    fn from_ref(s: &StorageState) -> Authenticator {
        s.auth.clone()
    }
}

/// base64url without padding on output; padding optional on input (clients differ).
pub(crate) const B64U: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(crate) fn b64u_encode(bytes: &[u8]) -> String {
    B64U.encode(bytes)
}

pub(crate) fn b64u_decode(s: &str, what: &str) -> Result<Vec<u8>, ApiError> {
    B64U.decode(s.trim())
        .map_err(|_| ApiError::bad_request(format!("{what} is not valid base64url")))
}

pub(crate) fn owner(user: &AuthUser) -> Owner {
    Owner::new(&user.tenant_id, &user.user_id)
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::BadRequest(m) => ApiError::bad_request(m),
            StorageError::NotFound => ApiError::not_found("no such blob"),
            e @ StorageError::PreconditionFailed { .. } | e @ StorageError::VersionMismatch { .. } => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, "precondition_failed", e.to_string())
            }
            e @ StorageError::BlobTooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "blob_too_large", e.to_string())
            }
            StorageError::QuotaExceeded(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded", m),
            StorageError::Tenant(refusal) => refusal.into(),
            StorageError::Unavailable(m) => {
                tracing::warn!(error = %m, "storage database unavailable");
                ApiError::unavailable("storage is unavailable, try again")
            }
            e @ StorageError::Reserved(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
            StorageError::Store(e) => e.into(),
            StorageError::RateLimited(l) => l.into(),
        }
    }
}

impl StorageError {
    /// The HTTP error for this storage error (404/409/412/413/400/403/503/500).
    pub fn into_api_error(self) -> ApiError {
        self.into()
    }
}

/// An error response that also carries the current version (412 of the service API) as body field and `ETag`.
pub(crate) fn error_response(e: StorageError) -> Response {
    match e {
        StorageError::VersionMismatch { current_version } => {
            let body = serde_json::json!({
                "error": "precondition_failed",
                "message": format!("the blob is at version {current_version}"),
                "current_version": current_version,
            });
            let mut r = (StatusCode::PRECONDITION_FAILED, axum::Json(body)).into_response();
            set_header(r.headers_mut(), header::ETAG, &version_etag(current_version));
            r
        }
        other => ApiError::from(other).into_response(),
    }
}

pub(crate) fn version_etag(version: i64) -> String {
    format!("\"{version}\"")
}

pub(crate) fn set_header(headers: &mut HeaderMap, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// The query string as a map (last value wins); `None` -> empty.
pub(crate) fn query_map(raw: Option<String>) -> HashMap<String, String> {
    raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// An optional `u32` query parameter; anything else is a 400.
pub(crate) fn query_u32(q: &HashMap<String, String>, key: &str) -> Result<Option<u32>, ApiError> {
    q.get(key)
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| ApiError::bad_request(format!("`{key}` must be a non-negative integer")))
        })
        .transpose()
}
