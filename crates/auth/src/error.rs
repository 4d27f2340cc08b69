//! What the auth service answers when something is refused. Carries an HTTP-neutral kind; the route modules map
//! it to a status. Messages are for people and never contain a token, challenge, credential or private data.

/// The class of an [`AuthError`]; each maps to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: malformed or inconsistent input.
    BadRequest,
    /// 401: the ceremony or token did not prove who the caller is.
    Unauthorized,
    /// 403: proven, but not allowed here (tenant mismatch, disabled tenant, invites).
    Forbidden,
    /// 404: no such tenant, user or credential.
    NotFound,
    /// 409: conflicts with existing state (last passkey, duplicate credential).
    Conflict,
    /// 412: the private-data ETag did not match.
    PreconditionFailed,
    /// 413: the request body is too large.
    PayloadTooLarge,
    /// 429: rate limited.
    TooManyRequests,
    /// 503: a dependency failed; retry later.
    Unavailable,
    /// 500: a failure retrying will not fix (a corrupt row); the cause is logged, never answered.
    Internal,
}

/// A refused auth operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthError {
    pub kind: ErrorKind,
    /// Stable machine-readable code (`challenge_expired`, `invite_required`, ...).
    pub code: &'static str,
    pub message: String,
    /// With `PreconditionFailed`: the current private-data ETag.
    pub current_etag: Option<String>,
    /// Extra members of the error body (the OIDC gate's `oidc_config`); boxed to keep errors small.
    pub details: Option<Box<serde_json::Value>>,
}

impl AuthError {
    /// An error of `kind` with `code` and `message`.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        AuthError {
            kind,
            code,
            message: message.into(),
            current_etag: None,
            details: None,
        }
    }

    /// 400.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, message)
    }

    /// 401.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, code, message)
    }

    /// 403.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, message)
    }

    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }

    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    /// 503 after logging the cause (which may name internals the client must not see).
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "auth dependency failed");
        Self::new(ErrorKind::Unavailable, "unavailable", "a dependency failed, try again")
    }
}
