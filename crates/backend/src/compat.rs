//! The web client's reads of its tenant's registered issuers and verifiers on the main listener:
//! `GET /issuer/all`, `GET /issuer/{id}/metadata`, `GET /verifier/all` (camelCase, the caller's tenant only), and
//! `GET /helper/iaca-list` (crate::compat_iaca).

use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use walletd_common::http::{ApiError, Authenticator, Routes, SessionUser};
use walletd_common::issuer_metadata::{IssuerMetadataError, fetch_verified};
use walletd_egress::EgressClient;

use crate::service::AdminService;

/// What the compat reads need.
#[derive(Clone)]
pub struct CompatState {
    /// The registered issuers and verifiers of the caller's tenant.
    pub service: AdminService,
    pub auth: Authenticator,
    /// Fetches issuer metadata (the identifier is operator-registered, but the host it names is not ours).
    pub egress: EgressClient,
    /// The IACA lists behind `/helper/iaca-list`.
    pub iacas: crate::compat_iaca::IacaSettings,
}

impl FromRef<CompatState> for Authenticator {
    fn from_ref(s: &CompatState) -> Authenticator {
        s.auth.clone()
    }
}

fn build() -> Routes<CompatState> {
    Routes::default()
        .add("GET", "/issuer/all", all_issuers)
        .add("GET", "/issuer/{id}/metadata", issuer_metadata)
        .add("GET", "/verifier/all", all_verifiers)
        .add("GET", "/helper/iaca-list", crate::compat_iaca::iaca_list)
}

/// `(METHOD, path)` of every compat read.
pub fn compat_route_table() -> Vec<(&'static str, &'static str)> {
    build().table
}

/// The compat read routes (authenticated).
pub fn compat_routes(state: CompatState) -> axum::Router {
    build().router.with_state(state)
}

async fn all_issuers(State(s): State<CompatState>, SessionUser(user): SessionUser) -> Result<Response, ApiError> {
    let list = s.service.tenant_issuers(&user.tenant_id).await?;
    let out: Vec<Value> = list
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "credentialIssuerIdentifier": i.credential_issuer_identifier,
                "clientId": i.client_id,
                "visible": i.visible,
                "trustStatus": i.trust.status,
                "trustFramework": i.trust.framework,
            })
        })
        .collect();
    Ok(Json(Value::Array(out)).into_response())
}

async fn all_verifiers(State(s): State<CompatState>, SessionUser(user): SessionUser) -> Result<Response, ApiError> {
    let list = s.service.tenant_verifiers(&user.tenant_id).await?;
    let out: Vec<Value> = list
        .iter()
        .map(|v| {
            json!({
                "id": v.id,
                "name": v.name,
                "url": v.url,
                "clientId": v.client_id,
                "clientIdScheme": v.client_id_scheme,
            })
        })
        .collect();
    Ok(Json(Value::Array(out)).into_response())
}

async fn issuer_metadata(
    State(s): State<CompatState>,
    SessionUser(user): SessionUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let issuer = s.service.tenant_issuer(&user.tenant_id, &id).await?;
    // The same fetch-and-verify the registry uses: discovery, the named credential_issuer, signed_metadata.
    let verified = fetch_verified(&s.egress, &issuer.credential_issuer_identifier)
        .await
        .map_err(metadata_error)?;
    Ok(Json(verified.metadata).into_response())
}

/// How an issuer metadata failure reads to the web client: a bad gateway (a gateway timeout when the issuer did
/// not answer in time); metadata whose signature does not verify says so in its error code.
fn metadata_error(e: IssuerMetadataError) -> ApiError {
    let (status, code) = match &e {
        IssuerMetadataError::Upstream { timeout: true, .. } => (StatusCode::GATEWAY_TIMEOUT, "upstream_error"),
        IssuerMetadataError::Integrity(_) => (StatusCode::BAD_GATEWAY, "integrity_mismatch"),
        _ => (StatusCode::BAD_GATEWAY, "upstream_error"),
    };
    ApiError::new(status, code, e.to_string())
}
