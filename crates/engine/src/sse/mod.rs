//! API v2 over Server-Sent Events (docs/api-v2.md, "API v2 over Server-Sent Events"): the same session as over a
//! WebSocket, on a link made of one event stream (server frames, numbered for `Last-Event-ID`) and one POST per
//! client frame.
//!
//! The session task owns the [`SseLink`]: the queue of posted frames, the replay window of the frames it wrote, and
//! the sender of the attached stream (at most one; a new stream replaces it). HTTP handlers ([`routes`]) reach a
//! session through the [`Registry`] by its id, an unguessable capability bound to the user who created it; the
//! entry goes when the session task ends.

pub(crate) mod routes;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::Event;
use tokio::sync::{mpsc, oneshot};

use crate::Engine;
use crate::session::link::{Inbound, Link};

/// One chunk of an event stream.
pub(crate) type Chunk = Result<Event, Infallible>;

/// What the HTTP handlers know of a live SSE session.
pub(crate) struct Entry {
    pub(crate) user_id: String,
    pub(crate) tenant_id: String,
    /// The `Origin` the session was created from (later requests that send one must send the same).
    pub(crate) origin: Option<String>,
    /// Posted client frames.
    pub(crate) inbound: mpsc::Sender<String>,
    /// Stream attachments.
    pub(crate) attach: mpsc::Sender<Attach>,
    /// `handshake_complete` was written: posted frames may be up to `engine.max_message_bytes`.
    pub(crate) authenticated: AtomicBool,
}

/// A stream asks for the frames after `last_event_id`, then every later one.
pub(crate) struct Attach {
    pub(crate) last_event_id: u64,
    pub(crate) reply: oneshot::Sender<Result<mpsc::Receiver<Chunk>, OutsideWindow>>,
}

/// `Last-Event-ID` names a frame the window no longer holds (or one never sent).
#[derive(Debug)]
pub(crate) struct OutsideWindow {
    /// The oldest resumable `Last-Event-ID`.
    pub(crate) oldest: u64,
    /// The newest frame's id.
    pub(crate) newest: u64,
}

/// The live SSE sessions of an engine, by id.
#[derive(Default)]
pub(crate) struct Registry(Mutex<HashMap<String, Arc<Entry>>>);

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts and removes).
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.lock().get(id).cloned()
    }

    fn insert(&self, id: String, entry: Arc<Entry>) {
        self.lock().insert(id, entry);
    }

    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Live SSE sessions.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A new session id: 256 random bits, hex.
fn new_session_id() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session side of an SSE session.
pub(crate) struct SseLink {
    engine: Engine,
    id: String,
    entry: Arc<Entry>,
    inbound: mpsc::Receiver<String>,
    attach: mpsc::Receiver<Attach>,
    /// The attached stream, if any.
    stream: Option<mpsc::Sender<Chunk>>,
    /// The newest frames written, oldest first, with their ids (the window for `Last-Event-ID`).
    window: VecDeque<(u64, Arc<str>)>,
    window_bytes: usize,
    /// The id of the last frame written (0: none yet).
    last_id: u64,
    /// The id of the last frame handed to a stream.
    handed: u64,
}

impl SseLink {
    /// Registers a session for `user` (created from `origin`) and returns its id and link.
    pub(crate) fn register(
        engine: &Engine,
        user_id: &str,
        tenant_id: &str,
        origin: Option<String>,
    ) -> (String, SseLink) {
        let cfg = engine.config();
        let (inbound_tx, inbound) = mpsc::channel(cfg.sse_inbound_frames.max(1));
        let (attach_tx, attach) = mpsc::channel(4);
        let entry = Arc::new(Entry {
            user_id: user_id.to_string(),
            tenant_id: tenant_id.to_string(),
            origin,
            inbound: inbound_tx,
            attach: attach_tx,
            authenticated: AtomicBool::new(false),
        });
        let id = new_session_id();
        engine.sse().insert(id.clone(), entry.clone());
        let link = SseLink {
            engine: engine.clone(),
            id: id.clone(),
            entry,
            inbound,
            attach,
            stream: None,
            window: VecDeque::new(),
            window_bytes: 0,
            last_id: 0,
            handed: 0,
        };
        (id, link)
    }

