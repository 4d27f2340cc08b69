//! The links an [`crate::client::EngineClient`] speaks API v2 over: a WebSocket, Server-Sent Events plus POSTs
//! ([`crate::sse`]), or in-memory channels to an engine in the same process (`walletd_engine::Engine::connect_local`).

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::client::ClientError;
use crate::sse::{SseIncoming, SseTransport};

/// What arrived.
pub(crate) enum Incoming {
    /// A server frame's JSON text.
    Text(String),
    /// The session ended with this close code (if the link carries one).
    Close(Option<u16>),
}

/// One client link.
pub enum Transport {
    /// `GET /api/v2/wallet`.
    WebSocket(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    /// `/api/v2/wallet/sse*`.
    Sse(Box<SseTransport>),
    /// In-memory channels (client frames out, server frames in).
    Channels(mpsc::Sender<String>, mpsc::Receiver<String>),
}

/// The WebSocket read buffer of a client link. tungstenite zero-fills the free part of its read buffer before every
/// read, and its default is 128 KiB: the holder's bench profile spent about 6 % of its CPU in that fill. API v2 frames
/// are small (a larger `flow_complete` takes a few reads).
const WS_READ_BUFFER_BYTES: usize = 16 * 1024;

impl Transport {
    /// Opens a WebSocket to `url` (`ws://` or `wss://`).
    pub(crate) async fn connect_websocket(url: &str) -> Result<Transport, String> {
        let config = WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER_BYTES);
        // TCP_NODELAY: a frame is a whole message written at once, and a holder's next frame usually answers the
        // engine's; Nagle could hold a small frame back until the engine's ACK of the previous one.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Transport::WebSocket(Box::new(ws)))
    }

    pub(crate) async fn send(&mut self, text: &str) -> Result<(), ClientError> {
        match self {
            Transport::WebSocket(ws) => ws
                .send(Message::Text(text.into()))
                .await
                .map_err(|e| ClientError::Transport(e.to_string())),
            Transport::Sse(s) => s.send(text).await,
            Transport::Channels(tx, _) => tx.send(text.to_string()).await.map_err(|_| ClientError::Closed(None)),
        }
    }

    /// The next frame or close; `None` when the link ended without one. Cancel safe.
    pub(crate) async fn next(&mut self) -> Option<Result<Incoming, ClientError>> {
        match self {
            Transport::WebSocket(ws) => loop {
                return match ws.next().await? {
                    Ok(Message::Text(t)) => Some(Ok(Incoming::Text(t.as_str().to_string()))),
                    Ok(Message::Close(c)) => Some(Ok(Incoming::Close(c.map(|c| c.code.into())))),
                    // Pings are answered by the library.
                    Ok(_) => continue,
                    Err(e) => Some(Err(ClientError::Transport(e.to_string()))),
                };
            },
            Transport::Sse(s) => Some(s.next().await?.map(|i| match i {
                SseIncoming::Frame(t) => Incoming::Text(t),
                SseIncoming::Close(c) => Incoming::Close(Some(c)),
            })),
            Transport::Channels(_, rx) => rx.recv().await.map(|t| Ok(Incoming::Text(t))),
        }
    }

    pub(crate) async fn close(&mut self) {
        match self {
            Transport::WebSocket(ws) => {
                let _ = WebSocketStream::close(ws.as_mut(), None).await;
            }
            // The session lingers for `engine.sse_linger` and goes.
            Transport::Sse(_) => {}
            Transport::Channels(..) => {}
        }
    }
}
