//! The web client's WebAuthn ceremonies against a real walletd's compat API (`/user/register-webauthn-*`,
//! `/user/login-webauthn-*`), with a [`VirtualAuthenticator`] as the user's passkey.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::authenticator::VirtualAuthenticator;
use crate::http::HttpTarget;
use crate::http::{Resp, post};
use crate::jwt::b64u;

/// The origin the virtual browser runs on (one of walletd's default `webauthn.rp_origins`).
pub const ORIGIN: &str = "http://localhost:8080";

/// Registers a new account through the compat API; returns the finish response.
pub async fn register(
    w: &impl HttpTarget,
    va: &mut VirtualAuthenticator,
    tenant: Option<&str>,
    private_data: &[u8],
) -> Resp {
    let (challenge_id, credential) = register_credential(w, va, tenant).await;
    post(
        w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": challenge_id, "credential": credential, "displayName": "Alice",
                "privateData": {"$b64u": b64u(private_data)}}),
        None,
        &[],
    )
    .await
}

/// Begin + authenticator: the challenge id and the credential, not yet posted.
pub async fn register_credential(
    w: &impl HttpTarget,
    va: &mut VirtualAuthenticator,
    tenant: Option<&str>,
) -> (String, Value) {
    let body = match tenant {
        Some(t) => json!({"displayName": "Alice", "tenantId": t}),
        None => json!({"displayName": "Alice"}),
    };
    let begin = post(w, "/user/register-webauthn-begin", &body, None, &[]).await;
    assert_eq!(begin.status, StatusCode::OK, "register begin: {}", begin.body);
    let credential = va.create(&begin.body["createOptions"], ORIGIN).await;
    (begin.body["challengeId"].as_str().unwrap().to_string(), credential)
}

/// Login begin + authenticator: the challenge id and the assertion, not yet posted.
pub async fn login_credential(
    w: &impl HttpTarget,
    va: &mut VirtualAuthenticator,
    tenant: Option<&str>,
) -> (String, Value) {
    let headers: Vec<(&str, &str)> = tenant.map(|t| vec![("X-Tenant-ID", t)]).unwrap_or_default();
    let begin = post(w, "/user/login-webauthn-begin", &json!({}), None, &headers).await;
    assert_eq!(begin.status, StatusCode::OK, "login begin: {}", begin.body);
    let credential = va.get(&begin.body["getOptions"], ORIGIN).await;
    (begin.body["challengeId"].as_str().unwrap().to_string(), credential)
}

/// Logs in through the compat API; returns the finish response.
pub async fn login(w: &impl HttpTarget, va: &mut VirtualAuthenticator, tenant: Option<&str>) -> Resp {
    let (challenge_id, credential) = login_credential(w, va, tenant).await;
    let headers: Vec<(&str, &str)> = tenant.map(|t| vec![("X-Tenant-ID", t)]).unwrap_or_default();
    post(
        w,
        "/user/login-webauthn-finish",
        &json!({"challengeId": challenge_id, "credential": credential}),
        None,
        &headers,
    )
    .await
}

/// Finishes a registration started with [`register_credential`].
pub async fn register_finish(w: &impl HttpTarget, challenge_id: &str, credential: &Value) -> Resp {
    post(
        w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": challenge_id, "credential": credential, "displayName": "Alice",
                "privateData": {"$b64u": b64u(b"private")}}),
        None,
        &[],
    )
    .await
}
