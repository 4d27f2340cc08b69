//! What the route modules share: their state and the one mapping of [`WpError`] to the error shape.

use axum::extract::FromRef;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use walletd_common::config::Secret;
use walletd_common::http::{AdminToken, ApiError, AuthUser, Authenticator};
use walletd_protocol::HttpErrorCode;

use crate::service::{Caller, WalletProviderService, WpError};

/// State of every wallet-provider router.
#[derive(Clone)]
pub struct WpState {
    pub service: WalletProviderService,
    /// Validates the users' bearer tokens.
    pub authenticator: Authenticator,
    /// `admin.token` for the admin routes; `None` refuses them.
    pub admin_token: Option<Secret>,
}

impl FromRef<WpState> for Authenticator {
    fn from_ref(s: &WpState) -> Authenticator {
        s.authenticator.clone()
    }
}

impl FromRef<WpState> for AdminToken {
    fn from_ref(s: &WpState) -> AdminToken {
        AdminToken(s.admin_token.clone())
    }
}

impl From<&AuthUser> for Caller {
    fn from(u: &AuthUser) -> Caller {
        Caller {
            tenant_id: u.tenant_id.clone(),
            user_id: u.user_id.clone(),
        }
    }
}

/// A [`WpError`] as answered: 4xx for the caller's mistakes and refusals (429 with `Retry-After`), 503 when the
/// signer, the database or the audit log failed.
pub struct HttpError(pub WpError);

impl From<WpError> for HttpError {
    fn from(e: WpError) -> Self {
        HttpError(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let message = self.0.to_string();
        let api = match self.0 {
            WpError::Invalid(m) => ApiError::with_code(StatusCode::BAD_REQUEST, HttpErrorCode::InvalidRequest, m),
            WpError::ChallengeInvalid => {
                ApiError::with_code(StatusCode::BAD_REQUEST, HttpErrorCode::ChallengeInvalid, message)
            }
            WpError::PopInvalid(_) => ApiError::with_code(StatusCode::BAD_REQUEST, HttpErrorCode::PopInvalid, message),
            WpError::InstanceRevoked => {
                ApiError::with_code(StatusCode::FORBIDDEN, HttpErrorCode::InstanceRevoked, message)
            }
            WpError::InstanceNotOwned => {
                ApiError::with_code(StatusCode::FORBIDDEN, HttpErrorCode::InstanceNotOwned, message)
            }
            WpError::PasskeyNotOwned => ApiError::forbidden(message),
            WpError::NotFound(m) => ApiError::not_found(m),
            WpError::RateLimited(r) => {
                let mut resp = ApiError::with_code(StatusCode::TOO_MANY_REQUESTS, HttpErrorCode::RateLimited, message)
                    .into_response();
                let secs = r.retry_after.as_secs().max(1).to_string();
                if let Ok(v) = HeaderValue::from_str(&secs) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return resp;
            }
            WpError::Tenant(refusal) => refusal.into(),
            WpError::Signer(e) => {
                tracing::error!(error = %e, "wallet-provider signer failed");
                ApiError::unavailable("the attestation key is unavailable, try again")
            }
            WpError::StatusListFull | WpError::AuditFailed => {
                tracing::error!(error = %message, "wallet-provider refused to issue");
                ApiError::unavailable(message)
            }
            WpError::Store(e) => e.into(),
        };
        api.into_response()
    }
}
