//! The session's flow registry: starting a flow task per `flow_start` (a same-id start replaces the running one),
//! the task's run to exactly one terminal frame (or none when silently replaced), and the credential notifications
//! a finished issuance leaves behind.

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use walletd_protocol::{
    CredentialNotification, ErrorBody, ErrorCode, FlowComplete, FlowStart, Protocol, ServerMessage,
};

use super::link::Link;
use super::{Outbound, Session};
use crate::failure::FlowFailure;
use crate::flow::{FlowCtx, FlowInput, NotificationTarget};
use crate::{oid4vci, oid4vp, vctm};

/// A running flow as the session sees it.
pub(super) struct FlowHandle {
    generation: u64,
    /// The flow's inbox (actions, sign and match responses).
    pub(super) inbox: mpsc::Sender<FlowInput>,
    /// Cancels without a terminal frame (replaced by a same-id `flow_start`, or the socket went away).
    pub(super) silent: CancellationToken,
    /// Cancels with a terminal frame (`cancel` action).
    pub(super) cancel: CancellationToken,
}

/// A flow task's report when it ends.
#[derive(Debug)]
pub(crate) struct Done {
    flow_id: String,
    generation: u64,
    notification: Option<NotificationTarget>,
}

impl<L: Link> Session<L> {
    /// A flow task ended: it leaves the registry (unless replaced meanwhile), its notification target stays.
    pub(super) fn on_done(&mut self, done: Done) {
        if self
            .flows
            .get(&done.flow_id)
            .is_some_and(|f| f.generation == done.generation)
        {
            self.flows.remove(&done.flow_id);
        }
        if let Some(n) = done.notification {
            let ttl = self.engine.config().notification_ttl;
            self.notifications.insert(done.flow_id, (n, Instant::now() + ttl));
        }
    }

    /// Starts the flow of a `flow_start`; `false` ends the session.
    pub(super) async fn start_flow(&mut self, start: FlowStart) -> bool {
        if self.expired {
            self.auth_expired().await;
            return false;
        }
        let id = start.flow_id.clone();
        if let Some(old) = self.flows.remove(&id) {
            // Same id: the old flow ends silently (the web client reuses an abandoned flow's id).
            old.silent.cancel();
        }
        let Some(protocol) = start.protocol else {
            self.send(ServerMessage::flow_error(
                &id,
                None,
                ErrorCode::InvalidMessage,
                "flow_start needs `protocol`",
            ))
            .await;
            return true;
        };
        if let Err(r) = crate::tenant_policy::admit_flow(&self.engine, &self.user, protocol).await {
            self.send(ServerMessage::flow_error(&id, None, r.code, r.message)).await;
            if r.end_session {
                // The tenant was disabled (or removed) since the handshake: its token is no longer accepted.
                self.close(super::CLOSE_AUTH, "tenant refused").await;
                return false;
            }
            return true;
        }
        if self.flows.len() >= self.engine.config().max_flows_per_session {
            self.send(ServerMessage::flow_error(
                &id,
                None,
                ErrorCode::TooManyRequests,
                format!(
                    "at most {} flows may run at once",
                    self.engine.config().max_flows_per_session
                ),
            ))
            .await;
            return true;
        }
        self.generation += 1;
        let (inbox_tx, inbox_rx) = mpsc::channel(self.engine.config().flow_inbox_frames.max(1));
        let out = self.sender().await;
        let handle = FlowHandle {
            generation: self.generation,
            inbox: inbox_tx,
            silent: CancellationToken::new(),
            cancel: CancellationToken::new(),
        };
        let ctx = FlowCtx {
            engine: self.engine.clone(),
            flow_id: id.clone(),
            user: self.user.clone(),
            web_profile: self.web_profile,
            features: self.features.clone(),
            out,
            inbox: inbox_rx,
            step: None,
            notification: None,
        };
        // Registered before the next frame is read, so an action right behind flow_start finds its inbox.
        tokio::spawn(run_flow(
            ctx,
            protocol,
            start,
            handle.silent.clone(),
            handle.cancel.clone(),
            self.generation,
        ));
        self.flows.insert(id, handle);
        true
    }

    /// Forwards a credential notification to the issuer of a finished flow (once per notification id).
    pub(super) async fn notify(&mut self, n: CredentialNotification) {
        let now = Instant::now();
        self.notifications.retain(|_, (_, until)| *until > now);
        let target = match self.notifications.get_mut(&n.flow_id) {
            Some((t, _)) if t.ids.iter().any(|i| i == &n.notification_id) => {
                // Single use per notification id.
                t.ids.retain(|i| i != &n.notification_id);
                Some(t.clone())
            }
            _ => None,
        };
        let out = self.sender().await;
        let engine = self.engine.clone();
        tokio::spawn(async move {
            let status = match target {
                None => Err(ErrorBody {
                    code: ErrorCode::UnknownFlow,
                    message: "no notification is pending for this flow and id".into(),
                    details: None,
                }),
                Some(t) => oid4vci::notify::forward(&engine, &t, &n).await,
            };
            let (status, error) = match status {
                Ok(()) => ("forwarded", None),
                Err(e) => ("rejected", Some(e)),
            };
            let msg = ServerMessage::NotificationAck {
                flow_id: n.flow_id,
                notification_id: n.notification_id,
                status: status.into(),
                error,
            };
            let _ = out.send(Outbound::message(msg)).await;
        });
    }
}

async fn run_flow(
    mut ctx: FlowCtx,
    protocol: Protocol,
    start: FlowStart,
    silent: CancellationToken,
    cancel: CancellationToken,
    generation: u64,
) {
    let flow_id = ctx.flow_id.clone();
    let flow_timeout = ctx.engine.config().flow_timeout;
    let cancel_code = match protocol {
        Protocol::Oid4vci => ErrorCode::CredentialError,
        Protocol::Oid4vp => ErrorCode::PresentationError,
        Protocol::Vctm => ErrorCode::MetadataFetchError,
    };
    let outcome = {
        let body = async {
            match protocol {
                Protocol::Oid4vci => oid4vci::run(&mut ctx, start).await,
                Protocol::Vctm => vctm::run(&mut ctx, start).await,
                Protocol::Oid4vp => oid4vp::run(&mut ctx, start).await,
            }
        };
        tokio::select! {
            biased;
            _ = silent.cancelled() => None,
            _ = cancel.cancelled() => Some(Err(FlowFailure::new(cancel_code, "cancelled by the client"))),
            r = tokio::time::timeout(flow_timeout, body) => Some(r.unwrap_or_else(|_| {
                Err(FlowFailure::new(ErrorCode::FlowTimeout, "the flow took longer than the flow timeout"))
            })),
        }
    };
    match outcome {
        None => {}
        Some(Ok(complete)) => ctx.send(ServerMessage::FlowComplete(complete)).await,
        Some(Err(f)) => {
            tracing::debug!(flow_id = %flow_id, step = ?ctx.step, code = %f.code, "flow failed");
            ctx.send(ServerMessage::FlowError {
                flow_id: flow_id.clone(),
                step: ctx.step.clone(),
                error: ErrorBody {
                    code: f.code,
                    message: f.message,
                    details: f.details,
                },
            })
            .await;
        }
    }
    let done = Done {
        flow_id,
        generation,
        notification: ctx.notification.take(),
    };
    let _ = ctx.out.send(Outbound::Done(Box::new(done))).await;
}

/// An empty `flow_complete` for `flow_id` (flows fill in what they produce).
pub(crate) fn complete(flow_id: &str) -> FlowComplete {
    FlowComplete {
        flow_id: flow_id.to_string(),
        ..FlowComplete::default()
    }
}
