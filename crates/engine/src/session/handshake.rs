//! The session's first frame: the handshake (other frames before it are buffered, as the web client does not wait),
//! the access token's validation, the declared features, `handshake_complete`; refusals close the socket.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use tokio::time::{Instant, sleep_until};
use walletd_protocol::{ClientMessage, ErrorCode, KNOWN_FEATURES, ServerMessage, capabilities, parse_client_frame};

use super::{CLOSE_AUTH, CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_TOO_BIG, Session, close_frame, text, write_frame};

/// Answers `reply`, closes with `code`, then waits (at most `close_wait`) for the client's close. Dropping a socket
/// whose client already sent more frames (the web client does not wait for `handshake_complete`) leaves unread
/// input, so the kernel answers with a reset, and a reset can discard the error frame before the client reads it.
async fn refuse(
    ws: &mut WebSocket,
    (limit, close_wait): (Duration, Duration),
    reply: ServerMessage,
    code: u16,
    reason: &'static str,
) {
    if write_frame(ws, limit, text(reply)).await && write_frame(ws, limit, close_frame(code, reason)).await {
        let _ = tokio::time::timeout(close_wait, async {
            while let Some(Ok(frame)) = ws.recv().await {
                if matches!(frame, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

impl Session {
    /// Waits for the handshake frame (buffering others), validates the token, answers. `None` means the socket is done
    /// (whatever had to be said, and the close frame, are written).
    pub(super) async fn handshake(&mut self) -> Option<Vec<String>> {
        let (engine, ws) = (&self.engine, &mut self.ws);
        let cfg = engine.config();
        let limit = cfg.read_timeout;
        let close_wait = cfg.close_timeout;
        let deadline = Instant::now() + cfg.handshake_timeout;
        let mut buffered: VecDeque<String> = VecDeque::new();
        let auth_failed = |message: &str| ServerMessage::error(ErrorCode::AuthFailed, message);
        let hs = loop {
            let frame = tokio::select! {
                _ = engine.shutdown_token().cancelled() => {
                    write_frame(ws, limit, close_frame(CLOSE_GOING_AWAY, "server shutting down")).await;
                    return None;
                }
                _ = sleep_until(deadline) => {
                    let m = auth_failed("no handshake within the handshake timeout");
                    refuse(ws, (limit, close_wait), m, CLOSE_AUTH, "authentication failed").await;
                    return None;
                }
                f = ws.recv() => f,
            };
            let text = match frame {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(_))) => {
                    let m = auth_failed("the first frame must be a JSON handshake");
                    refuse(ws, (limit, close_wait), m, CLOSE_AUTH, "authentication failed").await;
                    return None;
                }
                _ => return None,
            };
            if text.len() > cfg.max_handshake_bytes {
                let m = ServerMessage::error(ErrorCode::InvalidMessage, "frame exceeds the pre-handshake limit");
                refuse(
                    ws,
                    (limit, close_wait),
                    m,
                    CLOSE_TOO_BIG,
                    "frame too large before handshake",
                )
                .await;
                return None;
            }
            match parse_client_frame(text.as_str()) {
                Ok(ClientMessage::Handshake(h)) => break h,
                Err(e) if e.flow_id.is_none() && text.contains("\"handshake\"") => {
                    let m = auth_failed(&format!("invalid handshake: {}", e.message));
                    refuse(ws, (limit, close_wait), m, CLOSE_AUTH, "authentication failed").await;
                    return None;
                }
                _ => {
                    // The web client does not wait for handshake_complete: keep the frame for after the handshake.
                    if buffered.len() >= cfg.max_buffered_frames {
                        let m =
                            ServerMessage::error(ErrorCode::TooManyRequests, "too many frames before the handshake");
                        refuse(
                            ws,
                            (limit, close_wait),
                            m,
                            CLOSE_POLICY,
                            "too many frames before handshake",
                        )
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
                let m = auth_failed(&format!("authentication failed: {e}"));
                refuse(ws, (limit, close_wait), m, CLOSE_AUTH, "authentication failed").await;
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
        features.shrink_to_fit();
        let msg = ServerMessage::HandshakeComplete {
            session_id: uuid::Uuid::new_v4().to_string(),
            capabilities: capabilities(),
            features: features.clone(),
        };
        if !write_frame(ws, limit, text(msg)).await {
            return None;
        }
        tracing::debug!(tenant = %user.tenant_id, "engine session authenticated");
        self.user = user;
        self.features = features;
        self.web_profile = web_profile;
        Some(buffered.into())
    }
}
