//! What a session drives: a frame link. The session task (handshake, flows, keepalive, deadlines, close codes) is
//! written once against [`Link`]; a link only moves frames. Three exist: the WebSocket ([`WsLink`]), Server-Sent
//! Events plus POSTed frames (`crate::sse`), and in-memory channels for an embedded engine (`super::local`).

use std::future::Future;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::SinkExt;

/// What a link delivers to the session.
pub(crate) enum Inbound {
    /// A client frame (JSON text, not yet parsed).
    Text(String),
    /// A frame the protocol does not accept (a binary WebSocket frame).
    Binary,
    /// The client showed it is there without sending a frame (a pong, a stream attached or detached): the read
    /// deadline starts again.
    Alive,
    /// The client sent a frame over the link's size limit; the link is unusable.
    TooBig,
    /// The client went away (or the link failed).
    Closed,
}

/// A frame link between the session task and one client. Every method is called by the session task only.
pub(crate) trait Link: Send {
    /// The next thing the client did. Cancel safe: the session selects it against its queue and timer.
    fn recv(&mut self) -> impl Future<Output = Inbound> + Send;

    /// Writes one server frame, giving up after `limit` (a client that takes nothing for that long is gone).
    /// `false` when the link failed: the session ends.
    fn send(&mut self, text: String, limit: Duration) -> impl Future<Output = bool> + Send;

    /// Queues one server frame to go out with the next [`Link::flush`] (a burst of frames then reaches the client
    /// in one write and one wake-up). The default writes at once, for links without a write buffer of their own.
    fn feed(&mut self, text: String, limit: Duration) -> impl Future<Output = bool> + Send {
        self.send(text, limit)
    }

    /// Writes what [`Link::feed`] queued; `false` when the link failed.
    fn flush(&mut self, _limit: Duration) -> impl Future<Output = bool> + Send {
        std::future::ready(true)
    }

    /// A keepalive (WebSocket ping, SSE comment); `false` when the link failed.
    fn ping(&mut self, limit: Duration) -> impl Future<Output = bool> + Send;

    /// Tells the client the session ends with `code` (WebSocket close codes: 4001 auth, 1001 going away, 1008
    /// policy, 1009 too big). The session writes nothing after it.
    fn close(&mut self, code: u16, reason: &'static str, limit: Duration) -> impl Future<Output = bool> + Send;

    /// After a refused handshake was answered and closed: waits (at most `wait`) for the client to take it, so
    /// the error is not lost to a reset (WebSocket: read until the client's close frame).
    fn settle(&mut self, wait: Duration) -> impl Future<Output = ()> + Send;

    /// How long the client may stay silent before the session ends (`None`: never; an in-memory link ends when the
    /// client drops its sender).
    fn read_timeout(&self, cfg: &walletd_common::config::EngineConfig) -> Option<Duration>;

    /// The handshake succeeded (`handshake_complete` is written): from now on frames up to
    /// `engine.max_message_bytes` are accepted instead of `engine.max_handshake_bytes`.
    fn authenticated(&mut self) {}

    /// Whether the client is known present while silent (SSE: a stream is attached and takes keepalives); then a
    /// passed read deadline starts again instead of ending the session.
    fn attached(&self) -> bool {
        false
    }
}

/// The WebSocket link: the socket itself (its protocol layer enforces `engine.max_message_bytes`).
pub(crate) struct WsLink(pub(crate) WebSocket);

impl WsLink {
    async fn write(&mut self, msg: Message, limit: Duration) -> bool {
        matches!(tokio::time::timeout(limit, self.0.send(msg)).await, Ok(Ok(())))
    }
}

impl Link for WsLink {
    async fn recv(&mut self) -> Inbound {
        match self.0.recv().await {
            Some(Ok(Message::Text(t))) => Inbound::Text(t.as_str().to_owned()),
            Some(Ok(Message::Binary(_))) => Inbound::Binary,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Inbound::Alive,
            Some(Ok(Message::Close(_))) | None => Inbound::Closed,
            Some(Err(e)) => {
                let text = e.to_string();
                if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
                    Inbound::TooBig
                } else {
                    Inbound::Closed
                }
            }
        }
    }

    async fn send(&mut self, text: String, limit: Duration) -> bool {
        self.write(Message::Text(Utf8Bytes::from(text)), limit).await
    }

    async fn feed(&mut self, text: String, limit: Duration) -> bool {
        let msg = Message::Text(Utf8Bytes::from(text));
        matches!(tokio::time::timeout(limit, self.0.feed(msg)).await, Ok(Ok(())))
    }

    async fn flush(&mut self, limit: Duration) -> bool {
        matches!(tokio::time::timeout(limit, self.0.flush()).await, Ok(Ok(())))
    }

    async fn ping(&mut self, limit: Duration) -> bool {
        self.write(Message::Ping(Default::default()), limit).await
    }

    async fn close(&mut self, code: u16, reason: &'static str, limit: Duration) -> bool {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        self.write(Message::Close(Some(frame)), limit).await
    }

    async fn settle(&mut self, wait: Duration) {
        // Dropping a socket whose client already sent more frames (the web client does not wait for
        // handshake_complete) leaves unread input, so the kernel answers with a reset, and a reset can discard the
        // error frame before the client reads it.
        let _ = tokio::time::timeout(wait, async {
            while let Some(Ok(frame)) = self.0.recv().await {
                if matches!(frame, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    fn read_timeout(&self, cfg: &walletd_common::config::EngineConfig) -> Option<Duration> {
        Some(cfg.read_timeout)
    }
}
