//! One API v2 session: handshake (with buffering), keepalive, the flow registry, and routing client frames to flow
//! inboxes. Flows run as tasks; each sends exactly one terminal frame unless silently replaced.
//!
//! A session is ONE task that owns its link (a WebSocket, an SSE stream plus POSTed frames, or in-memory channels;
//! [`link`]): it selects over the link, the session's outbound queue and one timer (keepalive ping, read deadline,
//! token expiry), and writes every frame itself. The session code is the same for every link. An idle authenticated session
//! is that task's state and the socket, nothing more (docs/performance.md, "Engine"): the outbound queue exists only
//! while a flow or a notification forward can write to it, and the rarely needed big futures (handshake with token
//! validation, handling a frame) are boxed so the idle task does not reserve room for them.
//!
//! The handshake is in [`handshake`], the flow registry (flow tasks, notifications) in [`flows`], the links in
//! [`link`] and [`local`]; this module is the session task and the routing of frames.

mod flows;
mod handshake;
pub(crate) mod link;
pub(crate) mod local;

use std::collections::HashMap;
use std::pin::pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use walletd_common::http::AuthUser;
use walletd_protocol::{ClientMessage, ErrorCode, ServerFrame, ServerMessage, parse_client_frame};

use self::flows::{Done, FlowHandle};
use self::link::{Inbound, Link};
use crate::flow::{FlowInput, NotificationTarget};
use crate::{ConnectionSlot, Engine};

pub(crate) use self::flows::complete;

/// Close codes used by the engine (WebSocket close codes; the other links carry them too).
pub(crate) const CLOSE_AUTH: u16 = 4001;
pub(crate) const CLOSE_GOING_AWAY: u16 = 1001;
pub(crate) const CLOSE_TOO_BIG: u16 = 1009;
pub(crate) const CLOSE_POLICY: u16 = 1008;

/// Who the session's handshake may admit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Whoever the handshake's `app_token` names (WebSocket).
    Token,
    /// The user the session was created for (SSE: the session was created with a validated bearer token and the
    /// user's budget spent); the handshake's `app_token` is validated too and must name the same user and tenant.
    SameUser,
    /// The user the session was created for, already authenticated by the embedding program (in-memory link); the
    /// handshake frame is still expected (for its `features`), its `app_token` is not looked at.
    Trusted,
}

/// What a session's tasks hand to the session task, in order.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A frame for the socket.
    Text(String),
    /// An informational `flow_progress` frame: it may wait up to `engine.progress_hold` to share one write (and one
    /// wake-up of the client) with the frames after it. Held frames always leave before any later frame.
    Progress(String),
    /// Writes the held progress frames now (a flow is about to wait for the client).
    Flush,
    /// A flow task ended. Sent after its terminal frame on the same queue, so it is handled after that frame is out.
    Done(Box<Done>),
}

impl Outbound {
    pub(crate) fn message(msg: ServerMessage) -> Self {
        Outbound::Text(ServerFrame::now(msg).to_json())
    }

    pub(crate) fn progress(msg: ServerMessage) -> Self {
        Outbound::Progress(ServerFrame::now(msg).to_json())
    }
}

struct Session<L> {
    engine: Engine,
    link: L,
    _slot: ConnectionSlot,
    /// The authenticated user (before the handshake: the user an [`Admission::SameUser`]/`Trusted` session is for).
    user: AuthUser,
    admission: Admission,
    features: Vec<String>,
    web_profile: bool,
    /// The outbound queue's receiving end, while some task may still write to it.
    rx: Option<mpsc::Receiver<Outbound>>,
    /// The queue's sending end, held weakly: the queue lives exactly as long as the tasks that hold a sender (running
    /// flows, notification forwards), so an idle session has none.
    tx: Option<mpsc::WeakSender<Outbound>>,
    flows: HashMap<String, FlowHandle>,
    generation: u64,
    notifications: HashMap<String, (NotificationTarget, Instant)>,
    /// Progress frames held back (in queue order) to leave with the next frame, and the latest time they may wait
    /// until (`engine.progress_hold` after the first of them).
    held: Vec<String>,
    flush_at: Option<Instant>,
    expired: bool,
    /// A write failed or timed out: the link is gone.
    broken: bool,
}

