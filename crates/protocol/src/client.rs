//! Frames a client sends. Unknown fields are ignored everywhere (no `deny_unknown_fields`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest accepted `flow_id`, in characters (any charset).
pub const MAX_FLOW_ID_CHARS: usize = 128;

/// One parsed client frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First frame: authenticates the socket.
    Handshake(Handshake),
    /// Starts (or restarts, same id) a flow.
    FlowStart(Box<FlowStart>),
    /// A user/client decision inside a running flow.
    FlowAction(FlowAction),
    /// Answer to a `sign_request`.
    SignResponse(SignResponse),
    /// Answer to a `match_request`.
    MatchResponse(MatchResponse),
    /// OID4VCI notification to forward to the issuer.
    CredentialNotification(CredentialNotification),
}

impl ClientMessage {
    /// The flow this frame is about, if any.
    pub fn flow_id(&self) -> Option<&str> {
        match self {
            ClientMessage::Handshake(_) => None,
            ClientMessage::FlowStart(m) => Some(&m.flow_id),
            ClientMessage::FlowAction(m) => Some(&m.flow_id),
            ClientMessage::SignResponse(m) => Some(&m.flow_id),
            ClientMessage::MatchResponse(m) => Some(&m.flow_id),
            ClientMessage::CredentialNotification(m) => Some(&m.flow_id),
        }
    }
}

/// `{"type":"handshake","app_token":"<JWT>","features":[...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Handshake {
    /// The access token issued by the auth role.
    pub app_token: String,
    /// Declared full-profile features; absent means the web profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
}

/// Which protocol a flow runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OpenID4VCI issuance.
    Oid4vci,
    /// OpenID4VP presentation.
    Oid4vp,
    /// Type metadata lookup.
    Vctm,
}

/// `flow_start`: every protocol's start fields in one struct (all optional but `flow_id` and `protocol`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)]
pub struct FlowStart {
    /// Client-chosen id, 1 to 128 characters of any charset.
    #[schemars(length(min = 1, max = 128))]
    pub flow_id: String,
    /// `oid4vci`, `oid4vp` or `vctm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// OID4VCI offer: an `openid-credential-offer://` URL or offer JSON text (also accepted as an object, or JSON
    /// text of JSON text, which the web client produces on same-tab resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_offer_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attestation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attestation_pop: Option<String>,
    /// Same-tab resume: the authorization code from the redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_credential_configuration_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reissuance_kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jwk: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uri_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// VCTM: the type to look up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vct: Option<String>,
}

/// `flow_action {flow_id, action, payload}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FlowAction {
    /// The flow the action is for.
    #[schemars(length(min = 1, max = 128))]
    pub flow_id: String,
    /// `trust_result`, `select_credential`, `provide_pin`, `authorization_complete`, `consent`, `decline`, `cancel`.
    pub action: String,
    /// Action data (an object; absent is `{}`).
    #[serde(default)]
    #[schemars(schema_with = "flow_action_payload_schema")]
    pub payload: Value,
}

/// The payload of `flow_action select_credential`: the chosen configuration and, for a client with the
/// `select_credential` and `mdoc` features, more offered configurations to issue in the same flow with the same
/// access token (e.g. the `dc+sd-jwt` and the `mso_mdoc` PID of one offer). `flow_complete.credentials` then holds
/// every batch, each entry with its `format` and `credential_configuration_id`;
/// `selected_credential_configuration_id` stays `credential_configuration_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SelectCredential {
    /// The chosen configuration (one of `awaiting_selection.available_credentials[].id`).
    pub credential_configuration_id: String,
    /// More offered configurations to issue too (`mdoc` feature; ignored otherwise). Unknown ids fail the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_configuration_ids: Option<Vec<String>>,
}

fn flow_action_payload_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let select = generator.subschema_for::<SelectCredential>();
    schemars::json_schema!({
        "description": "Action data (an object; absent is `{}`): `select_credential` a SelectCredential; \
            `provide_pin` `{tx_code}`; `authorization_complete` `{code, state, code_verifier?}`; `consent` \
            `{selected_credentials}`; `trust_result` `{trusted, ...}`; `decline` `{reason}`.",
        "anyOf": [select, {"type": "object"}],
    })
}

