//! An API v2 client: connect (WebSocket, Server-Sent Events, or in-memory channels; [`crate::transport`]),
//! handshake, send frames, and complete issuance and presentation flows.
//!
//! The holder speaks API v2 through the `walletd-protocol` types: every frame it sends is a [`ClientMessage`], every
//! frame it acts on is parsed as a [`ServerMessage`] (stamped, as a [`ServerFrame`] is). The frames it hands back to
//! callers are the JSON the engine sent (tests assert on the exact wire form), and [`EngineClient::send`] /
//! [`EngineClient::send_text`] stay for tests that probe the engine with frames no well-behaved client builds.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use walletd_protocol::{
    ClientMessage, FlowAction, FlowStart, Handshake, MatchResponse, Protocol, ServerFrame, ServerMessage, SignResponse,
};

use crate::Holder;
use crate::present::{StoredCredential, answer_sign_presentation};
use crate::sse::SseTransport;
use crate::transport::{Incoming, Transport};

/// Client errors.
#[derive(Debug)]
pub enum ClientError {
    /// Connecting, sending or receiving failed.
    Transport(String),
    /// Nothing arrived in time.
    Timeout,
    /// The server closed the socket (with its close code).
    Closed(Option<u16>),
    /// The flow ended with a `flow_error` (the frame).
    Flow(Value),
    /// The engine sent a frame that is not an API v2 server frame, or the caller's start fields are not a
    /// `flow_start`.
    Protocol(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Transport(e) => write!(f, "transport: {e}"),
            ClientError::Timeout => f.write_str("timed out"),
            ClientError::Closed(c) => write!(f, "closed ({c:?})"),
            ClientError::Flow(v) => write!(f, "flow_error: {v}"),
            ClientError::Protocol(e) => write!(f, "protocol: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Follows an `authorization_url` the way a browser would and returns the redirect URL carrying `code`/`state`.
pub type Authorizer = Box<dyn Fn(String) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync>;

/// Bounds the frames one flow may send before the client gives up (a flow has a handful of steps).
const MAX_ISSUANCE_FRAMES: usize = 200;
const MAX_PRESENTATION_FRAMES: usize = 100;
/// How long one step of a flow may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The typed form of a received frame, read from the JSON the engine sent without copying it (copies of its frames
/// were a quarter of a holder's CPU per flow: docs/performance.md, "Findings (eighth session)").
fn typed(raw: &Value) -> Result<ServerMessage, ClientError> {
    let bad = |e: String| ClientError::Protocol(format!("not an API v2 server frame: {e}"));
    if !stamped(raw) {
        return Err(bad("no timestamp".into()));
    }
    ServerMessage::deserialize(raw).map_err(|e| bad(e.to_string()))
}

/// Whether `raw` carries the stamp every server frame does (what a `ServerFrame` adds to its message).
fn stamped(raw: &Value) -> bool {
    raw.get("timestamp").is_some_and(Value::is_string)
}

/// [`typed`] for a frame of a running flow, taking `raw` apart: a `flow_progress` (most of a flow's frames) moves
/// its payload out of `raw` into the message instead of parsing a copy of it. The JSON left in `raw` is what the
/// flow loops hand back (terminal frames, match requests), which progress frames never are.
fn typed_flow_frame(raw: &mut Value) -> Result<ServerMessage, ClientError> {
    if raw["type"] == "flow_progress"
        && stamped(raw)
        && let (Some(flow_id), Some(step)) = (raw["flow_id"].as_str(), raw["step"].as_str())
    {
        let (flow_id, step) = (flow_id.to_string(), step.to_string());
        let payload = raw.get_mut("payload").map(Value::take).unwrap_or(Value::Null);
        return Ok(ServerMessage::FlowProgress { flow_id, step, payload });
    }
    typed(raw)
}

/// The `flow_start` of `protocol` for `flow_id` from the caller's start fields (a JSON object of `flow_start`
/// members without `type`/`flow_id`/`protocol`).
fn flow_start(flow_id: &str, protocol: Protocol, mut fields: Value) -> Result<ClientMessage, ClientError> {
    // `flow_id` is the one member a `FlowStart` cannot be without.
    if let Value::Object(members) = &mut fields {
        members.insert("flow_id".into(), Value::String(flow_id.to_string()));
    }
    let mut start: FlowStart = serde_json::from_value(fields)
        .map_err(|e| ClientError::Protocol(format!("the start fields are not a flow_start: {e}")))?;
    start.protocol = Some(protocol);
    Ok(ClientMessage::FlowStart(Box::new(start)))
}

fn action(flow_id: &str, action: &str, payload: Value) -> ClientMessage {
    ClientMessage::FlowAction(FlowAction {
        flow_id: flow_id.to_string(),
        action: action.to_string(),
        payload,
    })
}

/// A `sign_response` with nothing in it yet.
fn sign_response(flow_id: &str, message_id: &str) -> SignResponse {
    SignResponse {
        flow_id: flow_id.to_string(),
        message_id: message_id.to_string(),
        proofs: None,
        proof_jwt: None,
        vp_token: None,
        error: None,
    }
}

/// One API v2 session with an engine.
pub struct EngineClient {
    link: Transport,
    /// Frames read while waiting for something else (other flows' frames).
    pending: Vec<Value>,
    /// The last `credential_selection` payload of a presentation flow (what the user would be shown).
    pub last_selection: Option<Value>,
    /// The last `match_request` frame of a presentation flow (sent only to clients with the feature).
    pub last_match_request: Option<Value>,
    /// Every text frame this client sent, when `Some` (off by default): tests that look for the holder's secrets
    /// (proofs, vp_tokens) in places they must not reach switch it on with `Some(Vec::new())`.
    pub sent: Option<Vec<String>>,
}

impl EngineClient {
    /// Connects to `ws://host:port/api/v2/wallet`.
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        let link = Transport::connect_websocket(url)
            .await
            .map_err(ClientError::Transport)?;
        Ok(Self::over(link))
    }

    /// Creates an SSE session at `base_url` (`http://host:port`) with the bearer `token` (sending `origin` as
    /// `Origin` when given) and opens its stream. The handshake frame follows as over a WebSocket.
    pub async fn connect_sse(base_url: &str, token: &str, origin: Option<&str>) -> Result<Self, ClientError> {
        let sse = SseTransport::open(base_url, token, origin).await?;
        Ok(Self::over(Transport::Sse(Box::new(sse))))
    }

    /// A client over in-memory channels (e.g. those of `walletd_engine::Engine::connect_local`).
    pub fn from_channels(to_engine: mpsc::Sender<String>, from_engine: mpsc::Receiver<String>) -> Self {
        Self::over(Transport::Channels(to_engine, from_engine))
    }

    /// A client over `link`.
    pub fn over(link: Transport) -> Self {
        EngineClient {
            link,
            pending: Vec::new(),
            last_selection: None,
            last_match_request: None,
            sent: None,
        }
    }

    /// The SSE link, when this client uses one (tests cut its stream, read its session id).
    pub fn sse(&mut self) -> Option<&mut SseTransport> {
        match &mut self.link {
            Transport::Sse(s) => Some(s),
            _ => None,
        }
    }

    /// Sends the handshake and returns `handshake_complete` (or the error frame as `Flow`).
    pub async fn handshake(&mut self, token: &str, features: Option<&[&str]>) -> Result<Value, ClientError> {
        let hs = ClientMessage::Handshake(Handshake {
            app_token: token.to_string(),
            features: features.map(|f| f.iter().map(|s| s.to_string()).collect()),
        });
        self.send_message(&hs).await?;
        let v = self.recv(Duration::from_secs(10)).await?;
        match typed(&v) {
            Ok(ServerMessage::HandshakeComplete { .. }) => Ok(v),
            _ => Err(ClientError::Flow(v)),
        }
    }

    /// Sends a protocol frame.
    pub async fn send_message(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        let text = serde_json::to_string(message).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.send_text(&text).await
    }

    /// Sends any JSON as a frame (tests of the engine's refusals; a holder sends [`ClientMessage`]s).
    pub async fn send(&mut self, v: &Value) -> Result<(), ClientError> {
        self.send_text(&v.to_string()).await
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        if let Some(sent) = &mut self.sent {
            sent.push(text.to_string());
        }
        self.link.send(text).await
    }

    /// The next JSON frame (pings are answered by the library).
    pub async fn recv(&mut self, timeout: Duration) -> Result<Value, ClientError> {
        if !self.pending.is_empty() {
            return Ok(self.pending.remove(0));
        }
        self.recv_socket(timeout).await
    }

    /// The next frame, typed.
    pub async fn recv_frame(&mut self, timeout: Duration) -> Result<ServerFrame, ClientError> {
        let v = self.recv(timeout).await?;
        serde_json::from_value(v).map_err(|e| ClientError::Protocol(format!("not an API v2 server frame: {e}")))
    }

    async fn recv_socket(&mut self, timeout: Duration) -> Result<Value, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let msg = tokio::time::timeout_at(deadline, self.link.next())
            .await
            .map_err(|_| ClientError::Timeout)?;
        match msg {
            Some(Ok(Incoming::Text(t))) => serde_json::from_str(&t).map_err(|e| ClientError::Transport(e.to_string())),
            Some(Ok(Incoming::Close(c))) => Err(ClientError::Closed(c)),
            Some(Err(e)) => Err(e),
            None => Err(ClientError::Closed(None)),
        }
    }

    /// The next frame of `flow_id` (frames of other flows are kept for later).
    pub async fn recv_flow(&mut self, flow_id: &str, timeout: Duration) -> Result<Value, ClientError> {
        if let Some(i) = self.pending.iter().position(|v| v["flow_id"] == flow_id) {
            return Ok(self.pending.remove(i));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self.recv_socket(left).await?;
            if v["flow_id"] == flow_id {
                return Ok(v);
            }
            if self.pending.len() < 1024 {
                self.pending.push(v);
            }
        }
    }

    /// The next frame of `flow_id`, typed, with the JSON the engine sent.
    /// For a `flow_progress` the payload is in the message only ([`typed_flow_frame`]).
    async fn next_of_flow(&mut self, flow_id: &str) -> Result<(ServerMessage, Value), ClientError> {
        let mut v = self.recv_flow(flow_id, STEP_TIMEOUT).await?;
        Ok((typed_flow_frame(&mut v)?, v))
    }

    /// Waits for the close frame and returns its code.
    pub async fn recv_close(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.link.next()).await {
                Ok(Some(Ok(Incoming::Close(c)))) => return c,
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Closes the socket (an SSE session lingers for `engine.sse_linger`).
    pub async fn close(mut self) {
        self.link.close().await;
    }

    /// Runs an OID4VCI flow started by `start` (the `flow_start` members without `type`/`flow_id`) to its end:
    /// answers `sign_request`s with `holder`'s proofs, `tx_code` prompts with `tx_code`, and authorization with
    /// `authorizer`. Returns the `flow_complete` frame.
    pub async fn run_issuance(
        &mut self,
        holder: &Holder,
        flow_id: &str,
        start: Value,
        tx_code: Option<&str>,
        authorizer: Option<&Authorizer>,
    ) -> Result<Value, ClientError> {
        self.send_message(&flow_start(flow_id, Protocol::Oid4vci, start)?)
            .await?;
        for _ in 0..MAX_ISSUANCE_FRAMES {
            let (message, v) = self.next_of_flow(flow_id).await?;
            match message {
                ServerMessage::FlowComplete(_) => return Ok(v),
                ServerMessage::FlowError { .. } => return Err(ClientError::Flow(v)),
                ServerMessage::SignRequest { message_id, params, .. } => {
                    let mut reply = sign_response(flow_id, &message_id);
                    reply.proofs = Some(holder.proofs(&params));
                    self.send_message(&ClientMessage::SignResponse(reply)).await?;
                }
                ServerMessage::FlowProgress { step, payload, .. } if step == "authorization_required" => {
                    let reply = self.authorize(flow_id, &payload, tx_code, authorizer).await?;
                    self.send_message(&reply).await?;
                }
                _ => {}
            }
        }
        Err(ClientError::Transport("the flow sent too many frames".into()))
    }

    /// The answer to an `authorization_required` step: the transaction code, or the authorization code the
    /// `authorizer` brings back from the issuer.
    async fn authorize(
        &self,
        flow_id: &str,
        payload: &Value,
        tx_code: Option<&str>,
        authorizer: Option<&Authorizer>,
    ) -> Result<ClientMessage, ClientError> {
        if payload["type"] == "tx_code" {
            let pin = json!({"tx_code": tx_code.unwrap_or_default()});
            return Ok(action(flow_id, "provide_pin", pin));
        }
        let (Some(url), Some(auth)) = (payload["authorization_url"].as_str(), authorizer) else {
            return Err(ClientError::Transport(
                "authorization required but no authorizer".into(),
            ));
        };
        let redirect = auth(url.to_string())
            .await
            .ok_or(ClientError::Transport("authorization failed".into()))?;
        let (code, state) = code_and_state(&redirect);
        Ok(action(
            flow_id,
            "authorization_complete",
            json!({"code": code, "state": state}),
        ))
    }
}

/// How the holder answers a presentation flow (the negative paths are for tests of the engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentAnswer {
    /// Consent to the matched credentials and sign.
    Consent,
    /// Decline at the selection.
    Decline,
    /// Consent, then answer the sign request with `error`.
    SignError,
    /// Consent, then answer with an empty `vp_token` (`{}`).
    EmptyVpToken,
}

impl EngineClient {
    /// Runs an OID4VP flow started by `start` (`request_uri`/`request_uri_ref`/`client_id`): matches the query
    /// (DCQL, or PE when the engine sends a definition) against `wallet`, consents, and signs the presentation with
    /// `holder`'s key. Returns the `flow_complete` frame.
    pub async fn run_presentation(
        &mut self,
        holder: &Holder,
        wallet: &[StoredCredential],
        flow_id: &str,
        start: Value,
        answer: PresentAnswer,
    ) -> Result<Value, ClientError> {
        let start = flow_start(flow_id, Protocol::Oid4vp, start)?;
        self.last_selection = None;
        self.last_match_request = None;
        self.send_message(&start).await?;
        for _ in 0..MAX_PRESENTATION_FRAMES {
            let (message, v) = self.next_of_flow(flow_id).await?;
            match message {
                ServerMessage::FlowComplete(_) => return Ok(v),
                ServerMessage::FlowError { .. } => return Err(ClientError::Flow(v)),
                ServerMessage::MatchRequest {
                    message_id,
                    dcql_query,
                    presentation_definition,
                    ..
                } => {
                    let query = Query {
                        dcql_query: dcql_query.as_ref(),
                        presentation_definition: presentation_definition.as_ref(),
                    };
                    let reply = match_response(flow_id, &message_id, query, wallet);
                    self.last_match_request = Some(v);
                    self.send_message(&ClientMessage::MatchResponse(reply)).await?;
                }
                ServerMessage::FlowProgress { step, payload, .. } if step == "credential_selection" => {
                    let reply = select(flow_id, &payload, wallet, answer);
                    self.last_selection = Some(payload);
                    self.send_message(&reply).await?;
                }
                ServerMessage::SignRequest { message_id, params, .. } => {
                    let mut reply = sign_response(flow_id, &message_id);
                    match answer {
                        PresentAnswer::SignError => reply.error = Some(json!("user cancelled signing")),
                        PresentAnswer::EmptyVpToken => reply.vp_token = Some(json!("{}")),
                        _ => match answer_sign_presentation(&params, wallet, holder.key()) {
                            Ok(t) => reply.vp_token = Some(json!(t)),
                            Err(e) => reply.error = Some(json!(e)),
                        },
                    }
                    self.send_message(&ClientMessage::SignResponse(reply)).await?;
                }
                _ => {}
            }
        }
        Err(ClientError::Transport("the flow sent too many frames".into()))
    }
}

/// The query of a `match_request` or `credential_selection`: a presentation definition (PE) or a DCQL query.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<'a> {
    /// DCQL query.
    pub dcql_query: Option<&'a Value>,
    /// DIF Presentation Exchange definition; wins over `dcql_query` when both are there.
    pub presentation_definition: Option<&'a Value>,
}

