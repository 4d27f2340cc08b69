//! The SSE routes on a real listener (127.0.0.1) with sessions whose task is held still, so queues fill
//! deterministically; the full protocol runs in walletd's integration tests (crates/walletd/tests/it/engine/sse*.rs).

use std::time::Duration;

use reqwest::StatusCode;

use super::SseLink;
use crate::session::local::tests::engine;

async fn serve(e: &crate::Engine) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = e.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn posts_beyond_the_inbound_queue_are_429_and_a_session_keeps_its_origin() {
    let cfg = walletd_common::config::EngineConfig {
        sse_inbound_frames: 2,
        ..Default::default()
    };
    let e = engine(cfg);
    let base = serve(&e).await;
    // A registered session whose task does not run: nothing drains its queue.
    let (id, link) = SseLink::register(&e, "u", "default", Some("https://wallet.example".into()));
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(format!("{base}/api/v2/wallet/sse/message?session={id}"))
            .body(body)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            post(r#"{"type":"bogus"}"#).await.unwrap().status(),
            StatusCode::ACCEPTED
        );
    }
    let r = post(r#"{"type":"bogus"}"#).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Another origin than the session's: 403; the session's own: fine.
    let r = http
        .post(format!("{base}/api/v2/wallet/sse/message?session={id}"))
        .header("origin", "https://other.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // When the link goes (its session ended) the id is unknown at once.
    drop(link);
    assert_eq!(post("{}").await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(e.sse_sessions(), 0);
}

#[tokio::test]
async fn the_replay_window_keeps_the_newest_frames_and_ends_a_session_that_would_lose_one() {
    use crate::session::link::Link;
    let cfg = walletd_common::config::EngineConfig {
        sse_replay_frames: 3,
        sse_replay_bytes: 1024,
        ..Default::default()
    };
    let e = engine(cfg);
    let (_, mut link) = SseLink::register(&e, "u", "default", None);
    let limit = Duration::from_secs(1);
    // No stream ever attached: three frames fit, the fourth would push out one nobody took.
    for i in 0..3 {
        assert!(link.send(format!("{{\"n\":{i}}}"), limit).await);
    }
    assert!(
        !link.send("{\"n\":3}".into(), limit).await,
        "a never-streamed frame left the window"
    );
    // A frame larger than the byte budget alone still stays (the newest frame always does).
    let (_, mut link) = SseLink::register(&e, "u", "default", None);
    assert!(link.send("x".repeat(4096), limit).await);
    assert_eq!(link.window.len(), 1);
}
