//! An API v2 client over tokio-tungstenite: connect, handshake, send frames, and complete issuance flows.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::Holder;
use crate::present::{StoredCredential, answer_sign_presentation};

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
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Transport(e) => write!(f, "transport: {e}"),
            ClientError::Timeout => f.write_str("timed out"),
            ClientError::Closed(c) => write!(f, "closed ({c:?})"),
            ClientError::Flow(v) => write!(f, "flow_error: {v}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Follows an `authorization_url` the way a browser would and returns the redirect URL carrying `code`/`state`.
pub type Authorizer = Box<dyn Fn(String) -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync>;

/// One WebSocket connection to an engine.
pub struct EngineClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames read while waiting for something else (other flows' frames).
    pending: Vec<Value>,
    /// The last `credential_selection` payload of a presentation flow (what the user would be shown).
    pub last_selection: Option<Value>,
    /// The last `match_request` frame of a presentation flow (sent only to clients with the feature).
    pub last_match_request: Option<Value>,
}

impl EngineClient {
    /// Connects to `ws://host:port/api/v2/wallet`.
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        let (ws, _) = connect_async(url)
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(EngineClient {
            ws,
            pending: Vec::new(),
            last_selection: None,
            last_match_request: None,
        })
    }

    /// Sends the handshake and returns `handshake_complete` (or the error frame as `Flow`).
    pub async fn handshake(&mut self, token: &str, features: Option<&[&str]>) -> Result<Value, ClientError> {
        let mut hs = json!({"type": "handshake", "app_token": token});
        if let Some(f) = features {
            hs["features"] = json!(f);
        }
        self.send(&hs).await?;
        let v = self.recv(Duration::from_secs(10)).await?;
        if v["type"] == "handshake_complete" {
            Ok(v)
        } else {
            Err(ClientError::Flow(v))
        }
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, v: &Value) -> Result<(), ClientError> {
        self.send_text(&v.to_string()).await
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))
    }

    /// The next JSON frame (pings are answered by the library).
    pub async fn recv(&mut self, timeout: Duration) -> Result<Value, ClientError> {
        if !self.pending.is_empty() {
            return Ok(self.pending.remove(0));
        }
        self.recv_socket(timeout).await
    }

    async fn recv_socket(&mut self, timeout: Duration) -> Result<Value, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| ClientError::Timeout)?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str()).map_err(|e| ClientError::Transport(e.to_string()));
                }
                Some(Ok(Message::Close(c))) => return Err(ClientError::Closed(c.map(|c| c.code.into()))),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(ClientError::Transport(e.to_string())),
                None => return Err(ClientError::Closed(None)),
            }
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

    /// Waits for the close frame and returns its code.
    pub async fn recv_close(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(c)))) => return c.map(|c| c.code.into()),
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Runs an OID4VCI flow started by `start` (a `flow_start` frame without `type`/`flow_id`) to its end: answers
    /// `sign_request`s with `holder`'s proofs, `tx_code` prompts with `tx_code`, and authorization with
    /// `authorizer`. Returns the `flow_complete` frame.
    pub async fn run_issuance(
        &mut self,
        holder: &Holder,
        flow_id: &str,
        mut start: Value,
        tx_code: Option<&str>,
        authorizer: Option<&Authorizer>,
    ) -> Result<Value, ClientError> {
        start["type"] = json!("flow_start");
        start["flow_id"] = json!(flow_id);
        start["protocol"] = json!("oid4vci");
        self.send(&start).await?;
        // Bounded: a flow has a handful of steps; 200 frames is far beyond any legitimate flow.
        for _ in 0..200 {
            let v = self.recv_flow(flow_id, Duration::from_secs(60)).await?;
            match v["type"].as_str().unwrap_or("") {
                "flow_complete" => return Ok(v),
                "flow_error" => return Err(ClientError::Flow(v)),
                "sign_request" => {
                    let proofs = holder.proofs_for(&v["params"]);
                    let reply = json!({"type": "sign_response", "flow_id": flow_id, "message_id": v["message_id"], "proofs": proofs});
                    self.send(&reply).await?;
                }
                "flow_progress" if v["step"] == "authorization_required" => {
                    let p = &v["payload"];
                    if p["type"] == "tx_code" {
                        let reply = json!({"type": "flow_action", "flow_id": flow_id, "action": "provide_pin",
                            "payload": {"tx_code": tx_code.unwrap_or_default()}});
                        self.send(&reply).await?;
                    } else if let (Some(url), Some(auth)) = (p["authorization_url"].as_str(), authorizer) {
                        let redirect = auth(url.to_string())
                            .await
                            .ok_or(ClientError::Transport("authorization failed".into()))?;
                        let (code, state) = code_and_state(&redirect);
                        let reply = json!({"type": "flow_action", "flow_id": flow_id, "action": "authorization_complete",
                            "payload": {"code": code, "state": state}});
                        self.send(&reply).await?;
                    } else {
                        return Err(ClientError::Transport(
                            "authorization required but no authorizer".into(),
                        ));
                    }
                }
                _ => {}
            }
        }
        Err(ClientError::Transport("the flow sent too many frames".into()))
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
        mut start: Value,
        answer: PresentAnswer,
    ) -> Result<Value, ClientError> {
        start["type"] = json!("flow_start");
        start["flow_id"] = json!(flow_id);
        start["protocol"] = json!("oid4vp");
        self.last_selection = None;
        self.last_match_request = None;
        self.send(&start).await?;
        // Bounded: a presentation has a handful of steps.
        for _ in 0..100 {
            let v = self.recv_flow(flow_id, Duration::from_secs(60)).await?;
            match v["type"].as_str().unwrap_or("") {
                "flow_complete" => return Ok(v),
                "flow_error" => return Err(ClientError::Flow(v)),
                "match_request" => {
                    let reply = match_response(&v, wallet);
                    self.last_match_request = Some(v);
                    self.send(&reply).await?;
                }
                "flow_progress" if v["step"] == "credential_selection" => {
                    self.last_selection = Some(v["payload"].clone());
                    let p = &v["payload"];
                    let matches = match_any(p, wallet);
                    let reply = match (matches, answer) {
                        (Some(m), a) if a != PresentAnswer::Decline => {
                            let selected: Vec<Value> = m
                                .iter()
                                .map(|m| {
                                    json!({"credential_id": m.credential_id, "credential_query_id": m.query_id,
                                    "disclosed_claims": m.disclosed_claims})
                                })
                                .collect();
                            json!({"type": "flow_action", "flow_id": flow_id, "action": "consent",
                                "payload": {"selected_credentials": selected}})
                        }
                        (m, _) => {
                            let reason = if m.is_none() {
                                "no matching credential"
                            } else {
                                "user declined"
                            };
                            json!({"type": "flow_action", "flow_id": flow_id, "action": "decline", "payload": {"reason": reason}})
                        }
                    };
                    self.send(&reply).await?;
                }
                "sign_request" => {
                    let mut reply = json!({"type": "sign_response", "flow_id": flow_id, "message_id": v["message_id"]});
                    match answer {
                        PresentAnswer::SignError => reply["error"] = json!("user cancelled signing"),
                        PresentAnswer::EmptyVpToken => reply["vp_token"] = json!("{}"),
                        _ => match answer_sign_presentation(&v["params"], wallet, holder.key()) {
                            Ok(t) => reply["vp_token"] = json!(t),
                            Err(e) => reply["error"] = json!(e),
                        },
                    }
                    self.send(&reply).await?;
                }
                _ => {}
            }
        }
        Err(ClientError::Transport("the flow sent too many frames".into()))
    }
}

/// Matches what a `match_request` or `credential_selection` carries: PE when a definition is there, else DCQL.
fn match_any(p: &Value, wallet: &[StoredCredential]) -> Option<Vec<crate::dcql::Match>> {
    match (p.get("presentation_definition"), p.get("dcql_query")) {
        (Some(pd), _) => crate::pe::match_definition(pd, wallet),
        (None, Some(q)) => crate::dcql::match_query(q, wallet),
        _ => None,
    }
}

/// The `match_response` to a `match_request` frame: the holder's matcher over `wallet`, or `no_match_reason`.
pub fn match_response(request: &Value, wallet: &[StoredCredential]) -> Value {
    let mut reply =
        json!({"type": "match_response", "flow_id": request["flow_id"], "message_id": request["message_id"]});
    match match_any(request, wallet) {
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
            reply["matches"] = json!(matches);
        }
        None => reply["no_match_reason"] = json!("no credential in the wallet satisfies the request"),
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
