//! Hostile input to the SSE endpoints of API v2: forged and foreign session ids, oversized and malformed posts,
//! floods beyond the limits, foreign origins. Every refusal is a 4xx (or 503) JSON body, never a 500 or a hang.

use reqwest::StatusCode;
use serde_json::json;
use walletd_testkit::engine::token;
use walletd_testkit::{Config, http_client, send};
use walletd_wallet::client::EngineClient;

use super::engine;
use super::sse::{T, create, open_stream, post_frame, terminal};

#[tokio::test]
async fn forged_unknown_and_missing_session_ids_are_refused() {
    let w = engine("").await;
    let forged = "0".repeat(64);
    for id in [forged.as_str(), "abc", "../../etc", "%00", ""] {
        let r = post_frame(&w, id, r#"{"type":"handshake","app_token":"x"}"#, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}: {}", r.body);
        assert_eq!(r.body["error"], "not_found");
        let (s, body) = open_stream(&w, id, &[]).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{id}: {body}");
    }
    let r = send(
        http_client()
            .post(format!("{}/api/v2/wallet/sse/message", w.http_url()))
            .body("{}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = send(http_client().get(format!("{}/api/v2/wallet/sse", w.http_url()))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Creating one needs a bearer token.
    let r = create(&w, None, None).await;
    assert_eq!(
        (r.status, &r.body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("unauthorized"))
    );
    let r = create(&w, Some("not-a-jwt"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}

#[tokio::test]
async fn another_users_or_tenants_token_cannot_use_a_session() {
    let w = engine("").await;
    let mine = token("alice", 600);
    let r = create(&w, Some(&mine), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.headers["cache-control"], "no-store",
        "the session's URLs are not cached"
    );
    let id = r.body["session_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64);
    assert_eq!(r.body["stream_url"], format!("/api/v2/wallet/sse?session={id}"));
    assert_eq!(
        r.body["message_url"],
        format!("/api/v2/wallet/sse/message?session={id}")
    );
    let other_user = token("mallory", 600);
    let other_tenant = walletd_testkit::jwt::hs256_access(walletd_testkit::engine::SECRET, "acme", "alice", 600);
    for t in [&other_user, &other_tenant] {
        let auth = format!("Bearer {t}");
        let r = post_frame(&w, &id, r#"{"type":"bogus"}"#, &[("authorization", &auth)]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        let (s, _) = open_stream(&w, &id, &[("authorization", &auth)]).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // The owner's token is welcome on both.
    let auth = format!("Bearer {mine}");
    let hs = json!({"type": "handshake", "app_token": mine}).to_string();
    assert_eq!(
        post_frame(&w, &id, &hs, &[("authorization", &auth)]).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        open_stream(&w, &id, &[("authorization", &auth)]).await.0,
        StatusCode::OK
    );
    // An expired token of the owner is refused as such.
    let stale = format!("Bearer {}", token("alice", -60));
    assert_eq!(
        post_frame(&w, &id, "{}", &[("authorization", &stale)]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn oversized_and_malformed_posts_are_refused_and_the_session_goes_on() {
    let w = engine("  max_message_bytes: 200000\n").await;
    let t = token("big", 600);
    let mut c = EngineClient::connect_sse(&w.http_url(), &t, None).await.unwrap();
    let id = c.sse().unwrap().session_id.clone();
    // Before the handshake: engine.max_handshake_bytes (64 KiB).
    let big = format!(r#"{{"type":"handshake","app_token":"{}"}}"#, "a".repeat(70 * 1024));
    let r = post_frame(&w, &id, &big, &[]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(r.body["error"], "payload_too_large");
    c.handshake(&t, None).await.unwrap();
    // After it: engine.max_message_bytes. A frame just under passes (and is answered in the stream).
    let under = format!(r#"{{"type":"bogus","x":"{}"}}"#, "a".repeat(150_000));
    assert_eq!(post_frame(&w, &id, &under, &[]).await.status, StatusCode::ACCEPTED);
    assert_eq!(c.recv(T).await.unwrap()["code"], "INVALID_MESSAGE");
    // Larger than server.max_body_bytes would not matter either: the engine's limit applies.
    let over = format!(r#"{{"type":"bogus","x":"{}"}}"#, "a".repeat(250_000));
    let r = post_frame(&w, &id, &over, &[]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    // Not JSON, not an object, not UTF-8: 400, nothing reaches the session.
    for body in ["{not json", "[1,2]", "\"handshake\"", ""] {
        let r = post_frame(&w, &id, body, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:?}: {}", r.body);
        assert_eq!(r.body["error"], "bad_request");
    }
    let r = send(
        http_client()
            .post(format!("{}/api/v2/wallet/sse/message?session={id}", w.http_url()))
            .body(vec![b'{', 0xff, 0xfe, b'}']),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // JSON the protocol does not know is answered in the stream, as over a WebSocket.
    c.send(&json!({"type": "flow_action", "flow_id": "nope", "action": "consent"}))
        .await
        .unwrap();
    let e = c.recv(T).await.unwrap();
    assert_eq!(e["error"]["code"], "UNKNOWN_FLOW", "{e}");
    // And the session still runs a flow.
    c.send(&json!({"type": "flow_start", "flow_id": "v", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    assert_eq!(terminal(&mut c, "v").await["type"], "flow_error");
}

#[tokio::test]
async fn floods_meet_the_queue_the_buffer_and_the_budgets() {
    let w = crate::support::start(
        &walletd_testkit::engine::config_with("  sse_inbound_frames: 2\n  max_buffered_frames: 3\n")
            .limit("rate_limits.engine_connections_per_user", 3),
    )
    .await;
    let t = token("flood", 600);
    // Before any handshake: more than engine.max_buffered_frames closes with 1008, like a WebSocket.
    let mut c = EngineClient::connect_sse(&w.http_url(), &t, None).await.unwrap();
    let id = c.sse().unwrap().session_id.clone();
    let frame = r#"{"type":"flow_start","flow_id":"x","protocol":"vctm","vct":"urn:x"}"#;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(post_frame(&w, &id, frame, &[]).await.status.as_u16());
    }
    assert!(statuses.iter().all(|s| [202, 404, 429].contains(s)), "{statuses:?}");
    let e = c.recv(T).await.unwrap();
    assert_eq!(e["code"], "TOO_MANY_REQUESTS", "{e}");
    assert_eq!(c.recv_close(T).await, Some(1008));
    // Concurrent posts beyond engine.sse_inbound_frames: 429 with Retry-After, never 5xx.
    let t2 = token("flood", 600);
    let mut c = EngineClient::connect_sse(&w.http_url(), &t2, None).await.unwrap();
    c.handshake(&t2, None).await.unwrap();
    let id = c.sse().unwrap().session_id.clone();
    let posts = (0..64).map(|_| post_frame(&w, &id, r#"{"type":"bogus"}"#, &[]));
    let answers = futures::future::join_all(posts).await;
    // Whether the queue of 2 fills depends on how fast the session task drains it (the engine's unit test
    // `posts_beyond_the_inbound_queue_are_429_and_a_session_keeps_its_origin` fills it deterministically);
    // never anything but 202 or 429.
    for r in &answers {
        match r.status.as_u16() {
            202 => {}
            429 => {
                assert_eq!(r.body["error"], "rate_limited", "{}", r.body);
                assert!(r.header("retry-after").is_some());
            }
            s => panic!("{s}: {}", r.body),
        }
    }
    // The connection budget (rate_limits.engine_connections_per_user) counts SSE sessions: two spent above.
    let _third = create(&w, Some(&t), None).await;
    let r = create(&w, Some(&t), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error"], "rate_limited");
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn foreign_origins_and_the_connection_cap() {
    let w = crate::support::start(
        &Config::new()
            .mode("engine")
            .jwt_secret(walletd_testkit::engine::SECRET)
            .yaml(
                "server:\n  cors_origins: [\"https://wallet.example\", \"https://other.example\"]\n\
                 engine:\n  max_connections: 1\n",
            ),
    )
    .await;
    let t = token("o", 600);
    let r = create(&w, Some(&t), Some("https://evil.example")).await;
    assert_eq!(
        (r.status, &r.body["error"]),
        (StatusCode::FORBIDDEN, &json!("forbidden"))
    );
    let r = create(&w, Some(&t), Some("https://wallet.example")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["session_id"].as_str().unwrap().to_string();
    // Requests for it from another (even allowed) origin are refused; from its own or none they pass.
    for (origin, post, stream) in [
        ("https://other.example", 403, 403),
        ("https://evil.example", 403, 403),
        ("https://wallet.example", 202, 200),
    ] {
        let r = post_frame(&w, &id, r#"{"type":"bogus"}"#, &[("origin", origin)]).await;
        assert_eq!(r.status.as_u16(), post, "{origin}: {}", r.body);
        let (s, body) = open_stream(&w, &id, &[("origin", origin)]).await;
        assert_eq!(s.as_u16(), stream, "{origin}: {body}");
    }
    // A browser on the allowed origin passes the CORS preflights of the three routes.
    for (path, method, headers) in [
        ("/api/v2/wallet/sse/session", "POST", "authorization"),
        ("/api/v2/wallet/sse/message?session=x", "POST", "content-type"),
        ("/api/v2/wallet/sse?session=x", "GET", "last-event-id"),
    ] {
        let r = http_client()
            .request(reqwest::Method::OPTIONS, format!("{}{path}", w.http_url()))
            .header("origin", "https://wallet.example")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://wallet.example",
            "{path}"
        );
        let allowed = r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(allowed.contains(headers), "{path}: {allowed}");
    }
    // With the one connection taken (engine.max_connections: 1) the next is 503, as at the WebSocket upgrade.
    let r = create(&w, Some(&t), Some("https://wallet.example")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
}
