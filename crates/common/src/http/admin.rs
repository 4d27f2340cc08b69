//! The operator's bearer token (`admin.token`) guarding admin-only routes, and the bearer-scheme parser every
//! authenticated route shares.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::config::Secret;

/// The token of `Authorization: <scheme> <token>` when the scheme is `Bearer`. The scheme is matched in any case
/// (RFC 7235 section 2.1, RFC 6750 section 2.1); the token is trimmed and never empty.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The configured `admin.token`; `None` refuses every admin request. Router states provide it through `FromRef`.
#[derive(Clone, Default)]
pub struct AdminToken(pub Option<Secret>);

/// Checks the request's bearer token against `admin.token`: 401 when none is configured, absent or wrong.
pub fn check_admin_token(expected: &AdminToken, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &expected.0 else {
        return Err(ApiError::unauthorized(
            "admin routes are disabled: admin.token is not configured",
        ));
    };
    let presented = bearer_token(headers).unwrap_or("");
    // ct_eq on slices of different lengths returns false without comparing; the length of the token is not a
    // secret worth protecting (it is fixed by the operator's generator).
    let matches: bool = presented.as_bytes().ct_eq(expected.expose().as_bytes()).into();
    if presented.is_empty() || !matches {
        return Err(ApiError::unauthorized("missing or wrong admin token"));
    }
    Ok(())
}

/// Header an operator's tooling may set to name who acts; recorded in the audit log (default `admin`).
pub const AUDIT_ACTOR_HEADER: &str = "x-audit-actor";

/// Who performs an admin write, for the audit log: `admin:<label>` from `X-Audit-Actor` (printable, at most 64
/// characters) or `admin`. Never derived from the token.
pub fn audit_actor(headers: &HeaderMap) -> String {
    headers
        .get(AUDIT_ACTOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| {
            !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "._@:-+ ".contains(c))
        })
        .map(|s| format!("admin:{s}"))
        .unwrap_or_else(|| "admin".to_string())
}

/// Extractor: the caller presented `admin.token` (see [`check_admin_token`]).
pub struct AdminCaller;

impl<S> FromRequestParts<S> for AdminCaller
where
    AdminToken: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        check_admin_token(&AdminToken::from_ref(state), &parts.headers).map(|()| AdminCaller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_bearer_scheme_matches_in_any_case() {
        for v in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR  abc "] {
            assert_eq!(bearer_token(&with_auth(v)), Some("abc"), "{v}");
        }
        for v in ["Basic abc", "Bearer ", "Bearer", "Bearerabc", "abc"] {
            assert_eq!(bearer_token(&with_auth(v)), None, "{v}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn the_admin_token_must_match_exactly() {
        let token = AdminToken(Some(Secret::new("admin-secret-0123")));
        assert!(check_admin_token(&token, &with_auth("Bearer admin-secret-0123")).is_ok());
        assert!(check_admin_token(&token, &with_auth("bearer admin-secret-0123")).is_ok());
        for wrong in [
            "Bearer admin-secret-012",
            "Bearer admin-secret-01234",
            "Bearer x",
            "Basic admin-secret-0123",
        ] {
            assert_eq!(
                check_admin_token(&token, &with_auth(wrong)).unwrap_err().code,
                "unauthorized"
            );
        }
        assert!(check_admin_token(&token, &HeaderMap::new()).is_err());
        assert!(check_admin_token(&AdminToken(None), &with_auth("Bearer admin-secret-0123")).is_err());
    }
}
