//! The session's first frame: the handshake (other frames before it are buffered, as the web client does not wait),
//! the access token's validation, the declared features, `handshake_complete`; refusals close the socket.

use std::collections::VecDeque;

use tokio::time::{Instant, sleep_until};
use walletd_protocol::{ClientMessage, ErrorCode, KNOWN_FEATURES, ServerMessage, capabilities, parse_client_frame};

use super::link::{Inbound, Link};
use super::{Admission, CLOSE_AUTH, CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_TOO_BIG, Session, text};

/// Answers `reply`, closes with `code`, then lets the link settle (at most `engine.close_timeout`): the client
/// reads the error even when it already sent more frames.
async fn refuse<L: Link>(s: &mut Session<L>, reply: ServerMessage, code: u16, reason: &'static str) {
    let cfg = s.engine.config();
    let (limit, close_wait) = (cfg.read_timeout, cfg.close_timeout);
    if s.link.send(text(reply), limit).await && s.link.close(code, reason, limit).await {
        s.link.settle(close_wait).await;
    }
}

impl<L: Link> Session<L> {
    /// Waits for the handshake frame (buffering others), validates the token, answers. `None` means the link is done
    /// (whatever had to be said, and the close, are written).
    pub(super) async fn handshake(&mut self) -> Option<Vec<String>> {
        let deadline = Instant::now() + self.engine.config().handshake_timeout;
        let mut buffered: VecDeque<String> = VecDeque::new();
        let auth_failed = |message: &str| ServerMessage::error(ErrorCode::AuthFailed, message);
        let hs = loop {
            let cfg = self.engine.config();
            let (max_handshake, max_buffered) = (cfg.max_handshake_bytes, cfg.max_buffered_frames);
            let shutdown = self.engine.shutdown_token().clone();
            let frame = tokio::select! {
                _ = shutdown.cancelled() => {
                    self.close(CLOSE_GOING_AWAY, "server shutting down").await;
                    return None;
                }
                _ = sleep_until(deadline) => {
                    let m = auth_failed("no handshake within the handshake timeout");
                    refuse(self, m, CLOSE_AUTH, "authentication failed").await;
                    return None;
                }
                f = self.link.recv() => f,
            };
            let text = match frame {
                Inbound::Text(t) => t,
                Inbound::Alive => continue,
                Inbound::Binary => {
                    let m = auth_failed("the first frame must be a JSON handshake");
                    refuse(self, m, CLOSE_AUTH, "authentication failed").await;
                    return None;
                }
                Inbound::TooBig | Inbound::Closed => return None,
            };
            if text.len() > max_handshake {
                let m = ServerMessage::error(ErrorCode::InvalidMessage, "frame exceeds the pre-handshake limit");
                refuse(self, m, CLOSE_TOO_BIG, "frame too large before handshake").await;
                return None;
            }
            match parse_client_frame(&text) {
                Ok(ClientMessage::Handshake(h)) => break h,
                Err(e) if e.flow_id.is_none() && text.contains("\"handshake\"") => {
                    let m = auth_failed(&format!("invalid handshake: {}", e.message));
                    refuse(self, m, CLOSE_AUTH, "authentication failed").await;
                    return None;
                }
                _ => {
                    // The web client does not wait for handshake_complete: keep the frame for after the handshake.
                    if buffered.len() >= max_buffered {
                        let m =
                            ServerMessage::error(ErrorCode::TooManyRequests, "too many frames before the handshake");
                        refuse(self, m, CLOSE_POLICY, "too many frames before handshake").await;
                        return None;
                    }
                    buffered.push_back(text);
                }
            }
        };
        let user = match self.admission {
            Admission::Trusted => self.user.clone(),
            Admission::Token | Admission::SameUser => {
                match self.engine.authenticator().authenticate(&hs.app_token).await {
                    Ok(u) if self.admission == Admission::Token => u,
                    Ok(u) if u.user_id == self.user.user_id && u.tenant_id == self.user.tenant_id => u,
                    Ok(_) => {
                        let m = auth_failed("the handshake's token is not the one this session was created with");
                        refuse(self, m, CLOSE_AUTH, "authentication failed").await;
                        return None;
                    }
                    Err(e) => {
                        let m = auth_failed(&format!("authentication failed: {e}"));
                        refuse(self, m, CLOSE_AUTH, "authentication failed").await;
                        return None;
                    }
                }
            }
        };
        // A session created for its user (SSE, in-memory) was admitted (tenant, connection budget) when created.
        if self.admission == Admission::Token
            && let Err(r) = crate::tenant_policy::admit_session(&self.engine, &user).await
        {
            // A refused tenant closes like a refused token (4001); a spent budget is a policy close (1008).
            let close = if r.end_session { CLOSE_AUTH } else { CLOSE_POLICY };
            refuse(self, ServerMessage::error(r.code, r.message), close, "session refused").await;
            return None;
        }
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
        self.send(msg).await;
        if self.broken {
            return None;
        }
        self.link.authenticated();
        tracing::debug!(tenant = %user.tenant_id, "engine session authenticated");
        self.user = user;
        self.features = features;
        self.web_profile = web_profile;
        Some(buffered.into())
    }
}
