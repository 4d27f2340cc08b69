//! Request bodies of the registration and login ceremonies, shared by the service API (`routes`) and the web
//! client's compat API (`compat`): both accept the same camelCase JSON and hand the service the same values; only
//! their response shapes differ.

use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::http::HttpError;
use crate::service::{RegistrationFinish, RegistrationStart};
use crate::tagged::decode_value;
use walletd_common::http::{bearer_token, tenant_header};

/// Body of a ceremony's begin step.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct BeginBody {
    pub tenant_id: Option<String>,
    pub display_name: Option<String>,
    pub invite_code: Option<String>,
}

impl BeginBody {
    /// The registration request: the body's tenant wins over the `X-Tenant-ID` header.
    pub fn registration_start(self, headers: &HeaderMap) -> RegistrationStart {
        RegistrationStart {
            tenant_id: self.tenant_id.or_else(|| tenant_header(headers)),
            display_name: self.display_name,
            invite_code: self.invite_code,
            oidc_id_token: bearer_token(headers).map(str::to_string),
        }
    }
}

/// Body of a ceremony's finish step.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FinishBody {
    pub challenge_id: String,
    pub credential: Value,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub private_data: Option<Value>,
}

impl FinishBody {
    /// The registration to finish, with `privateData` decoded.
    pub fn into_registration(self) -> Result<RegistrationFinish, HttpError> {
        let private_data = decode_private_data(self.private_data.as_ref())?;
        Ok(RegistrationFinish {
            challenge_id: self.challenge_id,
            credential: self.credential,
            display_name: self.display_name,
            nickname: self.nickname,
            private_data,
            private_data_if_match: None,
        })
    }
}

/// Decodes an optional `privateData` value (tagged or plain base64url).
pub(crate) fn decode_private_data(v: Option<&Value>) -> Result<Option<Vec<u8>>, HttpError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => decode_value(v).map(Some).ok_or_else(|| {
            HttpError(crate::error::AuthError::bad_request(
                "malformed_private_data",
                "`privateData` is not base64url",
            ))
        }),
    }
}
