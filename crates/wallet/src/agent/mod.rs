//! The holder's side of whole flows over a [`Link`]: accept a credential offer into the wallet, present credentials
//! to a verifier with the user's consent. The same code runs against a remote engine and an embedded one; what the
//! user is asked (transaction codes, authorization, consent with a choice of claims) goes through a [`Ui`].

mod issue;
mod present;

use std::time::Duration;

use serde_json::{Value, json};
use walletd_protocol::{ClientMessage, FlowAction, Handshake, ServerFrame, ServerMessage};

use crate::client::ClientError;
use crate::link::Link;

pub use issue::Issued;
pub use present::{Candidate, ConsentRequest, Presented};

/// Features the holder declares in its handshake (it is not the web profile).
pub const FEATURES: &[&str] = &["presentation_definition", "transaction_data"];

/// What the user is asked during a flow. Every method has a non-interactive answer by default.
pub trait Ui: Send {
    /// A step of a flow started (for progress display).
    fn progress(&mut self, _step: &str) {}
    /// The issuer wants a transaction code (`description` is the offer's `tx_code` object).
    fn tx_code(&mut self, _description: &Value) -> Option<String> {
        None
    }
    /// The issuer wants the user to authorize at `url`; the answer is the redirect URL carrying `code` and `state`.
    fn authorize(&mut self, _url: &str) -> Option<String> {
        None
    }
    /// The redirect URI an issuance by authorization code sends the browser back to (`None`: the wallet cannot do
    /// that grant, and such an offer fails with the engine's `AUTHORIZATION_FAILED`).
    fn redirect_uri(&self) -> Option<String> {
        None
    }
    /// The verifier asks for credentials: the chosen candidates (each with the claims to disclose, a subset of the
    /// requested ones), or `None` to decline.
    fn consent(&mut self, request: &ConsentRequest) -> Option<Vec<Candidate>> {
        Some(request.candidates.clone())
    }
}

/// A [`Ui`] that consents to everything requested and knows no transaction code.
#[derive(Debug, Default)]
pub struct AutoConsent;

impl Ui for AutoConsent {}

/// Why a flow failed, with the step it failed in.
#[derive(Debug)]
pub struct AgentError {
    /// The step: the engine's last `flow_progress` step, or the holder's own (`connect`, `handshake`, ...).
    pub step: String,
    /// The engine's error code (`flow_error`), when the engine ended the flow.
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
    /// The holder's signer refused or misbehaved (the engine was told so in the `sign_response`).
    pub signer: bool,
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(c) => write!(f, "step {}: {c}: {}", self.step, self.message),
            None => write!(f, "step {}: {}", self.step, self.message),
        }
    }
}

impl std::error::Error for AgentError {}

impl AgentError {
    pub(crate) fn at(step: &str, message: impl Into<String>) -> Self {
        AgentError {
            step: step.to_string(),
            code: None,
            message: message.into(),
            signer: false,
        }
    }

    /// The engine's `flow_error` frame `v`; when the holder had sent the engine an error of its own (`refused`,
    /// a signer's refusal), that is the message, with the engine's code and step.
    fn refused_or(step: &str, v: Value, refused: Option<String>) -> Self {
        let mut e = AgentError::from_client(step, ClientError::Flow(v));
        if let Some(m) = refused {
            e.signer = m.starts_with(crate::signer::REFUSED);
            e.message = m;
        }
        e
    }

    fn from_client(step: &str, e: ClientError) -> Self {
        match e {
            ClientError::Flow(v) => AgentError {
                step: v["step"].as_str().unwrap_or(step).to_string(),
                code: v["error"]["code"].as_str().map(str::to_string),
                message: v["error"]["message"].as_str().unwrap_or("the flow failed").to_string(),
                signer: false,
            },
            other => AgentError::at(step, other.to_string()),
        }
    }
}

/// Limits of the holder's side of a flow.
#[derive(Debug, Clone, Copy)]
pub struct AgentLimits {
    /// How long one step may take.
    pub step_timeout: Duration,
    /// Most frames one flow may send.
    pub max_frames: usize,
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            step_timeout: Duration::from_secs(60),
            max_frames: 200,
        }
    }
}

/// One engine session used by the holder.
pub struct Agent {
    link: Link,
    pending: Vec<Value>,
    limits: AgentLimits,
    next_flow: u64,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent on an established session (an embedded engine's link, already authenticated).
    pub fn new(link: Link, limits: AgentLimits) -> Agent {
        Agent {
            link,
            pending: Vec::new(),
            limits,
            next_flow: 0,
        }
    }

    /// Connects to a remote engine's WebSocket `url` and handshakes with `token`.
    pub async fn connect(url: &str, token: &str, limits: AgentLimits) -> Result<Agent, AgentError> {
        let link = Link::connect(url)
            .await
            .map_err(|e| AgentError::from_client("connect", e))?;
        let mut agent = Agent::new(link, limits);
        agent.handshake(token).await?;
        Ok(agent)
    }

    /// Sends the handshake and waits for `handshake_complete`.
    pub async fn handshake(&mut self, token: &str) -> Result<(), AgentError> {
        let hs = ClientMessage::Handshake(Handshake {
            app_token: token.to_string(),
            features: Some(FEATURES.iter().map(|s| s.to_string()).collect()),
        });
        self.send(&hs)
            .await
            .map_err(|e| AgentError::from_client("handshake", e))?;
        let v = self
            .link
            .recv(self.limits.step_timeout)
            .await
            .map_err(|e| AgentError::from_client("handshake", e))?;
        match serde_json::from_value::<ServerFrame>(v.clone()).map(|f| f.message) {
            Ok(ServerMessage::HandshakeComplete { .. }) => Ok(()),
            _ => Err(AgentError::at(
                "handshake",
                format!(
                    "the engine refused the session: {}",
                    v["message"].as_str().unwrap_or("no reason")
                ),
            )),
        }
    }

    /// Ends the session.
    pub async fn close(self) {
        self.link.close().await;
    }

    fn flow_id(&mut self, prefix: &str) -> String {
        self.next_flow += 1;
        format!("{prefix}-{}", self.next_flow)
    }

    async fn send(&mut self, m: &ClientMessage) -> Result<(), ClientError> {
        let text = serde_json::to_string(m).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.link.send(text).await
    }

    async fn action(&mut self, flow_id: &str, action: &str, payload: Value) -> Result<(), ClientError> {
        self.send(&ClientMessage::FlowAction(FlowAction {
            flow_id: flow_id.to_string(),
            action: action.to_string(),
            payload,
        }))
        .await
    }

    /// The next frame of `flow_id`, typed, with its JSON (other flows' frames are kept).
    async fn next_of(&mut self, flow_id: &str) -> Result<(ServerMessage, Value), ClientError> {
        let v = match self.pending.iter().position(|v| v["flow_id"] == flow_id) {
            Some(i) => self.pending.remove(i),
            None => {
                let deadline = tokio::time::Instant::now() + self.limits.step_timeout;
                loop {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    let v = self.link.recv(left).await?;
                    if v["flow_id"] == flow_id {
                        break v;
                    }
                    if v["type"] == "error" {
                        return Err(ClientError::Flow(json!({"error": v["error"]})));
                    }
                    if self.pending.len() < 64 {
                        self.pending.push(v);
                    }
                }
            }
        };
        let msg = serde_json::from_value::<ServerFrame>(v.clone())
            .map(|f| f.message)
            .map_err(|e| ClientError::Protocol(format!("not an API v2 server frame: {e}")))?;
        Ok((msg, v))
    }
}

#[cfg(test)]
mod tests;