impl<'a> Query<'a> {
    /// The query members of a `credential_selection` payload.
    pub fn of_payload(payload: &'a Value) -> Self {
        Query {
            dcql_query: payload.get("dcql_query"),
            presentation_definition: payload.get("presentation_definition"),
        }
    }

    /// Matches the query against `wallet`: PE when a definition is there, else DCQL.
    fn matches(self, wallet: &[StoredCredential]) -> Option<Vec<crate::dcql::Match>> {
        match (self.presentation_definition, self.dcql_query) {
            (Some(pd), _) => crate::pe::match_definition(pd, wallet),
            (None, Some(q)) => crate::dcql::match_query(q, wallet),
            _ => None,
        }
    }
}

/// The `consent` (or `decline`) action answering a `credential_selection` step.
fn select(flow_id: &str, payload: &Value, wallet: &[StoredCredential], answer: PresentAnswer) -> ClientMessage {
    match (Query::of_payload(payload).matches(wallet), answer) {
        (Some(m), a) if a != PresentAnswer::Decline => {
            let selected: Vec<Value> = m
                .iter()
                .map(|m| {
                    json!({"credential_id": m.credential_id, "credential_query_id": m.query_id,
                        "disclosed_claims": m.disclosed_claims})
                })
                .collect();
            action(flow_id, "consent", json!({"selected_credentials": selected}))
        }
        (m, _) => {
            let reason = if m.is_none() {
                "no matching credential"
            } else {
                "user declined"
            };
            action(flow_id, "decline", json!({"reason": reason}))
        }
    }
}

