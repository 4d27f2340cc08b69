//! One WebSocket session: handshake (with buffering), keepalive, the flow registry, and routing client frames
//! to flow inboxes. Flows run as tasks; each sends exactly one terminal frame unless silently replaced.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use walletd_common::http::AuthUser;
use walletd_protocol::{
    ClientMessage, CredentialNotification, ErrorBody, ErrorCode, FlowComplete, FlowStart, KNOWN_FEATURES, Protocol,
    ServerFrame, ServerMessage, capabilities, parse_client_frame,
};

use crate::failure::FlowFailure;
use crate::flow::{FlowCtx, FlowInput, NotificationTarget};
use crate::{ConnectionSlot, Engine, oid4vci, oid4vp, vctm};

/// Close codes used by the engine.
const CLOSE_AUTH: u16 = 4001;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_POLICY: u16 = 1008;

/// What the writer task sends.
#[derive(Debug)]
pub(crate) enum Outbound {
    Text(String),
    Ping,
    Close(u16, &'static str),
}

impl Outbound {
    pub(crate) fn message(msg: ServerMessage) -> Self {
        Outbound::Text(ServerFrame::now(msg).to_json())
    }
}

/// A running flow as the session sees it.
struct FlowHandle {
    generation: u64,
    inbox: mpsc::Sender<FlowInput>,
    /// Cancels without a terminal frame (replaced by a same-id `flow_start`, or the socket went away).
    silent: CancellationToken,
    /// Cancels with a terminal frame (`cancel` action).
    cancel: CancellationToken,
}

/// A flow task's report when it ends.
struct Done {
    flow_id: String,
    generation: u64,
    // Boxed: tokio's mpsc allocates its first block of 32 slots when the channel is created, so the slot size is
    // paid by every idle session (docs/performance.md, "Engine").
    notification: Option<Box<NotificationTarget>>,
}

struct Session {
    engine: Engine,
    user: AuthUser,
    features: Vec<String>,
    web_profile: bool,
    out: mpsc::Sender<Outbound>,
    done_tx: mpsc::Sender<Done>,
    flows: HashMap<String, FlowHandle>,
    generation: u64,
    notifications: HashMap<String, (NotificationTarget, Instant)>,
    expired: bool,
}

pub(crate) async fn run(engine: Engine, socket: WebSocket, slot: ConnectionSlot) {
    let _slot = slot;
    let (sink, mut stream) = socket.split();
    let (out, out_rx) = mpsc::channel::<Outbound>(64);
    let writer = tokio::spawn(write_loop(sink, out_rx));

    let Some((user, features, web_profile, buffered)) = handshake(&engine, &mut stream, &out).await else {
        drop(out);
        let _ = writer.await;
        return;
    };
    let (done_tx, mut done_rx) = mpsc::channel::<Done>(64);
    let mut s = Session {
        engine: engine.clone(),
        user,
        features,
        web_profile,
        out: out.clone(),
        done_tx,
        flows: HashMap::new(),
        generation: 0,
        notifications: HashMap::new(),
        expired: false,
    };
    for text in buffered {
        s.on_text(&text).await;
    }

    let cfg = engine.config().clone();
    let mut ping = tokio::time::interval_at(Instant::now() + cfg.ping_interval, cfg.ping_interval);
    let mut read_deadline = Instant::now() + cfg.read_timeout;
    let expiry = expiry_instant(s.user.expires_at);
    loop {
        tokio::select! {
            biased;
            _ = engine.shutdown_token().cancelled() => {
                s.close(CLOSE_GOING_AWAY, "server shutting down").await;
                break;
            }
            Some(done) = done_rx.recv() => {
                s.on_done(done);
                if s.expired && s.flows.is_empty() {
                    s.auth_expired().await;
                    break;
                }
            }
            _ = sleep_until(expiry), if !s.expired => {
                // (fix) Running flows finish; the socket closes with 4001 once none is left.
                s.expired = true;
                if s.flows.is_empty() {
                    s.auth_expired().await;
                    break;
                }
            }
            _ = ping.tick() => {
                let _ = s.out.send(Outbound::Ping).await;
            }
            _ = sleep_until(read_deadline) => {
                s.close(CLOSE_GOING_AWAY, "read timeout").await;
                break;
            }
            frame = stream.next() => {
                read_deadline = Instant::now() + cfg.read_timeout;
                match frame {
                    Some(Ok(Message::Text(t))) => {
                        if !s.on_text(t.as_str()).await {
                            break;
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        s.send(ServerMessage::error(ErrorCode::InvalidMessage, "binary frames are not accepted; send JSON text")).await;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => {
                        let text = e.to_string();
                        if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
                            s.send(ServerMessage::error(ErrorCode::InvalidMessage, format!("frame exceeds {} bytes", cfg.max_message_bytes))).await;
                            s.close(CLOSE_TOO_BIG, "frame too large").await;
                        }
                        break;
                    }
                }
            }
        }
    }
    // Disconnect: every flow and its outbound calls are cancelled; nothing is kept.
    for (_, f) in s.flows.drain() {
        f.silent.cancel();
    }
    drop(s);
    drop(out);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

fn expiry_instant(exp: u64) -> Instant {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Instant::now() + Duration::from_secs(exp.saturating_sub(now).min(365 * 24 * 3600))
}

async fn write_loop(mut sink: futures::stream::SplitSink<WebSocket, Message>, mut rx: mpsc::Receiver<Outbound>) {
    while let Some(o) = rx.recv().await {
        let result = match o {
            Outbound::Text(t) => sink.send(Message::Text(Utf8Bytes::from(t))).await,
            Outbound::Ping => sink.send(Message::Ping(Default::default())).await,
            Outbound::Close(code, reason) => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: Utf8Bytes::from_static(reason),
                    })))
                    .await;
                break;
            }
        };
        if result.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