impl FlowAction {
    /// A string member of the payload.
    pub fn payload_str(&self, key: &str) -> Option<&str> {
        self.payload.get(key).and_then(Value::as_str)
    }
}

/// One proof of a `sign_response`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Proof {
    /// `jwt` or `attestation`.
    pub proof_type: String,
    /// The proof JWT when `proof_type` is `jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// The key attestation when `proof_type` is `attestation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// `sign_response`: proofs (OID4VCI), `vp_token` (OID4VP), or `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SignResponse {
    /// The flow.
    #[schemars(length(min = 1, max = 128))]
    pub flow_id: String,
    /// Echo of the request's `message_id`.
    pub message_id: String,
    /// Proofs, all one type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proofs: Option<Vec<Proof>>,
    /// Legacy single proof; also the PoP JWT answering `client_attestation_pop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_jwt: Option<String>,
    /// OID4VP token (JSON text or object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vp_token: Option<Value>,
    /// The client could not sign (string or object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// `match_response`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MatchResponse {
    /// The flow.
    #[schemars(length(min = 1, max = 128))]
    pub flow_id: String,
    /// Echo of the request's `message_id`.
    pub message_id: String,
    /// Matching credentials `{credential_query_id?, credential_id, format, vct?, available_claims?}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<Value>>,
    /// Why nothing matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_match_reason: Option<String>,
    /// The client could not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// `credential_notification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialNotification {
    /// The issuance flow.
    #[schemars(length(min = 1, max = 128))]
    pub flow_id: String,
    /// The `notification_id` from `flow_complete`.
    pub notification_id: String,
    /// `credential_accepted`, `credential_failure` or `credential_deleted`.
    pub event: String,
    /// Free text for the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_description: Option<String>,
}

/// Why a frame was refused; `flow_id` is set when the frame named a flow (the answer is then a `flow_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The frame's `flow_id`, when it had a string one.
    pub flow_id: Option<String>,
    /// Human-readable reason (never echoes the frame's content).
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

const KNOWN_TYPES: &[&str] = &[
    "handshake",
    "flow_start",
    "flow_action",
    "sign_response",
    "match_response",
    "credential_notification",
];

/// Parses one text frame. Never panics; every failure says what was wrong without echoing values.
pub fn parse_client_frame(text: &str) -> Result<ClientMessage, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError {
        flow_id: None,
        message: format!("invalid JSON at line {} column {}", e.line(), e.column()),
    })?;
    let Value::Object(map) = &value else {
        return Err(ParseError {
            flow_id: None,
            message: "a frame must be a JSON object".into(),
        });
    };
    let flow_id = map.get("flow_id").and_then(Value::as_str).map(str::to_string);
    let err = |message: String| ParseError {
        flow_id: flow_id.clone(),
        message,
    };
    let Some(kind) = map.get("type").and_then(Value::as_str) else {
        return Err(err("the frame has no string `type`".into()));
    };
    if !KNOWN_TYPES.contains(&kind) {
        // The type is not echoed verbatim beyond a short prefix: it is client-controlled.
        let shown: String = kind.chars().take(40).collect();
        return Err(err(format!("unknown message type `{shown}`")));
    }
    let kind = kind.to_string();
    if kind != "handshake" {
        match &flow_id {
            None => return Err(err(format!("`{kind}` needs a string `flow_id`"))),
            Some(id) if id.is_empty() => return Err(err("`flow_id` must not be empty".into())),
            Some(id) if id.chars().count() > MAX_FLOW_ID_CHARS => {
                return Err(err(format!("`flow_id` is longer than {MAX_FLOW_ID_CHARS} characters")));
            }
            Some(_) => {}
        }
    }
    let result = serde_json::from_value::<ClientMessage>(value);
    result.map_err(|e| ParseError {
        flow_id,
        message: format!("invalid `{kind}` frame: {}", clean(&e)),
    })
}

/// serde's messages name fields and expected types; they may quote an unknown variant, which is cut short.
fn clean(e: &serde_json::Error) -> String {
    let s = e.to_string();
    s.chars().take(160).collect()
}
