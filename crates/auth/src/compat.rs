//! The compatibility API the public web client (`wallet-frontend`) calls: `/user/*`, `/helper/*` and the tenant
//! config routes. Binaries travel as `{"$b64u": ...}` both ways; every route is a thin adapter onto
//! [`crate::AuthService`].

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use walletd_common::http::{JsonBody, SessionUser, bearer_token, header_str, tenant_header};
use walletd_common::tenant::Tenant;
use walletd_protocol::format_unix_millis;

use crate::bodies::{BeginBody, FinishBody, decode_private_data};
use crate::http::{AuthState, CeremonyBudget, ETAG_HEADER, HttpError};
use crate::service::{Ceremony, RegistrationFinish, Session};
use crate::tagged::{tag_at, tagged};

/// The compatibility router.
pub fn compat_routes(state: AuthState) -> Router {
    let user = Router::new()
        .route("/user/register-webauthn-begin", post(register_begin))
        .route("/user/register-webauthn-finish", post(register_finish))
        .route("/user/login-webauthn-begin", post(login_begin))
        .route("/user/login-webauthn-finish", post(login_finish))
        .route("/user/token/refresh", post(refresh))
        .route("/user/session/account-info", get(account_info))
        .route("/user/session/settings", post(settings))
        .route("/user/session", axum::routing::delete(delete_account))
        .route("/user/session/webauthn/register-begin", post(add_begin))
        .route("/user/session/webauthn/register-finish", post(add_finish))
        .route("/user/session/webauthn/credential/{id}/rename", post(rename))
        .route("/user/session/webauthn/credential/{id}/delete", post(delete_passkey));
    Router::new()
        .merge(user)
        .route("/helper/auth-check", get(auth_check).post(auth_check))
        .route("/api/v1/tenants/{id}/config", get(tenant_config))
        .route("/tenant/{id}/config", get(tenant_config))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RenameBody {
    nickname: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DeletePasskeyBody {
    private_data: Option<Value>,
}

/// `createOptions` with the binaries tagged.
fn create_options(c: &Ceremony) -> Value {
    let mut options = c.options.clone();
    tag_at(&mut options, "/publicKey/challenge");
    tag_at(&mut options, "/publicKey/user/id");
    let n = options
        .pointer("/publicKey/excludeCredentials")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for i in 0..n {
        tag_at(&mut options, &format!("/publicKey/excludeCredentials/{i}/id"));
    }
    json!({"challengeId": c.challenge_id, "createOptions": options})
}

fn session_response(s: &Session) -> Response {
    let body = json!({
        "uuid": s.user.id,
        "appToken": s.access_token.token,
        "refreshToken": s.refresh_token,
        "displayName": s.user.display_name,
        "username": s.user.username,
        "privateData": tagged(&s.private_data.bytes),
        "webauthnRpId": s.rp_id,
        "tenantId": s.tenant.id,
        "tenantDisplayName": s.tenant.display_name,
    });
    with_etag(Json(body).into_response(), Some(&s.private_data.etag))
}

fn with_etag(mut response: Response, etag: Option<&str>) -> Response {
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        response.headers_mut().insert(ETAG_HEADER, v);
    }
    response
}

async fn register_begin(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    headers: HeaderMap,
    JsonBody(body): JsonBody<BeginBody>,
) -> Result<Json<Value>, HttpError> {
    let c = st.service.register_begin(body.registration_start(&headers)).await?;
    Ok(Json(create_options(&c)))
}

async fn register_finish(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    JsonBody(body): JsonBody<FinishBody>,
) -> Result<Response, HttpError> {
    let s = st.service.register_finish(body.into_registration()?).await?;
    Ok(session_response(&s))
}

async fn login_begin(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    headers: HeaderMap,
    JsonBody(body): JsonBody<BeginBody>,
) -> Result<Json<Value>, HttpError> {
    let hint = body.tenant_id.or_else(|| tenant_header(&headers));
    let c = st.service.login_begin(hint.as_deref(), bearer_token(&headers)).await?;
    let mut options = c.options;
    tag_at(&mut options, "/publicKey/challenge");
    if let Some(pk) = options.get_mut("publicKey").and_then(Value::as_object_mut) {
        pk.insert("allowCredentials".into(), json!([]));
        pk.insert("userVerification".into(), json!("required"));
    }
    Ok(Json(json!({"challengeId": c.challenge_id, "getOptions": options})))
}

async fn login_finish(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    headers: HeaderMap,
    JsonBody(body): JsonBody<FinishBody>,
) -> Result<Response, HttpError> {
    let s = st
        .service
        .login_finish(&body.challenge_id, &body.credential, bearer_token(&headers))
        .await?;
    Ok(session_response(&s))
}

async fn refresh(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Json<Value>, HttpError> {
    let t = st.service.refresh(&body.refresh_token, None).await?;
    Ok(Json(
        json!({"appToken": t.access_token.token, "refreshToken": t.refresh_token}),
    ))
}

async fn account_info(State(st): State<AuthState>, SessionUser(user): SessionUser) -> Result<Json<Value>, HttpError> {
    let info = st.service.account_info(&user.user_id, &user.tenant_id).await?;
    let settings = &info.user.settings;
    let passkeys: Vec<Value> = info
        .passkeys
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "credentialId": tagged(&p.credential_id),
                "nickname": p.nickname,
                "prfCapable": p.prf_capable,
                "createTime": format_unix_millis(p.created_at),
                "lastUseTime": format_unix_millis(p.last_used_at),
            })
        })
        .collect();
    Ok(Json(json!({
        "uuid": info.user.id,
        "displayName": info.user.display_name,
        "username": info.user.username,
        "hasPassword": false,
        "settings": {
            "openidRefreshTokenMaxAgeInSeconds": settings.get("openidRefreshTokenMaxAgeInSeconds").cloned().unwrap_or(json!(0)),
            "useOblivious": settings.get("useOblivious").cloned().unwrap_or(json!(false)),
        },
        "webauthnCredentials": passkeys,
    })))
}