type Handshaken = (AuthUser, Vec<String>, bool, Vec<String>);

/// Waits for the handshake frame (buffering others), validates the token, answers. `None` means the socket is done.
async fn handshake(
    engine: &Engine,
    stream: &mut futures::stream::SplitStream<WebSocket>,
    out: &mpsc::Sender<Outbound>,
) -> Option<Handshaken> {
    let cfg = engine.config();
    let deadline = Instant::now() + cfg.handshake_timeout;
    let mut buffered: VecDeque<String> = VecDeque::new();
    let fail = |message: &str| {
        let m = ServerMessage::error(ErrorCode::AuthFailed, message);
        (
            Outbound::message(m),
            Outbound::Close(CLOSE_AUTH, "authentication failed"),
        )
    };
    let hs = loop {
        let frame = tokio::select! {
            _ = engine.shutdown_token().cancelled() => {
                let _ = out.send(Outbound::Close(CLOSE_GOING_AWAY, "server shutting down")).await;
                return None;
            }
            _ = sleep_until(deadline) => {
                let (m, c) = fail("no handshake within the handshake timeout");
                let _ = out.send(m).await;
                let _ = out.send(c).await;
                return None;
            }
            f = stream.next() => f,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                let (m, c) = fail("the first frame must be a JSON handshake");
                let _ = out.send(m).await;
                let _ = out.send(c).await;
                return None;
            }
            _ => return None,
        };
        if text.len() > cfg.max_handshake_bytes {
            let m = ServerMessage::error(ErrorCode::InvalidMessage, "frame exceeds the pre-handshake limit");
            let _ = out.send(Outbound::message(m)).await;
            let _ = out
                .send(Outbound::Close(CLOSE_TOO_BIG, "frame too large before handshake"))
                .await;
            return None;
        }
        match parse_client_frame(text.as_str()) {
            Ok(ClientMessage::Handshake(h)) => break h,
            Err(e) if e.flow_id.is_none() && text.contains("\"handshake\"") => {
                let (m, c) = fail(&format!("invalid handshake: {}", e.message));
                let _ = out.send(m).await;
                let _ = out.send(c).await;
                return None;
            }
            _ => {
                // The web client does not wait for handshake_complete: keep the frame for after the handshake.
                if buffered.len() >= cfg.max_buffered_frames {
                    let m = ServerMessage::error(ErrorCode::TooManyRequests, "too many frames before the handshake");
                    let _ = out.send(Outbound::message(m)).await;
                    let _ = out
                        .send(Outbound::Close(CLOSE_POLICY, "too many frames before handshake"))
                        .await;
                    return None;
                }
                buffered.push_back(text.to_string());
            }
        }
    };
    let user = match engine.authenticator().authenticate(&hs.app_token).await {
        Ok(u) => u,
        Err(e) => {
            let (m, c) = fail(&format!("authentication failed: {e}"));
            let _ = out.send(m).await;
            let _ = out.send(c).await;
            return None;
        }
    };
    let web_profile = hs.features.is_none();
    let mut features: Vec<String> = hs
        .features
        .unwrap_or_default()
        .into_iter()
        .filter(|f| KNOWN_FEATURES.contains(&f.as_str()))
        .collect();
    features.sort();
    features.dedup();
    let msg = ServerMessage::HandshakeComplete {
        session_id: uuid::Uuid::new_v4().to_string(),
        capabilities: capabilities(),
        features: features.clone(),
    };
    let _ = out.send(Outbound::message(msg)).await;
    tracing::debug!(tenant = %user.tenant_id, "engine session authenticated");
    Some((user, features, web_profile, buffered.into()))
}

