//! `POST /v1/evaluate` and `POST /v1/resolve`: the web client's AuthZEN passthrough to its tenant's PDP.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use walletd_common::http::{ApiError, AuthUser, Authenticator, JsonBody};
use walletd_db::Store;
use walletd_trust::{TrustClient, TrustError};

use crate::tenant_lookup::enabled_tenant;

/// What the trust compat routes need.
#[derive(Clone)]
pub struct TrustRoutesState {
    pub store: Store,
    pub trust: TrustClient,
    pub auth: Authenticator,
}

impl FromRef<TrustRoutesState> for Authenticator {
    fn from_ref(s: &TrustRoutesState) -> Authenticator {
        s.auth.clone()
    }
}

/// The routes, authenticated; the PDP is the caller's tenant's (`trust_config.pdp_url`), else the global one.
pub fn trust_routes(state: TrustRoutesState) -> Router {
    Router::new()
        .route("/v1/evaluate", post(evaluate))
        .route("/v1/resolve", post(resolve))
        .with_state(state)
}

async fn evaluate(
    State(state): State<TrustRoutesState>,
    user: AuthUser,
    JsonBody(raw): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    if !raw.is_object() {
        return Err(ApiError::bad_request("an AuthZEN evaluation request is a JSON object"));
    }
    let tenant = enabled_tenant(&state.store, &user.tenant_id).await?;
    let pdp = tenant.trust_settings().pdp_url;
    state
        .trust
        .forward_evaluation(pdp.as_ref(), &raw)
        .await
        .map(Json)
        .map_err(trust_error)
}

#[derive(Deserialize)]
struct ResolveBody {
    subject_id: String,
    subject_type: Option<String>,
    resource_type: Option<String>,
}

async fn resolve(
    State(state): State<TrustRoutesState>,
    user: AuthUser,
    JsonBody(body): JsonBody<ResolveBody>,
) -> Result<Json<Value>, ApiError> {
    if body.subject_id.trim().is_empty() {
        return Err(ApiError::bad_request("subject_id is required"));
    }
    let tenant = enabled_tenant(&state.store, &user.tenant_id).await?;
    let pdp = tenant.trust_settings().pdp_url;
    state
        .trust
        .resolve(
            pdp.as_ref(),
            &body.subject_id,
            body.subject_type.as_deref(),
            body.resource_type.as_deref(),
        )
        .await
        .map(Json)
        .map_err(trust_error)
}

/// PDP failures are the PDP's, not the caller's: 502/504, or 404 when no PDP is configured at all.
fn trust_error(e: TrustError) -> ApiError {
    let status = match e {
        TrustError::NotConfigured => StatusCode::NOT_FOUND,
        TrustError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        TrustError::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_GATEWAY,
    };
    tracing::warn!(code = e.code(), error = %e, "PDP passthrough failed");
    // The PDP's address is operator configuration: the client gets the kind of failure, not the details.
    let (code, message) = match e {
        TrustError::NotConfigured => ("pdp_not_configured", "no trust PDP is configured for this tenant"),
        TrustError::Timeout => ("pdp_timeout", "the trust PDP did not answer in time"),
        _ => ("pdp_error", "the trust PDP failed"),
    };
    ApiError::new(status, code, message)
}
