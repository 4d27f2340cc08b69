//! The admin API (docs/api-v1.md "Backend role") on the admin listener: tenants, issuers, verifiers, invites,
//! memberships and the audit log. Every route requires `Authorization: Bearer <admin.token>` (compared in constant
//! time); while no token is configured every request is refused. Every write is audit-logged.

mod entities;
mod members;
mod tenants;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use walletd_common::config::Secret;
use walletd_common::http::{AdminCaller, AdminToken, ApiError, Routes};

use crate::service::{AdminError, AdminService};

pub use walletd_common::http::AUDIT_ACTOR_HEADER;

/// What the admin routes need.
#[derive(Clone)]
pub struct AdminState {
    pub service: AdminService,
    /// `admin.token`; `None` refuses every request.
    pub token: Option<Secret>,
}

fn build() -> Routes<AdminState> {
    Routes::default()
        .add("GET", "/admin/tenants", tenants::list)
        .add("POST", "/admin/tenants", tenants::create)
        .add("GET", "/admin/tenants/{id}", tenants::get_one)
        .add("PUT", "/admin/tenants/{id}", tenants::update)
        .add("DELETE", "/admin/tenants/{id}", tenants::delete)
        .add("GET", "/admin/tenants/{id}/issuers", entities::list_issuers)
        .add("POST", "/admin/tenants/{id}/issuers", entities::create_issuer)
        .add("GET", "/admin/tenants/{id}/issuers/{issuer_id}", entities::get_issuer)
        .add(
            "PUT",
            "/admin/tenants/{id}/issuers/{issuer_id}",
            entities::update_issuer,
        )
        .add(
            "DELETE",
            "/admin/tenants/{id}/issuers/{issuer_id}",
            entities::delete_issuer,
        )
        .add("GET", "/admin/tenants/{id}/verifiers", entities::list_verifiers)
        .add("POST", "/admin/tenants/{id}/verifiers", entities::create_verifier)
        .add(
            "GET",
            "/admin/tenants/{id}/verifiers/{verifier_id}",
            entities::get_verifier,
        )
        .add(
            "PUT",
            "/admin/tenants/{id}/verifiers/{verifier_id}",
            entities::update_verifier,
        )
        .add(
            "DELETE",
            "/admin/tenants/{id}/verifiers/{verifier_id}",
            entities::delete_verifier,
        )
        .add("GET", "/admin/tenants/{id}/invites", members::list_invites)
        .add("POST", "/admin/tenants/{id}/invites", members::create_invite)
        .add("DELETE", "/admin/tenants/{id}/invites/{code}", members::delete_invite)
        .add("GET", "/admin/tenants/{id}/users", members::list_users)
        .add("DELETE", "/admin/tenants/{id}/users/{user_id}", members::delete_user)
        .add("GET", "/admin/audit", members::list_audit)
}

/// `(METHOD, path)` of every admin route this crate serves (without `/admin/status`, which the binary adds).
pub fn admin_route_table() -> Vec<(&'static str, &'static str)> {
    build().table
}

/// The admin routes behind the bearer check. Unknown paths answer 401 without a valid token, else 404, so the
/// listener reveals nothing to callers without the token.
pub fn admin_routes(state: AdminState) -> Router {
    build()
        .router
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .with_state(state)
}

async fn fallback() -> ApiError {
    ApiError::not_found("no such admin route")
}

impl FromRef<AdminState> for AdminToken {
    fn from_ref(s: &AdminState) -> AdminToken {
        AdminToken(s.token.clone())
    }
}

/// Every admin route and the fallback sit behind the shared admin-token extractor (401 without the token).
async fn require_admin(_admin: AdminCaller, req: Request, next: Next) -> Response {
    next.run(req).await
}

/// Who performs an admin write, for the audit log: the `X-Audit-Actor` label (printable, at most 64 characters)
/// or `admin`. Never derived from the token.
pub struct Actor(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Actor(actor_label(&parts.headers)))
    }
}

fn actor_label(headers: &HeaderMap) -> String {
    walletd_common::http::audit_actor(headers)
}

/// The service's refusals in the error shape: 400 invalid input, 404 unknown, 403 not allowed, 503 when the audit
/// log could not record an applied change; database errors through the one `StoreError` mapping.
impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> ApiError {
        match e {
            AdminError::Invalid(m) => ApiError::bad_request(m),
            AdminError::NotFound(m) => ApiError::not_found(m),
            AdminError::Forbidden(m) => ApiError::forbidden(m),
            AdminError::Tenant(refusal) => refusal.into(),
            e @ AdminError::AuditFailed => ApiError::unavailable(e.to_string()),
            AdminError::Store(e) => e.into(),
        }
    }
}

/// 201 with the created object.
pub(crate) fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

/// Deletes answer 200 with a message.
pub(crate) fn deleted(what: &str) -> Response {
    axum::Json(serde_json::json!({"message": format!("{what} deleted")})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_labels_are_sanitised() {
        let mut h = HeaderMap::new();
        assert_eq!(actor_label(&h), "admin");
        h.insert(AUDIT_ACTOR_HEADER, "ops@example.org".parse().unwrap());
        assert_eq!(actor_label(&h), "admin:ops@example.org");
        h.insert(AUDIT_ACTOR_HEADER, "a\"b<script>".parse().unwrap());
        assert_eq!(actor_label(&h), "admin");
    }
}