    fn event(id: u64, frame: &str) -> Chunk {
        Ok(Event::default().id(id.to_string()).data(frame))
    }

    /// Attaches a stream that has seen the frames up to `a.last_event_id`; the previous stream (if any) ends.
    fn on_attach(&mut self, a: Attach) {
        let oldest = self.window.front().map_or(self.last_id, |(id, _)| id - 1);
        if a.last_event_id < oldest || a.last_event_id > self.last_id {
            let _ = a.reply.send(Err(OutsideWindow {
                oldest,
                newest: self.last_id,
            }));
            return;
        }
        let replay: Vec<_> = self
            .window
            .iter()
            .filter(|(id, _)| *id > a.last_event_id)
            .map(|(id, f)| Self::event(*id, f))
            .collect();
        let cap = replay.len() + self.engine.config().sse_stream_queue_frames.max(1);
        let (tx, rx) = mpsc::channel(cap);
        // A comment first, so the response starts at once (and proxies see bytes).
        let _ = tx.try_send(Ok(Event::default().comment("walletd api v2")));
        for chunk in replay {
            let _ = tx.try_send(chunk);
        }
        if a.reply.send(Ok(rx)).is_ok() {
            self.stream = Some(tx);
            self.handed = self.last_id;
        }
    }
}

/// Resolves when the attached stream's response is gone; never without one.
async fn stream_gone(stream: &Option<mpsc::Sender<Chunk>>) {
    match stream {
        Some(tx) => tx.closed().await,
        None => std::future::pending().await,
    }
}

impl Link for SseLink {
    async fn recv(&mut self) -> Inbound {
        tokio::select! {
            biased;
            a = self.attach.recv() => {
                if let Some(a) = a {
                    self.on_attach(a);
                }
                Inbound::Alive
            }
            () = stream_gone(&self.stream) => {
                // Detached: the read deadline (engine.sse_linger) starts now.
                self.stream = None;
                Inbound::Alive
            }
            t = self.inbound.recv() => match t {
                Some(t) => Inbound::Text(t),
                None => Inbound::Closed,
            },
        }
    }

    async fn send(&mut self, text: String, limit: Duration) -> bool {
        let cfg = self.engine.config();
        self.last_id += 1;
        let id = self.last_id;
        let frame: Arc<str> = text.into();
        self.window_bytes += frame.len();
        self.window.push_back((id, frame.clone()));
        while self.window.len() > 1
            && (self.window.len() > cfg.sse_replay_frames || self.window_bytes > cfg.sse_replay_bytes)
        {
            if let Some((old, f)) = self.window.pop_front() {
                self.window_bytes -= f.len();
                if old > self.handed {
                    // No stream ever took it and nobody can resume before it: the client cannot see every frame.
                    tracing::debug!("sse session lost a frame that was never streamed; ending it");
                    return false;
                }
            }
        }
        if let Some(tx) = &self.stream {
            match tokio::time::timeout(limit, tx.send(Self::event(id, &frame))).await {
                Ok(Ok(())) => self.handed = id,
                // A stream that takes nothing is detached; the frame stays in the window for a resumption.
                _ => self.stream = None,
            }
        }
        true
    }

    async fn ping(&mut self, _limit: Duration) -> bool {
        if let Some(tx) = &self.stream
            && let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(Ok(Event::default().comment("keepalive")))
        {
            self.stream = None;
        }
        true
    }

    async fn close(&mut self, code: u16, reason: &'static str, limit: Duration) -> bool {
        if let Some(tx) = self.stream.take() {
            let data = serde_json::json!({"code": code, "reason": reason}).to_string();
            let _ = tokio::time::timeout(limit, tx.send(Ok(Event::default().event("close").data(data)))).await;
        }
        // Nothing is accepted any more: the session ends after this.
        self.engine.sse().remove(&self.id);
        true
    }

    async fn settle(&mut self, _wait: Duration) {}

    fn read_timeout(&self, cfg: &walletd_common::config::EngineConfig) -> Option<Duration> {
        Some(cfg.sse_linger)
    }

    fn authenticated(&mut self) {
        self.entry.authenticated.store(true, Ordering::Release);
    }

    fn attached(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| !s.is_closed())
    }
}

impl Drop for SseLink {
    fn drop(&mut self) {
        self.engine.sse().remove(&self.id);
    }
}