async fn settings(
    State(st): State<AuthState>,
    SessionUser(user): SessionUser,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, HttpError> {
    let settings = st
        .service
        .update_settings(&user.user_id, &user.tenant_id, &body)
        .await?;
    Ok(Json(json!({"settings": settings})))
}

async fn delete_account(State(st): State<AuthState>, SessionUser(user): SessionUser) -> Result<Json<Value>, HttpError> {
    st.service.delete_account(&user.user_id, &user.tenant_id).await?;
    Ok(Json(json!({"result": "DELETED"})))
}

async fn add_begin(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    SessionUser(user): SessionUser,
) -> Result<Json<Value>, HttpError> {
    let c = st.service.add_passkey_begin(&user.user_id, &user.tenant_id).await?;
    Ok(Json(create_options(&c)))
}

async fn add_finish(
    State(st): State<AuthState>,
    _budget: CeremonyBudget,
    SessionUser(user): SessionUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody<FinishBody>,
) -> Result<Response, HttpError> {
    let private_data = decode_private_data(body.private_data.as_ref())?;
    let private_data_if_match = header_str(&headers, "x-private-data-if-match")?.map(str::to_string);
    let (passkey, etag) = st
        .service
        .add_passkey_finish(
            &user.user_id,
            &user.tenant_id,
            RegistrationFinish {
                challenge_id: body.challenge_id,
                credential: body.credential,
                display_name: None,
                nickname: body.nickname,
                private_data,
                private_data_if_match,
            },
        )
        .await?;
    let body = json!({
        "id": passkey.id,
        "credentialId": tagged(&passkey.credential_id),
        "nickname": passkey.nickname,
        "prfCapable": passkey.prf_capable,
    });
    Ok(with_etag(Json(body).into_response(), etag.as_deref()))
}

async fn rename(
    State(st): State<AuthState>,
    SessionUser(user): SessionUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RenameBody>,
) -> Result<Json<Value>, HttpError> {
    st.service
        .rename_passkey(&user.user_id, &user.tenant_id, &id, body.nickname)
        .await?;
    Ok(Json(json!({})))
}

async fn delete_passkey(
    State(st): State<AuthState>,
    SessionUser(user): SessionUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<DeletePasskeyBody>,
) -> Result<Response, HttpError> {
    let private_data = decode_private_data(body.private_data.as_ref())?;
    let if_match = header_str(&headers, "x-private-data-if-match")?;
    let etag = st
        .service
        .delete_passkey(&user.user_id, &user.tenant_id, &id, private_data, if_match)
        .await?;
    Ok(with_etag(Json(json!({})).into_response(), etag.as_deref()))
}

async fn auth_check() -> Json<Value> {
    Json(json!({}))
}

async fn tenant_config(State(st): State<AuthState>, Path(id): Path<String>) -> Result<Json<Value>, HttpError> {
    let t: Tenant = st.service.tenant_config(&id).await?;
    let mut body = json!({
        "id": t.id,
        "name": t.name,
        "display_name": t.display_name,
        "require_invite": t.require_invite,
    });
    // What the client's OIDC gate UI reads (`TenantConfig.oidc_gate`); required claims stay server-side.
    if let Some(gate) = &t.oidc_gate {
        body["oidc_gate"] = gate.public_config();
    }
    Ok(Json(body))
}
