//! How the holder reaches an engine: a WebSocket to a remote engine (API v2 over the network), or an in-memory link
//! to an engine in this process (the same API v2 frames as strings, no socket). Both carry the same frames; the
//! holder's flow code ([`crate::agent`]) does not know which one it has.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::client::ClientError;

/// A connection to an engine carrying API v2 frames.
pub enum Link {
    /// A WebSocket to a remote engine.
    Socket(Box<WebSocketStream<MaybeTlsStream<TcpStream>>>),
    /// An in-memory session of an engine in this process: client frames in, server frames out.
    Memory {
        /// Client frames to the engine.
        tx: mpsc::Sender<String>,
        /// Server frames from the engine.
        rx: mpsc::Receiver<String>,
    },
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Link::Socket(_) => "Link::Socket",
            Link::Memory { .. } => "Link::Memory",
        })
    }
}

impl Link {
    /// Connects a WebSocket to `url` (`ws://` or `wss://`, the engine's `/api/v2/wallet`).
    pub async fn connect(url: &str) -> Result<Link, ClientError> {
        let (ws, _) = connect_async(url)
            .await
            .map_err(|e| ClientError::Transport(format!("cannot connect to the engine: {e}")))?;
        Ok(Link::Socket(Box::new(ws)))
    }

    /// Sends one text frame.
    pub async fn send(&mut self, text: String) -> Result<(), ClientError> {
        match self {
            Link::Socket(ws) => ws
                .send(Message::Text(text.into()))
                .await
                .map_err(|e| ClientError::Transport(e.to_string())),
            Link::Memory { tx, .. } => tx
                .send(text)
                .await
                .map_err(|_| ClientError::Transport("the embedded engine session ended".into())),
        }
    }

    /// The next frame as JSON, waiting at most `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Result<Value, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let text = match self {
                Link::Socket(ws) => {
                    match tokio::time::timeout_at(deadline, ws.next())
                        .await
                        .map_err(|_| ClientError::Timeout)?
                    {
                        Some(Ok(Message::Text(t))) => t.to_string(),
                        Some(Ok(Message::Close(c))) => return Err(ClientError::Closed(c.map(|c| c.code.into()))),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(ClientError::Transport(e.to_string())),
                        None => return Err(ClientError::Closed(None)),
                    }
                }
                Link::Memory { rx, .. } => match tokio::time::timeout_at(deadline, rx.recv())
                    .await
                    .map_err(|_| ClientError::Timeout)?
                {
                    Some(t) => t,
                    None => return Err(ClientError::Closed(None)),
                },
            };
            return serde_json::from_str(&text)
                .map_err(|e| ClientError::Protocol(format!("the engine sent a frame that is not JSON: {e}")));
        }
    }

    /// Ends the connection.
    pub async fn close(self) {
        if let Link::Socket(mut ws) = self {
            let _ = (*ws).close(None).await;
        }
    }
}