/// The WebSocket session task (see [`run_link`]).
pub(crate) fn run(
    engine: Engine,
    ws: axum::extract::ws::WebSocket,
    slot: ConnectionSlot,
) -> impl Future<Output = ()> + Send {
    run_link(engine, link::WsLink(ws), slot, Admission::Token, None)
}

/// The session task's future over `link`. Not an `async fn`: the session state is built here and captured once,
/// then used in place (an `async fn` would keep its by-value arguments, the link among them, next to the state they
/// were moved into). `user` is the user of a [`Admission::SameUser`] or [`Admission::Trusted`] session.
pub(crate) fn run_link<L: Link>(
    engine: Engine,
    link: L,
    slot: ConnectionSlot,
    admission: Admission,
    user: Option<AuthUser>,
) -> impl Future<Output = ()> + Send {
    let mut s = Session {
        engine,
        link,
        _slot: slot,
        user: user.unwrap_or(AuthUser {
            user_id: String::new(),
            tenant_id: String::new(),
            expires_at: 0,
        }),
        admission,
        features: Vec::new(),
        web_profile: true,
        rx: None,
        tx: None,
        flows: HashMap::new(),
        generation: 0,
        notifications: HashMap::new(),
        held: Vec::new(),
        flush_at: None,
        expired: false,
        broken: false,
    };
    async move { s.serve().await }
}

/// What woke the session task.
enum Event {
    Shutdown,
    Queue(Option<Outbound>),
    Timer,
    Frame(Inbound),
}

/// The session's deadlines.
struct Clock {
    ping_every: Duration,
    read_timeout: Duration,
    next_ping: Instant,
    read_deadline: Instant,
    expiry: Instant,
}

/// A deadline that never comes (a year).
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

impl Clock {
    fn new(cfg: &walletd_common::config::EngineConfig, read_timeout: Option<Duration>, expires_at: u64) -> Clock {
        let now = Instant::now();
        let read_timeout = read_timeout.unwrap_or(NEVER);
        Clock {
            ping_every: cfg.ping_interval,
            read_timeout,
            next_ping: now + cfg.ping_interval,
            read_deadline: now + read_timeout,
            expiry: expiry_instant(expires_at),
        }
    }

    /// The earliest deadline (the token's expiry only until it has passed once).
    fn wake(&self, expired: bool) -> Instant {
        let wake = self.next_ping.min(self.read_deadline);
        if expired { wake } else { wake.min(self.expiry) }
    }
}

/// The next item of the outbound queue; never ready while there is none.
async fn next(rx: &mut Option<mpsc::Receiver<Outbound>>) -> Option<Outbound> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn expiry_instant(exp: u64) -> Instant {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Instant::now() + Duration::from_secs(exp.saturating_sub(now)).min(NEVER)
}

fn text(msg: ServerMessage) -> String {
    ServerFrame::now(msg).to_json()
}

impl<L: Link> Session<L> {
    /// Handshake, then the session's loop until the link or the session ends.
    async fn serve(&mut self) {
        // Boxed: token validation (possibly a JWKS fetch) is a big future needed once.
        let Some(buffered) = Box::pin(self.handshake()).await else {
            return;
        };
        let shutdown = self.engine.shutdown_token().clone();
        let mut clock = Clock::new(
            self.engine.config(),
            self.link.read_timeout(self.engine.config()),
            self.user.expires_at,
        );
        let mut open = true;
        for text in buffered {
            if !Box::pin(self.on_text(&text)).await || self.broken {
                open = false;
                break;
            }
        }
        // One timer for the keepalive ping, the read deadline and the token expiry, reset to the earliest of them.
        let mut timer = pin!(sleep_until(clock.wake(false)));
        while open {
            let wake = match self.flush_at {
                Some(at) => clock.wake(self.expired).min(at),
                None => clock.wake(self.expired),
            };
            if timer.deadline() != wake {
                timer.as_mut().reset(wake);
            }
            // Only events here; what they cause runs in a boxed future, so the idle task keeps no room for it.
            let event = tokio::select! {
                biased;
                _ = shutdown.cancelled() => Event::Shutdown,
                o = next(&mut self.rx) => Event::Queue(o),
                () = &mut timer => Event::Timer,
                f = self.link.recv() => Event::Frame(f),
            };
            open = Box::pin(self.handle(event, &mut clock)).await;
        }
        // Disconnect: every flow and its outbound calls are cancelled; nothing is kept. Flows waiting on a full
        // queue see it closed when the session (the receiver) goes.
        for (_, f) in self.flows.drain() {
            f.silent.cancel();
        }
    }

