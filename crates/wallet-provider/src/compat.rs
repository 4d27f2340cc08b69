//! The web client's route: `POST /wallet-provider/key-attestation/generate` with `{jwks, openid4vci:{nonce}}`
//! answers `{key_attestation}` (wallet-frontend's sign handler asks it when an issuer wants `attestation` proofs).
//! A thin adapter onto the same service method as `POST /wallet-provider/key-attestations`.

use axum::extract::State;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::http::{JsonBody, Routes, SessionUser};

use crate::http::{HttpError, WpState};
use crate::service::KeyAttestationRequest;

fn build() -> Routes<WpState> {
    Routes::default().add("POST", "/wallet-provider/key-attestation/generate", generate)
}

/// `(METHOD, path)` of every compat route.
pub fn compat_route_table() -> Vec<(&'static str, &'static str)> {
    build().table
}

/// The compat router.
pub fn compat_routes(state: WpState) -> Router {
    build().router.with_state(state)
}

#[derive(Deserialize)]
struct GenerateBody {
    jwks: Vec<Value>,
    #[serde(default)]
    openid4vci: Option<Openid4vci>,
}

#[derive(Deserialize)]
struct Openid4vci {
    #[serde(default)]
    nonce: Option<String>,
}

async fn generate(
    State(st): State<WpState>,
    SessionUser(user): SessionUser,
    JsonBody(b): JsonBody<GenerateBody>,
) -> Result<Json<Value>, HttpError> {
    let issued = st
        .service
        .key_attestation(
            &(&user).into(),
            KeyAttestationRequest {
                jwks: b.jwks,
                // The web client sends an empty nonce when the issuer gave none.
                nonce: b.openid4vci.and_then(|o| o.nonce).filter(|n| !n.is_empty()),
                instance_id: None,
            },
        )
        .await?;
    Ok(Json(json!({"key_attestation": issued.jwt})))
}
