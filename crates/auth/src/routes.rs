//! The auth role's service API: `/auth/webauthn/{register,login}/{begin,finish}`, `/auth/register`,
//! `/auth/login`, `/auth/token`, `/auth/logout`. Binaries are plain base64url strings here (tagged ones are
//! accepted too).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::http::{JsonBody, bearer_token, tenant_header};

use crate::bodies::{BeginBody, FinishBody};
use crate::http::{AuthState, CeremonyBudget, HttpError};
use crate::service::{Ceremony, Session};

/// The service API router.
pub fn service_routes(state: AuthState) -> Router {
    Router::new()
        .route("/auth/webauthn/register/begin", post(register_begin))
        .route("/auth/webauthn/register/finish", post(register_finish))
        .route("/auth/register", post(register_finish))
        .route("/auth/webauthn/login/begin", post(login_begin))
        .route("/auth/webauthn/login/finish", post(login_finish))
        .route("/auth/login", post(login_finish))
        .route("/auth/token", post(token))
        .route("/auth/logout", post(logout))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenBody {
    refresh_token: String,
    #[serde(default)]
    audience: Option<String>,
}

fn ceremony_body(c: Ceremony) -> Value {
    json!({"challengeId": c.challenge_id, "options": c.options})
}

fn session_body(s: &Session) -> Value {
    json!({
        "userId": s.user.id,
        "tenantId": s.tenant.id,
        "accessToken": s.access_token.token,
        "tokenType": "Bearer",
        "expiresIn": s.access_token.expires_in,
        "refreshToken": s.refresh_token,
        "rpId": s.rp_id,
    })
}

async fn register_begin(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    headers: HeaderMap,
    JsonBody(body): JsonBody<BeginBody>,
) -> Result<Json<Value>, HttpError> {
    let c = st.service.register_begin(body.registration_start(&headers)).await?;
    Ok(Json(ceremony_body(c)))
}

async fn register_finish(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    JsonBody(body): JsonBody<FinishBody>,
) -> Result<Json<Value>, HttpError> {
    let s = st.service.register_finish(body.into_registration()?).await?;
    Ok(Json(session_body(&s)))
}

async fn login_begin(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    headers: HeaderMap,
    JsonBody(body): JsonBody<BeginBody>,
) -> Result<Json<Value>, HttpError> {
    let hint = body.tenant_id.or_else(|| tenant_header(&headers));
    Ok(Json(ceremony_body(
        st.service.login_begin(hint.as_deref(), bearer_token(&headers)).await?,
    )))
}

async fn login_finish(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    headers: HeaderMap,
    JsonBody(body): JsonBody<FinishBody>,
) -> Result<Json<Value>, HttpError> {
    let s = st
        .service
        .login_finish(&body.challenge_id, &body.credential, bearer_token(&headers))
        .await?;
    Ok(Json(session_body(&s)))
}

async fn token(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Json<Value>, HttpError> {
    let audience = body
        .audience
        .clone()
        .unwrap_or_else(|| st.service.audience().to_string());
    let t = st.service.refresh(&body.refresh_token, Some(&audience)).await?;
    Ok(Json(json!({
        "accessToken": t.access_token.token,
        "tokenType": "Bearer",
        "expiresIn": t.access_token.expires_in,
        "audience": audience,
        "refreshToken": t.refresh_token,
    })))
}

async fn logout(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Response, HttpError> {
    st.service.logout(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
