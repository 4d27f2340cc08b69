//! Frames the engine sends. Every frame carries `timestamp` (added by [`ServerFrame`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codes::ErrorCode;

/// The engine's capabilities, sorted (reported in `handshake_complete`).
pub fn capabilities() -> Vec<String> {
    vec!["oid4vci".into(), "oid4vp".into(), "vctm".into()]
}

/// A server message plus its `timestamp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServerFrame {
    /// The message.
    #[serde(flatten)]
    pub message: ServerMessage,
    /// RFC 3339 UTC.
    pub timestamp: String,
}

impl ServerFrame {
    /// Stamps `message` with the current time.
    pub fn now(message: ServerMessage) -> Self {
        ServerFrame {
            message,
            timestamp: crate::time::rfc3339_now(),
        }
    }

    /// The JSON text of the frame.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// `{code, message, details?}` as used inside `flow_error.error` and `error.error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable; never contains secrets.
    pub message: String,
    /// Extra structured data (`{"error":"invalid_grant"}`, `{"transaction_id":...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// `sign_request.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignAction {
    /// OID4VCI proof of possession.
    GenerateProof,
    /// OID4VP presentation.
    SignPresentation,
    /// The PoP JWT of OAuth attestation-based client authentication, signed with the client's wallet instance key
    /// (clients with the `provider_attestations` feature; answered with `proof_jwt`).
    ClientAttestationPop,
}

/// One issued credential in `flow_complete.credentials`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IssuedCredential {
    /// `dc+sd-jwt`, `vc+sd-jwt`, `mso_mdoc`, `jwt_vc_json` (as the metadata names it).
    pub format: String,
    /// The credential as the issuer returned it.
    pub credential: Value,
    /// SD-JWT VC type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vct: Option<String>,
    /// Type metadata from the registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_metadata: Option<Value>,
    /// For `credential_notification`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    /// The configuration this credential was issued for; set only when one flow issued several configurations
    /// (`select_credential` with `credential_configuration_ids`), so each batch can be told apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_configuration_id: Option<String>,
}

/// `flow_complete`: one struct for every protocol (absent members are omitted).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)]
pub struct FlowComplete {
    pub flow_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<IssuedCredential>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_credential_configuration_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jwk: Option<Value>,
    /// OID4VP: where the verifier sends the user next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// VCTM result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_metadata: Option<Value>,
}

/// A top-level `error` (outside any flow): `code`/`message` twice, as the web client reads both places.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TopLevelError {
    /// Code.
    pub code: ErrorCode,
    /// Message.
    pub message: String,
    /// Same code and message.
    pub error: ErrorBody,
}

/// Every server message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ServerMessage {
    /// The handshake succeeded: the session is open.
    HandshakeComplete {
        /// Random id of this socket's session.
        session_id: String,
        /// Protocols the engine runs, sorted.
        capabilities: Vec<String>,
        /// The declared features the engine accepted.
        features: Vec<String>,
    },
    /// A step of a flow (`offer_parsed`, `authorization_required`, `credential_selection`, ...).
    FlowProgress {
        flow_id: String,
        /// The step's name.
        step: String,
        /// The step's data (an object).
        #[serde(default)]
        payload: Value,
    },
    /// The engine needs the client to sign (answered by `sign_response` with the same `message_id`).
    SignRequest {
        flow_id: String,
        message_id: String,
        action: SignAction,
        /// What to sign: `generate_proof` `{audience, nonce?, issuer?, proof_types_supported, count, ...}`,
        /// `sign_presentation` a [`crate::SignPresentationParams`] (with the mdoc DeviceAuth signing request),
        /// `client_attestation_pop` `{audience, challenge?, client_id?}`.
        #[schemars(schema_with = "crate::sign_params::sign_request_params_schema")]
        params: Value,
    },
    /// Clients with the `match_request` feature: match the query against your credentials (answered by
    /// `match_response`).
    MatchRequest {
        flow_id: String,
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dcql_query: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        presentation_definition: Option<Value>,
    },
    /// The flow succeeded (its last frame).
    FlowComplete(FlowComplete),
    /// The flow failed (its last frame).
    FlowError {
        flow_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        error: ErrorBody,
    },
    /// What became of a `credential_notification`.
    NotificationAck {
        flow_id: String,
        notification_id: String,
        /// `forwarded` or `rejected`.
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// A problem outside any flow.
    Error(TopLevelError),
}

impl ServerMessage {
    /// A top-level `error`.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        let message = message.into();
        ServerMessage::Error(TopLevelError {
            code,
            message: message.clone(),
            error: ErrorBody {
                code,
                message,
                details: None,
            },
        })
    }

    /// A `flow_error`.
    pub fn flow_error(flow_id: &str, step: Option<&str>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::FlowError {
            flow_id: flow_id.to_string(),
            step: step.map(str::to_string),
            error: ErrorBody {
                code,
                message: message.into(),
                details: None,
            },
        }
    }

    /// A `flow_progress`.
    pub fn progress(flow_id: &str, step: &str, payload: Value) -> Self {
        ServerMessage::FlowProgress {
            flow_id: flow_id.to_string(),
            step: step.to_string(),
            payload,
        }
    }

    /// The flow this message is about.
    pub fn flow_id(&self) -> Option<&str> {
        match self {
            ServerMessage::HandshakeComplete { .. } | ServerMessage::Error(_) => None,
            ServerMessage::FlowProgress { flow_id, .. }
            | ServerMessage::SignRequest { flow_id, .. }
            | ServerMessage::MatchRequest { flow_id, .. }
            | ServerMessage::FlowError { flow_id, .. }
            | ServerMessage::NotificationAck { flow_id, .. } => Some(flow_id),
            ServerMessage::FlowComplete(c) => Some(&c.flow_id),
        }
    }

    /// Whether this message ends its flow.
    pub fn is_terminal(&self) -> bool {
        matches!(self, ServerMessage::FlowComplete(_) | ServerMessage::FlowError { .. })
    }
}
