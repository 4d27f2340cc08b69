//! One running flow: its inbox, its view of the socket, and the waits a flow step can do (each bounded).

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use walletd_common::http::AuthUser;
use walletd_protocol::{ErrorCode, FlowAction, MatchResponse, ServerMessage, SignAction, SignResponse};

use crate::Engine;
use crate::failure::{FlowFailure, FlowResult};
use crate::session::Outbound;

/// What a flow's inbox carries: the client frames addressed to it.
#[derive(Debug)]
pub enum FlowInput {
    /// A `flow_action` (except `cancel`, which the session handles).
    Action(FlowAction),
    /// A `sign_response`.
    Sign(SignResponse),
    /// A `match_response`.
    Match(MatchResponse),
}

/// What a completed issuance leaves behind for a later `credential_notification` (in memory only).
#[derive(Debug, Clone)]
pub struct NotificationTarget {
    /// The issuer's `notification_endpoint`.
    pub endpoint: String,
    /// The access token of the flow.
    pub access_token: String,
    /// `DPoP` or `Bearer`.
    pub token_type: String,
    /// The DPoP key (private JWK) when the token is DPoP-bound.
    pub dpop_jwk: Option<Value>,
    /// Notification ids handed to the client.
    pub ids: Vec<String>,
}

/// A flow's handle on the engine and the socket.
pub struct FlowCtx {
    pub(crate) engine: Engine,
    pub(crate) flow_id: String,
    pub(crate) user: AuthUser,
    pub(crate) web_profile: bool,
    pub(crate) features: Vec<String>,
    pub(crate) out: mpsc::Sender<Outbound>,
    pub(crate) inbox: mpsc::Receiver<FlowInput>,
    pub(crate) step: Option<String>,
    /// Set by an issuance flow for the session to keep after completion.
    pub(crate) notification: Option<NotificationTarget>,
}

impl FlowCtx {
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether the client declared `feature` (web-profile clients declare none).
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// Sends a `flow_progress` and remembers the step for a later `flow_error`. The frame may wait up to
    /// `engine.progress_hold` in the session to leave with the frames after it; a step that asks the client for
    /// something is followed by a wait ([`FlowCtx::wait_action`]) or a request frame, both of which send it at once.
    pub async fn progress(&mut self, step: &str, payload: Value) {
        self.step = Some(step.to_string());
        tracing::debug!(flow_id = %self.flow_id, step, "flow step");
        let frame = Outbound::progress(ServerMessage::progress(&self.flow_id, step, payload));
        let _ = self.out.send(frame).await;
    }

    pub(crate) async fn send(&self, msg: ServerMessage) {
        // A closed socket is not the flow's failure: the session cancels the flow right after.
        let _ = self.out.send(Outbound::message(msg)).await;
    }

    /// Sends a top-level `error` (never with this flow's id: the web client would take it as the flow's answer).
    async fn stray(&self, what: &str) {
        self.send(ServerMessage::error(
            ErrorCode::InvalidMessage,
            format!("unexpected {what} for a flow that is not waiting for it"),
        ))
        .await;
    }

    /// Waits for one of `actions`. `decline` always ends the flow (as `decline_code`); anything else is answered
    /// with a top-level `error` and the wait goes on. Times out with `FLOW_TIMEOUT` after `timeout`.
    pub async fn wait_action(
        &mut self,
        actions: &[&str],
        timeout: Duration,
        decline_code: ErrorCode,
    ) -> FlowResult<FlowAction> {
        // The step that asked for this action may still be held back with the progress frames: send it now.
        let _ = self.out.send(Outbound::Flush).await;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let input = tokio::time::timeout_at(deadline, self.inbox.recv())
                .await
                .map_err(|_| FlowFailure::new(ErrorCode::FlowTimeout, "the client did not answer in time"))?;
            match input {
                Some(FlowInput::Action(a)) if actions.contains(&a.action.as_str()) => return Ok(a),
                Some(FlowInput::Action(a)) if a.action == "decline" => {
                    let reason = a.payload_str("reason").unwrap_or("declined by the user");
                    let shown: String = reason.chars().take(200).collect();
                    return Err(FlowFailure::new(decline_code, format!("declined: {shown}")));
                }
                Some(FlowInput::Action(a)) => self.stray(&format!("action `{}`", short(&a.action))).await,
                Some(FlowInput::Sign(_)) => self.stray("sign_response").await,
                Some(FlowInput::Match(_)) => self.stray("match_response").await,
                None => return Err(FlowFailure::new(ErrorCode::InternalError, "the session ended")),
            }
        }
    }

    /// Sends a `sign_request` and waits for its `sign_response` (matched by `message_id`) for `engine.sign_timeout`.
    pub async fn sign(&mut self, action: SignAction, params: Value) -> FlowResult<SignResponse> {
        let message_id = uuid::Uuid::new_v4().to_string();
        self.send(ServerMessage::SignRequest {
            flow_id: self.flow_id.clone(),
            message_id: message_id.clone(),
            action,
            params,
        })
        .await;
        let deadline = tokio::time::Instant::now() + self.engine.config().sign_timeout;
        loop {
            let input = tokio::time::timeout_at(deadline, self.inbox.recv())
                .await
                .map_err(|_| FlowFailure::new(ErrorCode::SignTimeout, "the client did not sign in time"))?;
            match input {
                Some(FlowInput::Sign(s)) if s.message_id == message_id => {
                    if let Some(e) = &s.error {
                        let text = e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string());
                        let shown: String = text.chars().take(200).collect();
                        return Err(FlowFailure::new(
                            ErrorCode::SignError,
                            format!("the client could not sign: {shown}"),
                        ));
                    }
                    return Ok(s);
                }
                Some(FlowInput::Sign(_)) => self.stray("sign_response (unknown message_id)").await,
                Some(FlowInput::Action(a)) if a.action == "decline" => {
                    return Err(FlowFailure::new(ErrorCode::SignError, "declined by the user"));
                }
                Some(FlowInput::Action(a)) => self.stray(&format!("action `{}`", short(&a.action))).await,
                Some(FlowInput::Match(_)) => self.stray("match_response").await,
                None => return Err(FlowFailure::new(ErrorCode::InternalError, "the session ended")),
            }
        }
    }

    /// Runs an outbound call under `engine.outbound_timeout` (the egress guard has its own, longer, deadline).
    pub async fn outbound<T, F>(&self, code: ErrorCode, what: &str, fut: F) -> FlowResult<T>
    where
        F: std::future::Future<Output = Result<T, walletd_egress::EgressError>>,
    {
        outbound(&self.engine, code, what, fut).await
    }
}

/// [`FlowCtx::outbound`] for a step that runs beside the flow's own steps and so cannot borrow its context.
pub(crate) async fn outbound<T, F>(engine: &Engine, code: ErrorCode, what: &str, fut: F) -> FlowResult<T>
where
    F: std::future::Future<Output = Result<T, walletd_egress::EgressError>>,
{
    match tokio::time::timeout(engine.config().outbound_timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(FlowFailure::egress(code, what, &e)),
        Err(_) => Err(FlowFailure::new(
            code,
            format!("{what}: no answer within the outbound deadline"),
        )),
    }
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}