    /// Handles one event of the session task; `false` ends the session.
    async fn handle(&mut self, event: Event, clock: &mut Clock) -> bool {
        match event {
            Event::Shutdown => {
                self.close(CLOSE_GOING_AWAY, "server shutting down").await;
                return false;
            }
            Event::Queue(o) => self.on_outbound(o).await,
            Event::Timer => {
                let now = Instant::now();
                if self.flush_at.is_some_and(|at| now >= at) {
                    self.write_out(None, true).await;
                }
                if now >= clock.read_deadline {
                    if !self.link.attached() {
                        self.close(CLOSE_GOING_AWAY, "read timeout").await;
                        return false;
                    }
                    clock.read_deadline = now + clock.read_timeout;
                }
                if !self.expired && now >= clock.expiry {
                    // (fix) Running flows finish; the socket closes with 4001 once none is left (below).
                    self.expired = true;
                }
                if now >= clock.next_ping {
                    clock.next_ping = now + clock.ping_every;
                    let limit = self.engine.config().read_timeout;
                    if !self.broken && !self.link.ping(limit).await {
                        self.broken = true;
                    }
                }
            }
            Event::Frame(frame) => {
                // Any frame (pong or message) extends the read deadline.
                clock.read_deadline = Instant::now() + clock.read_timeout;
                match frame {
                    Inbound::Text(t) if t.len() > self.engine.config().max_message_bytes => {
                        self.too_big().await;
                        return false;
                    }
                    Inbound::Text(t) => {
                        if !self.on_text(&t).await {
                            return false;
                        }
                    }
                    Inbound::Binary => {
                        let m = ServerMessage::error(
                            ErrorCode::InvalidMessage,
                            "binary frames are not accepted; send JSON text",
                        );
                        self.send(m).await;
                    }
                    Inbound::Alive => {}
                    Inbound::TooBig => {
                        self.too_big().await;
                        return false;
                    }
                    Inbound::Closed => return false,
                }
            }
        }
        if self.expired && self.flows.is_empty() && !self.broken {
            self.auth_expired().await;
            return false;
        }
        !self.broken
    }

    /// Writes one frame (after any held progress frames); a failure marks the session broken (it ends at the top of
    /// its loop).
    async fn write(&mut self, frame: String) {
        if !self.held.is_empty() {
            return self.write_out(Some(frame), false).await;
        }
        if !self.broken && !self.link.send(frame, self.engine.config().read_timeout).await {
            self.broken = true;
        }
    }

    async fn send(&mut self, msg: ServerMessage) {
        self.write(text(msg)).await;
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        if !self.held.is_empty() {
            self.write_out(None, false).await;
        }
        if !self.broken && !self.link.close(code, reason, self.engine.config().read_timeout).await {
            self.broken = true;
        }
    }

    async fn too_big(&mut self) {
        let max = self.engine.config().max_message_bytes;
        let m = ServerMessage::error(ErrorCode::InvalidMessage, format!("frame exceeds {max} bytes"));
        self.send(m).await;
        self.close(CLOSE_TOO_BIG, "frame too large").await;
    }

    async fn auth_expired(&mut self) {
        self.send(ServerMessage::error(ErrorCode::AuthFailed, "the access token expired"))
            .await;
        self.close(CLOSE_AUTH, "token expired").await;
    }