/// The `match_response` to a `match_request`: the holder's matcher over `wallet`, or `no_match_reason`.
pub fn match_response(flow_id: &str, message_id: &str, query: Query<'_>, wallet: &[StoredCredential]) -> MatchResponse {
    let mut reply = MatchResponse {
        flow_id: flow_id.to_string(),
        message_id: message_id.to_string(),
        matches: None,
        no_match_reason: None,
        error: None,
    };
    match query.matches(wallet) {
        Some(found) => {
            let matches: Vec<Value> = found
                .iter()
                .map(|m| {
                    let cred = wallet.iter().find(|c| c.id == m.credential_id);
                    let vct = cred.and_then(|c| c.all_claims().get("vct").cloned());
                    json!({"credential_query_id": m.query_id, "credential_id": m.credential_id,
                        "format": "dc+sd-jwt", "vct": vct, "available_claims": m.disclosed_claims})
                })
                .collect();
            reply.matches = Some(matches);
        }
        None => reply.no_match_reason = Some("no credential in the wallet satisfies the request".into()),
    }
    reply
}

/// `code` and `state` from a redirect URL's query.
pub fn code_and_state(redirect: &str) -> (String, String) {
    let query = redirect.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut code = String::new();
    let mut state = String::new();
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            let v = percent_decode(v);
            match k {
                "code" => code = v,
                "state" => state = v,
                _ => {}
            }
        }
    }
    (code, state)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_frame_gives_its_payload_to_the_message() {
        let mut raw = json!({"type": "flow_progress", "flow_id": "f", "step": "offer_parsed",
            "payload": {"credential_issuer": "https://issuer.example"}, "timestamp": "2026-12-05T00:00:00Z"});
        let message = typed_flow_frame(&mut raw).unwrap();
        let expected = ServerMessage::FlowProgress {
            flow_id: "f".into(),
            step: "offer_parsed".into(),
            payload: json!({"credential_issuer": "https://issuer.example"}),
        };
        assert_eq!(message, expected);
        assert_eq!(raw["payload"], Value::Null, "moved, not copied");
    }

    #[test]
    fn other_frames_are_typed_in_full_and_unstamped_ones_are_refused() {
        let mut raw = json!({"type": "sign_request", "flow_id": "f", "message_id": "m",
            "action": "generate_proof", "params": {"audience": "a"}, "timestamp": "2026-12-05T00:00:00Z"});
        assert!(matches!(
            typed_flow_frame(&mut raw),
            Ok(ServerMessage::SignRequest { .. })
        ));
        assert_eq!(
            raw["params"]["audience"], "a",
            "a frame that is not progress is left whole"
        );
        for mut bad in [
            json!({"type": "flow_progress", "flow_id": "f", "step": "s", "payload": {}}),
            json!({"type": "sign_request", "flow_id": "f", "message_id": "m", "params": {},
                "timestamp": "2026-12-05T00:00:00Z"}),
            json!({"type": "flow_progress", "flow_id": "f", "timestamp": "2026-12-05T00:00:00Z"}),
        ] {
            assert!(
                matches!(typed_flow_frame(&mut bad), Err(ClientError::Protocol(_))),
                "{bad}"
            );
        }
    }
}
