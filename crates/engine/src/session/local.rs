//! The in-memory link: an engine embedded in a program (the native wallet) talks API v2 over two channels of
//! frame strings, no socket. The session is the same as over a WebSocket; the user is the embedding program's.

use std::time::Duration;

use tokio::sync::mpsc;

use super::link::{Inbound, Link};

/// Client frames in, server frames out.
pub(crate) struct LocalLink {
    pub(crate) from_client: mpsc::Receiver<String>,
    pub(crate) to_client: mpsc::Sender<String>,
}

impl Link for LocalLink {
    async fn recv(&mut self) -> Inbound {
        match self.from_client.recv().await {
            Some(t) => Inbound::Text(t),
            None => Inbound::Closed,
        }
    }

    async fn send(&mut self, text: String, limit: Duration) -> bool {
        matches!(tokio::time::timeout(limit, self.to_client.send(text)).await, Ok(Ok(())))
    }

    async fn ping(&mut self, _limit: Duration) -> bool {
        !self.to_client.is_closed()
    }

    async fn close(&mut self, _code: u16, _reason: &'static str, _limit: Duration) -> bool {
        // The receiver ends when the session does; the error frame before it says why.
        true
    }

    async fn settle(&mut self, _wait: Duration) {}

    fn read_timeout(&self, _cfg: &walletd_common::config::EngineConfig) -> Option<Duration> {
        // The client is in this process: the session lives until it drops its sender.
        None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use futures::FutureExt;
    use futures::future::BoxFuture;
    use serde_json::{Value, json};
    use walletd_common::http::{AuthUser, Authenticator};
    use walletd_common::limits::RateLimiter;

    use crate::{Engine, EngineOptions, TypeMetadataSource};

    struct OneType;

    impl TypeMetadataSource for OneType {
        fn type_metadata<'a>(&'a self, vct: &'a str) -> BoxFuture<'a, Result<Value, String>> {
            async move {
                match vct {
                    "urn:t" => Ok(json!({"vct": vct, "name": "T"})),
                    _ => Err("unknown vct".to_string()),
                }
            }
            .boxed()
        }
    }

    /// An engine without a directory, registry or PDP (type metadata: `urn:t` only), unlimited budgets.
    pub(crate) fn engine(cfg: walletd_common::config::EngineConfig) -> Engine {
        let jwt = walletd_common::config::JwtConfig::default();
        Engine::new(EngineOptions {
            config: cfg,
            authenticator: Authenticator::new(walletd_common::jwt::JwtValidator::new(&jwt, None), vec!["x".into()]),
            egress: walletd_egress::EgressClient::new(Default::default()).unwrap(),
            allowed_origins: vec!["https://wallet.example".into()],
            trust: None,
            registry_url: None,
            type_metadata: Some(Arc::new(OneType)),
            directory: None,
            rate_limits: RateLimiter::unlimited(),
            wallet_provider: None,
            iacas: None,
        })
        .unwrap()
    }

    fn user(expires_at: u64) -> AuthUser {
        AuthUser {
            user_id: "u".into(),
            tenant_id: "default".into(),
            expires_at,
        }
    }

    async fn recv(rx: &mut tokio::sync::mpsc::Receiver<String>) -> Option<Value> {
        let t = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap()?;
        Some(serde_json::from_str(&t).unwrap())
    }

    #[tokio::test]
    async fn an_in_memory_session_runs_a_flow_and_ends_with_its_sender() {
        let e = engine(Default::default());
        let (tx, mut rx) = e.connect_local(user(0)).await.unwrap();
        assert_eq!(e.connections(), 1);
        // The handshake is still the first frame (its token is not looked at); frames right behind it are
        // buffered as over a WebSocket.
        tx.send(json!({"type":"handshake","app_token":"-","features":["deferred"]}).to_string())
            .await
            .unwrap();
        tx.send(json!({"type":"flow_start","flow_id":"v","protocol":"vctm","vct":"urn:t"}).to_string())
            .await
            .unwrap();
        let hs = recv(&mut rx).await.unwrap();
        assert_eq!(hs["type"], "handshake_complete", "{hs}");
        assert_eq!(hs["features"], json!(["deferred"]));
        let mut last = recv(&mut rx).await.unwrap();
        while last["type"] == "flow_progress" {
            last = recv(&mut rx).await.unwrap();
        }
        assert_eq!(last["type"], "flow_complete", "{last}");
        assert_eq!(last["type_metadata"]["name"], "T");
        // Garbage is answered like over a WebSocket.
        tx.send("{not json".into()).await.unwrap();
        assert_eq!(recv(&mut rx).await.unwrap()["code"], "INVALID_MESSAGE");
        drop(tx);
        assert!(recv(&mut rx).await.is_none(), "the session ends with its sender");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(e.connections(), 0);
    }

    #[tokio::test]
    async fn in_memory_sessions_keep_the_limits() {
        let cfg = walletd_common::config::EngineConfig {
            max_connections: 1,
            max_message_bytes: 1024,
            handshake_timeout: Duration::from_millis(200),
            ..Default::default()
        };
        let e = engine(cfg);
        let (tx, mut rx) = e.connect_local(user(0)).await.unwrap();
        let refused = e.connect_local(user(0)).await.unwrap_err();
        assert_eq!(refused.code, walletd_protocol::ErrorCode::TooManyRequests);
        // No handshake in time: AUTH_FAILED and the end.
        let v = recv(&mut rx).await.unwrap();
        assert_eq!(v["code"], "AUTH_FAILED", "{v}");
        assert!(recv(&mut rx).await.is_none());
        drop(tx);

        // After the handshake a frame over engine.max_message_bytes ends the session.
        let (tx, mut rx) = e.connect_local(user(0)).await.unwrap();
        tx.send(json!({"type":"handshake","app_token":"-"}).to_string())
            .await
            .unwrap();
        assert_eq!(recv(&mut rx).await.unwrap()["type"], "handshake_complete");
        tx.send(format!("{{\"type\":\"flow_start\",\"x\":\"{}\"}}", "a".repeat(2000)))
            .await
            .unwrap();
        assert_eq!(recv(&mut rx).await.unwrap()["code"], "INVALID_MESSAGE");
        assert!(recv(&mut rx).await.is_none());
    }

    #[tokio::test]
    async fn an_in_memory_session_ends_at_the_users_expiry() {
        let e = engine(Default::default());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (tx, mut rx) = e.connect_local(user(now + 1)).await.unwrap();
        tx.send(json!({"type":"handshake","app_token":"-"}).to_string())
            .await
            .unwrap();
        assert_eq!(recv(&mut rx).await.unwrap()["type"], "handshake_complete");
        let v = recv(&mut rx).await.unwrap();
        assert_eq!(v["code"], "AUTH_FAILED", "{v}");
        assert!(recv(&mut rx).await.is_none());
    }
}