    /// A sender on the outbound queue, creating the queue when no task holds one.
    async fn sender(&mut self) -> mpsc::Sender<Outbound> {
        if let Some(tx) = self.tx.as_ref().and_then(mpsc::WeakSender::upgrade) {
            return tx;
        }
        // Every task that had the queue is gone: write what they left, then start a new one.
        if let Some(mut rx) = self.rx.take() {
            while let Ok(o) = rx.try_recv() {
                self.on_outbound(Some(o)).await;
            }
        }
        let (tx, rx) = mpsc::channel(self.engine.config().outbound_queue_frames.max(1));
        self.tx = Some(tx.downgrade());
        self.rx = Some(rx);
        tx
    }

    async fn on_outbound(&mut self, o: Option<Outbound>) {
        match o {
            Some(Outbound::Text(t)) => self.write_out(Some(t), true).await,
            Some(Outbound::Progress(t)) => self.hold(t).await,
            Some(Outbound::Flush) => self.write_out(None, true).await,
            Some(Outbound::Done(d)) => self.on_done(*d),
            None => {
                // No task holds a sender any more and the queue is drained: an idle session keeps no queue.
                self.rx = None;
                self.tx = None;
            }
        }
    }

    /// Holds a progress frame back for at most `engine.progress_hold` (writes it at once when that is 0 or when as
    /// many frames as the outbound queue takes are held already).
    async fn hold(&mut self, frame: String) {
        let cfg = self.engine.config();
        let (hold, most) = (cfg.progress_hold, cfg.outbound_queue_frames);
        self.held.push(frame);
        if hold.is_zero() || self.held.len() >= most {
            return self.write_out(None, true).await;
        }
        self.flush_at.get_or_insert_with(|| Instant::now() + hold);
    }

    /// Writes the held progress frames, then `next`, then (with `drain`) every frame the flows queued behind it, and
    /// flushes once: a flow's frames come in bursts, and one write wakes the client once instead of once per frame.
    /// The drain stops at the first item that is not a frame (handled after the flush, keeping the queue's order) and
    /// when the queue is empty; the queue is bounded (`engine.outbound_queue_frames`), so a burst is too.
    async fn write_out(&mut self, next: Option<String>, drain: bool) {
        self.flush_at = None;
        let mut frames = std::mem::take(&mut self.held);
        frames.extend(next);
        if self.broken || frames.is_empty() {
            return;
        }
        let limit = self.engine.config().read_timeout;
        let mut ok = true;
        for frame in frames {
            if ok {
                ok = self.link.feed(frame, limit).await;
            }
        }
        let mut after = None;
        while drain
            && ok
            && let Some(rx) = self.rx.as_mut()
        {
            match rx.try_recv() {
                Ok(Outbound::Text(t) | Outbound::Progress(t)) => ok = self.link.feed(t, limit).await,
                Ok(Outbound::Flush) => {}
                Ok(other) => {
                    after = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        if !(ok && self.link.flush(limit).await) {
            self.broken = true;
        }
        if let Some(Outbound::Done(d)) = after {
            self.on_done(*d);
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
            ClientMessage::CredentialNotification(n) => self.notify(n).await,
        }
        true
    }

    async fn unknown_flow(&mut self, flow_id: &str) {
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
}

#[cfg(test)]
mod tests {
    /// The size of the future a function returns (without calling it).
    fn future_size<A, B, C, F: std::future::Future>(_: impl FnOnce(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn an_idle_session_task_stays_small() {
        // Every idle authenticated socket pays for this future (the socket lives in it): the handshake, frame handling
        // and writes are boxed while they run, so what stays is the session state, one timer and the select.
        // Was 3136 bytes with a reader task plus a writer task (docs/performance.md, "Engine").
        let size = future_size(super::run);
        println!(
            "session future: {size} bytes (socket {}, session state {}, timer {})",
            std::mem::size_of::<axum::extract::ws::WebSocket>(),
            std::mem::size_of::<super::Session<super::link::WsLink>>(),
            std::mem::size_of::<tokio::time::Sleep>(),
        );
        assert!(size <= 1280, "the session future grew to {size} bytes");
    }
}
