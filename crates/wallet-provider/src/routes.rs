//! The wallet provider's service API (docs/api-v1.md "Wallet-provider role"): key attestations, WIA challenge
//! and issuance for authenticated users; the JWKS, the status list and the issuer metadata for anyone.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::http::{AuthUser, JsonBody, Routes};

use crate::http::{HttpError, WpState};
use crate::service::{KeyAttestationRequest, WiaRequest};

/// `Content-Type` of the status list token.
pub const STATUS_LIST_MEDIA_TYPE: &str = "application/statuslist+jwt";

fn authenticated() -> Routes<WpState> {
    Routes::default()
        .add("POST", "/wallet-provider/key-attestations", key_attestation)
        .add("POST", "/wallet-provider/wia/challenge", wia_challenge)
        .add("POST", "/wallet-provider/wia/generate", wia_generate)
}

fn public() -> Routes<WpState> {
    Routes::default()
        .add("GET", "/wallet-provider/jwks", jwks)
        .add("GET", "/wallet-provider/status-list", status_list)
        .add("GET", "/wallet-provider/metadata", metadata)
        .add("GET", "/.well-known/jwt-vc-issuer/wallet-provider", metadata)
}

/// `(METHOD, path)` of every service route.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    let mut t = authenticated().table;
    t.extend(public().table);
    t
}

/// The service API router.
pub fn service_routes(state: WpState) -> Router {
    authenticated().router.merge(public().router).with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyAttestationBody {
    jwks: Vec<Value>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    instance_id: Option<String>,
}

async fn key_attestation(
    State(st): State<WpState>,
    user: AuthUser,
    JsonBody(b): JsonBody<KeyAttestationBody>,
) -> Result<Json<Value>, HttpError> {
    let issued = st
        .service
        .key_attestation(
            &(&user).into(),
            KeyAttestationRequest {
                jwks: b.jwks,
                nonce: b.nonce,
                instance_id: b.instance_id,
            },
        )
        .await?;
    Ok(Json(json!({
        "key_attestation": issued.jwt,
        "instance_id": issued.instance_id,
        "expires_at": issued.expires_at,
    })))
}

async fn wia_challenge(State(st): State<WpState>, user: AuthUser) -> Result<Json<Value>, HttpError> {
    let c = st.service.wia_challenge(&(&user).into()).await?;
    Ok(Json(json!({"challenge": c.challenge, "expires_at": c.expires_at})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WiaBody {
    pop: String,
    challenge: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    credential_id: Option<String>,
}

async fn wia_generate(
    State(st): State<WpState>,
    user: AuthUser,
    JsonBody(b): JsonBody<WiaBody>,
) -> Result<Json<Value>, HttpError> {
    let issued = st
        .service
        .wallet_instance_attestation(
            &(&user).into(),
            WiaRequest {
                pop: b.pop,
                challenge: b.challenge,
                client_id: b.client_id,
                credential_id: b.credential_id,
            },
        )
        .await?;
    Ok(Json(json!({
        "wallet_instance_attestation": issued.jwt,
        "instance_id": issued.instance_id,
        "expires_at": issued.expires_at,
    })))
}

fn cache_for(secs: u64) -> [(header::HeaderName, HeaderValue); 1] {
    let v = HeaderValue::from_str(&format!("public, max-age={secs}")).unwrap_or(HeaderValue::from_static("no-cache"));
    [(header::CACHE_CONTROL, v)]
}

async fn jwks(State(st): State<WpState>) -> Response {
    let max_age = st.service.settings().status_list_refresh.as_secs();
    (cache_for(max_age), Json(st.service.jwks())).into_response()
}

async fn metadata(State(st): State<WpState>) -> Response {
    let max_age = st.service.settings().status_list_refresh.as_secs();
    (cache_for(max_age), Json(st.service.metadata())).into_response()
}

async fn status_list(State(st): State<WpState>) -> Result<Response, HttpError> {
    let token = st.service.status_list().await?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(STATUS_LIST_MEDIA_TYPE))],
        cache_for(token.max_age.as_secs()),
        token.jwt,
    )
        .into_response())
}
