//! The cloud account: log in to the auth role with the software passkey kept in the store (registering the account
//! at the first login), and sync the wallet with the storage role as blobs encrypted here (the storage role sees
//! ids, versions and ciphertext only).

mod passkey;
mod sync;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;
use walletd_jose::b64;

use crate::store::{Account, WalletData};

pub use sync::{SyncLimits, SyncReport, sync};

/// Why a cloud call failed.
#[derive(Debug)]
pub struct CloudError {
    /// The step (`register_begin`, `login_finish`, `sync_pull`, `sync_push`, ...).
    pub step: String,
    /// What happened.
    pub message: String,
    /// The cloud could not be reached (rather than refusing).
    pub unreachable: bool,
}

impl std::fmt::Display for CloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {}: {}", self.step, self.message)
    }
}

impl std::error::Error for CloudError {}

impl CloudError {
    pub(crate) fn at(step: &str, message: impl Into<String>) -> Self {
        CloudError {
            step: step.into(),
            message: message.into(),
            unreachable: false,
        }
    }

    pub(crate) fn http(step: &str, e: reqwest::Error) -> Self {
        CloudError {
            step: step.into(),
            unreachable: e.status().is_none() && !e.is_decode(),
            message: e.to_string(),
        }
    }
}

/// A session with the cloud: its address and an access token.
#[derive(Clone)]
pub struct Cloud {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) token: String,
    /// The session's refresh token (single use: each exchange rotates it).
    refresh_token: Option<String>,
    target: CloudTarget,
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Where the cloud is and how the wallet presents itself to it.
#[derive(Debug, Clone)]
pub struct CloudTarget {
    /// Base URL of the auth and storage roles.
    pub url: Url,
    /// The WebAuthn origin the passkey uses.
    pub origin: Url,
    /// `X-Tenant-ID`, if any.
    pub tenant: Option<String>,
    /// Deadline of each request.
    pub timeout: Duration,
}

async fn post(
    http: &reqwest::Client,
    target: &CloudTarget,
    path: &str,
    body: &Value,
    step: &str,
) -> Result<Value, CloudError> {
    let url = target.url.join(path).map_err(|e| CloudError::at(step, e.to_string()))?;
    let mut req = http
        .post(url)
        .json(body)
        .header("Origin", target.origin.origin().ascii_serialization());
    if let Some(t) = &target.tenant {
        req = req.header("X-Tenant-ID", t);
    }
    let resp = req.send().await.map_err(|e| CloudError::http(step, e))?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if status != StatusCode::OK {
        return Err(CloudError::at(step, format!("the auth role answered {status}: {v}")));
    }
    Ok(v)
}

/// A fresh 256-bit sync key, base64url.
fn new_sync_key() -> String {
    let mut k = [0u8; 32];
    // The system RNG does not fail on supported platforms.
    aws_lc_rs::rand::fill(&mut k).expect("system random");
    b64(k)
}

/// Logs in with the stored passkey, or registers an account (and creates the passkey and the sync key) when the
/// wallet has none. The account (and the passkey's counter) is updated in `data`; the caller saves the store.
pub async fn login(target: &CloudTarget, data: &mut WalletData) -> Result<Cloud, CloudError> {
    let http = walletd_egress::tls::http_client_builder()
        .map_err(|e| CloudError::at("login", e.to_string()))?
        .timeout(target.timeout)
        .build()
        .map_err(|e| CloudError::at("login", e.to_string()))?;
    let session = match &data.account {
        Some(acc) if acc.url == target.url.as_str() => {
            let begin = post(&http, target, "user/login-webauthn-begin", &json!({}), "login_begin").await?;
            let (credential, updated) = passkey::get(&begin["getOptions"], &target.origin, &acc.passkey)
                .await
                .map_err(|e| CloudError::at("passkey", e))?;
            let finish = json!({"challengeId": begin["challengeId"], "credential": credential});
            let s = post(&http, target, "user/login-webauthn-finish", &finish, "login_finish").await?;
            if let Some(acc) = &mut data.account {
                acc.passkey = updated;
            }
            s
        }
        _ => {
            let mut body = json!({"displayName": "walletd-wallet"});
            if let Some(t) = &target.tenant {
                body["tenantId"] = json!(t);
            }
            let begin = post(&http, target, "user/register-webauthn-begin", &body, "register_begin").await?;
            let (credential, stored) = passkey::create(&begin["createOptions"], &target.origin)
                .await
                .map_err(|e| CloudError::at("passkey", e))?;
            let finish = json!({"challengeId": begin["challengeId"], "credential": credential,
                                "displayName": "walletd-wallet", "privateData": {"$b64u": ""}});
            let s = post(
                &http,
                target,
                "user/register-webauthn-finish",
                &finish,
                "register_finish",
            )
            .await?;
            let sync_key = data
                .account
                .as_ref()
                .map(|a| a.sync_key.clone())
                .unwrap_or_else(new_sync_key);
            data.account = Some(Account {
                url: target.url.to_string(),
                origin: target.origin.to_string(),
                user_id: s["uuid"].as_str().map(str::to_string),
                passkey: stored,
                sync_key,
            });
            data.sync = Default::default();
            s
        }
    };
    let token = session["appToken"]
        .as_str()
        .ok_or_else(|| CloudError::at("login_finish", "the session has no appToken"))?
        .to_string();
    Ok(Cloud {
        http,
        base: target.url.clone(),
        token,
        refresh_token: session["refreshToken"].as_str().map(str::to_string),
        target: target.clone(),
    })
}

impl Cloud {
    /// An access token for another role of the deployment (`engine`, `storage` or `registry`): the session's
    /// refresh token exchanged at the auth role's `/auth/token`. A token for one audience is refused by the
    /// others, so a remote engine never holds a token that reads the wallet's blobs.
    pub async fn token_for(&mut self, audience: &str) -> Result<String, CloudError> {
        let step = "token_exchange";
        let refresh = self
            .refresh_token
            .take()
            .ok_or_else(|| CloudError::at(step, "the session has no refresh token"))?;
        let body = json!({"refreshToken": refresh, "audience": audience});
        let v = post(&self.http, &self.target, "auth/token", &body, step).await?;
        self.refresh_token = v["refreshToken"].as_str().map(str::to_string);
        v["accessToken"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CloudError::at(step, "the auth role sent no accessToken"))
    }
}
