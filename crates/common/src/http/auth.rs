//! The bearer-token extractor every authenticated route uses.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{ApiError, bearer_token};
use crate::jwt::{JwtError, JwtValidator};

/// Validates bearer tokens for one role: the validator plus the audiences that role accepts. Cloned for every
/// authenticated request (axum's `FromRef`), so it is one reference count.
#[derive(Clone)]
pub struct Authenticator(Arc<AuthenticatorParts>);

struct AuthenticatorParts {
    validator: JwtValidator,
    /// The accepted audiences, as the validator takes them.
    audiences: Box<[Box<str>]>,
}

impl Authenticator {
    /// An authenticator accepting tokens for any of `audiences`.
    pub fn new(validator: JwtValidator, audiences: Vec<String>) -> Self {
        Authenticator(Arc::new(AuthenticatorParts {
            validator,
            audiences: audiences.into_iter().map(String::into_boxed_str).collect(),
        }))
    }

    /// Validates a raw token.
    pub async fn authenticate(&self, token: &str) -> Result<AuthUser, JwtError> {
        let auds: Vec<&str> = self.0.audiences.iter().map(|a| &**a).collect();
        let claims = self.0.validator.validate(token, &auds).await?;
        Ok(AuthUser {
            user_id: claims.subject,
            tenant_id: claims.tenant_id,
            expires_at: claims.expires_at,
        })
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub user_id: String,
    pub tenant_id: String,
    /// Token expiry, seconds since the epoch.
    pub expires_at: u64,
}

impl<S> FromRequestParts<S> for AuthUser
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authenticator::from_ref(state);
        if !parts.headers.contains_key(AUTHORIZATION) {
            return Err(ApiError::unauthorized("missing bearer token"));
        }
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
        auth.authenticate(token).await.map_err(|e| match e {
            JwtError::KeysUnavailable => ApiError::unavailable("token keys are unavailable, try again"),
            JwtError::RevocationUnavailable => {
                ApiError::unavailable("token revocation state is unavailable, try again")
            }
            other => ApiError::unauthorized(other.to_string()),
        })
    }
}

/// The caller of a route the public web client calls (the compatibility API of any role). A missing, malformed,
/// expired or otherwise rejected access token is 401 `{"error":"Invalid token","message":...}` with
/// `WWW-Authenticate: Bearer error="invalid_token"`: the web client retries with a fresh token only on a 401 whose
/// `error` is exactly `Invalid token` (docs/compat-401.md). Other failures (keys unavailable: 503) pass unchanged.
/// Service API routes keep [`AuthUser`] and its `unauthorized` code.
pub struct SessionUser(pub AuthUser);

/// The `error` value the web client recognises as a rejected access token.
pub const INVALID_TOKEN: &str = "Invalid token";

impl<S> FromRequestParts<S> for SessionUser
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match AuthUser::from_request_parts(parts, state).await {
            Ok(user) => Ok(SessionUser(user)),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                let mut response = ApiError::new(StatusCode::UNAUTHORIZED, INVALID_TOKEN, e.message).into_response();
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                Err(response)
            }
            Err(e) => Err(e.into_response()),
        }
    }
}