impl Session {
    async fn send(&self, msg: ServerMessage) {
        let _ = self.out.send(Outbound::message(msg)).await;
    }

    async fn close(&self, code: u16, reason: &'static str) {
        let _ = self.out.send(Outbound::Close(code, reason)).await;
    }

    async fn auth_expired(&self) {
        self.send(ServerMessage::error(ErrorCode::AuthFailed, "the access token expired"))
            .await;
        self.close(CLOSE_AUTH, "token expired").await;
    }

    fn on_done(&mut self, done: Done) {
        if self
            .flows
            .get(&done.flow_id)
            .is_some_and(|f| f.generation == done.generation)
        {
            self.flows.remove(&done.flow_id);
        }
        if let Some(n) = done.notification {
            let ttl = self.engine.config().notification_ttl;
            self.notifications.insert(done.flow_id, (*n, Instant::now() + ttl));
        }
    }

    /// Handles one text frame; `false` ends the session.
    async fn on_text(&mut self, text: &str) -> bool {
        let msg = match parse_client_frame(text) {
            Ok(m) => m,
            Err(e) => {
                let reply = match e.flow_id {
                    Some(id) => ServerMessage::flow_error(&id, None, ErrorCode::InvalidMessage, e.message),
                    None => ServerMessage::error(ErrorCode::InvalidMessage, e.message),
                };
                self.send(reply).await;
                return true;
            }
        };
        match msg {
            ClientMessage::Handshake(_) => {
                self.send(ServerMessage::error(
                    ErrorCode::InvalidMessage,
                    "the session is already authenticated",
                ))
                .await;
            }
            ClientMessage::FlowStart(start) => return self.start_flow(*start).await,
            ClientMessage::FlowAction(a) if a.action == "cancel" => match self.flows.get(&a.flow_id) {
                Some(f) => f.cancel.cancel(),
                None => self.unknown_flow(&a.flow_id).await,
            },
            ClientMessage::FlowAction(a) => {
                let id = a.flow_id.clone();
                self.deliver(&id, FlowInput::Action(a)).await;
            }
            ClientMessage::SignResponse(r) => {
                let id = r.flow_id.clone();
                self.deliver(&id, FlowInput::Sign(r)).await;
            }
            ClientMessage::MatchResponse(r) => {
                let id = r.flow_id.clone();
                self.deliver(&id, FlowInput::Match(r)).await;
            }
            ClientMessage::CredentialNotification(n) => self.notify(n),
        }
        true
    }

    async fn unknown_flow(&self, flow_id: &str) {
        self.send(ServerMessage::flow_error(
            flow_id,
            None,
            ErrorCode::UnknownFlow,
            "no running flow has this id",
        ))
        .await;
    }

    async fn deliver(&mut self, flow_id: &str, input: FlowInput) {
        let Some(f) = self.flows.get(flow_id) else {
            return self.unknown_flow(flow_id).await;
        };
        if f.inbox.try_send(input).is_err() {
            // Not a flow_error: that would end the flow in the client's eyes while it still runs.
            self.send(ServerMessage::error(
                ErrorCode::TooManyRequests,
                "too many frames queued for this flow; frame dropped",
            ))
            .await;
        }
    }

    async fn start_flow(&mut self, start: FlowStart) -> bool {
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
            out: self.out.clone(),
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
            self.done_tx.clone(),
        ));
        self.flows.insert(id, handle);
        true
    }

    fn notify(&mut self, n: CredentialNotification) {
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
        let out = self.out.clone();
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
    done: mpsc::Sender<Done>,
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
    let _ = done
        .send(Done {
            flow_id,
            generation,
            notification: ctx.notification.take().map(Box::new),
        })
        .await;
}

/// An empty `flow_complete` for `flow_id` (flows fill in what they produce).
pub(crate) fn complete(flow_id: &str) -> FlowComplete {
    FlowComplete {
        flow_id: flow_id.to_string(),
        ..FlowComplete::default()
    }
}
