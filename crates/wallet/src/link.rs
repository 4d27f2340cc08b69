//! How the holder agent reaches an engine: a WebSocket to a remote engine, or an in-memory session of an engine in
//! this process. Both are a [`Transport`] (the one link implementation of this crate, shared with
//! [`crate::client::EngineClient`]); this wrapper gives the agent what it needs on top: whole JSON frames and a
//! deadline per read. The agent's flow code ([`crate::agent`]) does not know which link it has.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::client::ClientError;
use crate::transport::{Incoming, Transport};

/// A connection to an engine carrying API v2 frames.
pub struct Link(Transport);

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Transport::WebSocket(_) => "Link::WebSocket",
            Transport::Sse(_) => "Link::Sse",
            Transport::Channels(..) => "Link::Memory",
        })
    }
}

impl Link {
    /// Connects a WebSocket to `url` (`ws://` or `wss://`, the engine's `/api/v2/wallet`).
    pub async fn connect(url: &str) -> Result<Link, ClientError> {
        let link = Transport::connect_websocket(url)
            .await
            .map_err(|e| ClientError::Transport(format!("cannot connect to the engine: {e}")))?;
        Ok(Link(link))
    }

    /// An in-memory session: client frames to `tx`, server frames from `rx` (`walletd_engine::Engine::connect_local`).
    pub fn memory(tx: mpsc::Sender<String>, rx: mpsc::Receiver<String>) -> Link {
        Link(Transport::Channels(tx, rx))
    }

    /// Sends one text frame.
    pub async fn send(&mut self, text: String) -> Result<(), ClientError> {
        self.0.send(&text).await
    }

    /// The next frame as JSON, waiting at most `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Result<Value, ClientError> {
        let next = tokio::time::timeout(timeout, self.0.next())
            .await
            .map_err(|_| ClientError::Timeout)?;
        match next {
            Some(Ok(Incoming::Text(text))) => serde_json::from_str(&text)
                .map_err(|e| ClientError::Protocol(format!("the engine sent a frame that is not JSON: {e}"))),
            Some(Ok(Incoming::Close(code))) => Err(ClientError::Closed(code)),
            Some(Err(e)) => Err(e),
            None => Err(ClientError::Closed(None)),
        }
    }

    /// Ends the connection.
    pub async fn close(mut self) {
        self.0.close().await;
    }
}
