//! Protocol robustness of the real engine process: every bad input gets a clear `error`/`flow_error`, the
//! process stays alive, limits and close codes hold, disconnects cancel outbound calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use walletd_wallet::client::EngineClient;

use super::engine;
use super::engine_no_hole;
use walletd_testkit::engine::token;
use walletd_testkit::engine::ws_url;

const T: Duration = Duration::from_secs(15);

async fn connected(w: &walletd_testkit::Walletd) -> EngineClient {
    let mut c = EngineClient::connect(&ws_url(w)).await.unwrap();
    c.handshake(&token("u", 600), None).await.unwrap();
    c
}

async fn alive(w: &walletd_testkit::Walletd) {
    let r = reqwest::get(format!("{}/healthz", w.http_url())).await.unwrap();
    assert!(r.status().is_success());
}

/// A local HTTP server answering every request with `response` (None: never answers); counts connections
/// closed by the peer before an answer.
async fn local_server(response: Option<Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (url, serve(l, response))
}

/// Serves [`local_server`]'s answers on a listener already bound (for answers that must name its URL).
fn serve(l: TcpListener, response: Option<Vec<u8>>) -> Arc<AtomicUsize> {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    tokio::spawn(async move {
        for _ in 0..64 {
            let Ok((mut s, _)) = l.accept().await else { return };
            let response = response.clone();
            let d = d.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = s.read(&mut buf).await;
                match response {
                    Some(r) => {
                        let _ = s.write_all(&r).await;
                    }
                    None => {
                        // Bounded wait: notice the peer closing (the engine cancelled) within 30 s.
                        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await {
                            d.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            });
        }
    });
    dropped
}

fn offer_for(issuer: &str) -> String {
    json!({"credential_issuer": issuer, "credential_configuration_ids": ["pid"], "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {"pre-authorized_code": "x"}}}).to_string()
}

async fn terminal(c: &mut EngineClient, id: &str) -> Value {
    for _ in 0..50 {
        let v = c.recv_flow(id, T).await.unwrap();
        if v["type"] == "flow_complete" || v["type"] == "flow_error" {
            return v;
        }
    }
    panic!("no terminal frame for {id}");
}

#[tokio::test]
async fn malformed_frames_get_clear_errors_and_the_process_lives() {
    let w = engine("").await;
    let mut c = connected(&w).await;
    c.send_text("{not json").await.unwrap();
    let v = c.recv(T).await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["code"].as_str()),
        (Some("error"), Some("INVALID_MESSAGE")),
        "{v}"
    );
    assert_eq!(v["error"]["code"], "INVALID_MESSAGE");

    c.send(&json!({"type": "teleport", "flow_id": "z"})).await.unwrap();
    let v = c.recv(T).await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["flow_id"].as_str()),
        (Some("flow_error"), Some("z")),
        "{v}"
    );
    assert_eq!(v["error"]["code"], "INVALID_MESSAGE");

    c.send(&json!({"type": "teleport"})).await.unwrap();
    assert_eq!(c.recv(T).await.unwrap()["type"], "error");

    // Actions for unknown flows.
    c.send(&json!({"type": "flow_action", "flow_id": "nope", "action": "provide_pin", "payload": {}}))
        .await
        .unwrap();
    let v = c.recv(T).await.unwrap();
    assert_eq!(v["error"]["code"], "UNKNOWN_FLOW", "{v}");
    c.send(&json!({"type": "sign_response", "flow_id": "nope", "message_id": "m", "proofs": []}))
        .await
        .unwrap();
    assert_eq!(c.recv(T).await.unwrap()["error"]["code"], "UNKNOWN_FLOW");

    // flow_id of 1 char works; of 200 chars is refused with a flow_error.
    c.send(&json!({"type": "flow_start", "flow_id": "1", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    let v = terminal(&mut c, "1").await;
    assert_eq!(v["error"]["code"], "METADATA_FETCH_ERROR", "{v}");
    let long = "x".repeat(200);
    c.send(&json!({"type": "flow_start", "flow_id": long, "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    let v = c.recv(T).await.unwrap();
    assert_eq!(v["type"], "flow_error");
    assert_eq!(v["error"]["code"], "INVALID_MESSAGE");
    alive(&w).await;
}

#[tokio::test]
async fn frames_before_the_handshake_are_buffered() {
    let w = engine("").await;
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.send(&json!({"type": "flow_start", "flow_id": "early", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    c.send(&json!({"type": "handshake", "app_token": token("u", 600), "tenantId": "default"}))
        .await
        .unwrap();
    assert_eq!(c.recv(T).await.unwrap()["type"], "handshake_complete");
    let v = terminal(&mut c, "early").await;
    assert_eq!(v["type"], "flow_error");
}

#[tokio::test]
async fn auth_failure_closes_4001_and_oversized_pre_handshake_closes_1009() {
    let w = engine("").await;
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.send(&json!({"type": "handshake", "app_token": "not-a-jwt"}))
        .await
        .unwrap();
    let v = c.recv(T).await.unwrap();
    assert_eq!(v["code"], "AUTH_FAILED");
    assert_eq!(c.recv_close(T).await, Some(4001));

    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    let big = json!({"type": "handshake", "app_token": "a".repeat(70 * 1024)});
    c.send(&big).await.unwrap();
    let _ = c.recv(T).await;
    assert_eq!(c.recv_close(T).await, Some(1009));
    alive(&w).await;
}

#[tokio::test]
async fn oversized_frame_after_handshake_is_refused() {
    let w = engine("  max_message_bytes: 65536\n").await;
    let mut c = connected(&w).await;
    let _ = c
        .send_text(&format!("{{\"type\":\"flow_start\",\"x\":\"{}\"}}", "a".repeat(70_000)))
        .await;
    let v = c.recv(T).await;
    assert!(
        matches!(&v, Ok(v) if v["code"] == "INVALID_MESSAGE") || v.is_err(),
        "{v:?}"
    );
    alive(&w).await;
    // A new socket works.
    connected(&w).await;
}

#[tokio::test]
async fn a_thousand_frames_a_second_stay_bounded() {
    let w = engine("").await;
    let mut c = connected(&w).await;
    let started = std::time::Instant::now();
    for i in 0..1000 {
        c.send(&json!({"type": "flow_action", "flow_id": format!("f{i}"), "action": "x"}))
            .await
            .unwrap();
    }
    let mut answered = 0;
    while answered < 1000 {
        let v = c.recv(T).await.unwrap();
        assert_eq!(v["error"]["code"], "UNKNOWN_FLOW");
        answered += 1;
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    alive(&w).await;
}

#[tokio::test]
async fn duplicate_flow_id_replaces_silently_and_flow_cap_holds() {
    let (slow, _) = local_server(None).await;
    let w = engine("  max_flows_per_session: 2\n").await;
    let mut c = connected(&w).await;
    let start =
        |id: &str| json!({"type": "flow_start", "flow_id": id, "protocol": "oid4vci", "offer": offer_for(&slow)});
    c.send(&start("a")).await.unwrap();
    c.send(&start("a")).await.unwrap(); // replaces the first "a" silently
    c.send(&start("b")).await.unwrap();
    c.send(&start("c")).await.unwrap(); // third concurrent flow
    let v = c.recv_flow("c", T).await.unwrap();
    assert_eq!(v["error"]["code"], "TOO_MANY_REQUESTS", "{v}");
    // Each of a (the second) and b ends exactly once (slow issuer -> outbound timeout).
    let a = terminal(&mut c, "a").await;
    assert_eq!(a["error"]["code"], "METADATA_FETCH_ERROR", "{a}");
    let b = terminal(&mut c, "b").await;
    assert_eq!(b["type"], "flow_error");
    // No second terminal frame for "a".
    assert!(c.recv_flow("a", Duration::from_millis(500)).await.is_err());
}

#[tokio::test]
async fn disconnect_mid_flow_cancels_outbound_calls() {
    let (slow, dropped) = local_server(None).await;
    let w = engine("  outbound_timeout: 30s\n").await;
    let mut c = connected(&w).await;
    c.send(&json!({"type": "flow_start", "flow_id": "d", "protocol": "oid4vci", "offer": offer_for(&slow)}))
        .await
        .unwrap();
    let _ = c.recv_flow("d", T).await.unwrap(); // parsing_offer
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.close().await;
    // Two requests are in flight: the issuer metadata and, beside it, the issuer's own AS metadata.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while dropped.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        2,
        "the engine kept an issuer request open"
    );
    alive(&w).await;
}

#[tokio::test]
async fn issuer_garbage_huge_and_slow_answers_end_the_flow() {
    let garbage =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5\r\nconnection: close\r\n\r\n{{{{{"
            .to_vec();
    let mut huge =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 3000000\r\nconnection: close\r\n\r\n"
            .to_vec();
    huge.extend(std::iter::repeat_n(b' ', 3_000_000));
    let (g, _) = local_server(Some(garbage)).await;
    let (h, _) = local_server(Some(huge)).await;
    let (s, _) = local_server(None).await;
    let w = engine("").await;
    let mut c = connected(&w).await;
    for (id, url) in [("g", &g), ("h", &h), ("s", &s)] {
        c.send(&json!({"type": "flow_start", "flow_id": id, "protocol": "oid4vci", "offer": offer_for(url)}))
            .await
            .unwrap();
    }
    for id in ["g", "h", "s"] {
        let v = terminal(&mut c, id).await;
        assert_eq!(v["error"]["code"], "METADATA_FETCH_ERROR", "{id}: {v}");
        assert_eq!(v["step"], "fetching_metadata", "{id}: {v}");
    }
    alive(&w).await;
}

#[tokio::test]
async fn loopback_without_the_hole_and_file_urls_are_egress_blocked() {
    let w = engine_no_hole().await;
    let mut c = connected(&w).await;
    c.send(
        &json!({"type": "flow_start", "flow_id": "l", "protocol": "oid4vci", "offer": offer_for("http://127.0.0.1:9")}),
    )
    .await
    .unwrap();
    assert_eq!(terminal(&mut c, "l").await["error"]["code"], "EGRESS_BLOCKED");
    c.send(&json!({"type": "flow_start", "flow_id": "f", "protocol": "oid4vci", "credential_offer_uri": "file:///etc/passwd"}))
        .await
        .unwrap();
    assert_eq!(terminal(&mut c, "f").await["error"]["code"], "EGRESS_BLOCKED");
}

#[tokio::test]
async fn sign_timeout_ends_the_flow() {
    let issuer = walletd_testkit::interop::NodeIssuer::start();
    let w = engine("  sign_timeout: 1s\n").await;
    let mut c = connected(&w).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    c.send(&json!({"type": "flow_start", "flow_id": "s", "protocol": "oid4vci", "offer": offer["offer"]}))
        .await
        .unwrap();
    let v = terminal(&mut c, "s").await;
    assert_eq!(v["error"]["code"], "SIGN_TIMEOUT", "{v}");
}

#[tokio::test]
async fn sign_error_ends_the_flow_with_sign_error() {
    let issuer = walletd_testkit::interop::NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    c.send(&json!({"type": "flow_start", "flow_id": "e", "protocol": "oid4vci", "offer": offer["offer"]}))
        .await
        .unwrap();
    loop {
        let v = c.recv_flow("e", T).await.unwrap();
        if v["type"] == "sign_request" {
            c.send(&json!({"type": "sign_response", "flow_id": "e", "message_id": v["message_id"], "error": "No sign handler available"}))
                .await
                .unwrap();
            break;
        }
    }
    assert_eq!(terminal(&mut c, "e").await["error"]["code"], "SIGN_ERROR");
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001_and_two_sessions_per_user() {
    let mut w = engine("").await;
    let mut a = connected(&w).await;
    let mut b = connected(&w).await; // same user, second session: both stay open
    w.signal(libc::SIGTERM);
    assert_eq!(a.recv_close(T).await, Some(1001));
    assert_eq!(b.recv_close(T).await, Some(1001));
    assert!(w.wait_exit(Duration::from_secs(10)).await.is_some());
}

/// What a frame is: the step of a `flow_progress`, else its type.
fn what(v: &Value) -> String {
    let step = if v["type"] == "flow_progress" {
        &v["step"]
    } else {
        &v["type"]
    };
    step.as_str().unwrap_or("?").to_string()
}

/// Next frames of flow `id` until (and with) the one that is `until` (see [`what`]).
async fn frames_until(c: &mut EngineClient, id: &str, until: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let v = c.recv_flow(id, T).await.unwrap();
        let done = what(&v) == until;
        seen.push(v);
        if done {
            return seen;
        }
    }
    panic!("no {until} for {id}: {seen:?}");
}

fn steps(frames: &[Value]) -> Vec<String> {
    frames.iter().map(what).collect()
}

#[tokio::test]
async fn progress_frames_wait_at_most_the_hold_and_never_pass_later_frames() {
    // A flow stuck on an issuer that never answers: its first progress frames are held, so only the hold timer
    // can send them, not earlier than `engine.progress_hold` and not much later.
    let (slow, _) = local_server(None).await;
    let w = engine("  progress_hold: 400ms\n  outbound_timeout: 20s\n").await;
    let mut c = connected(&w).await;
    let started = std::time::Instant::now();
    c.send(&json!({"type": "flow_start", "flow_id": "s", "protocol": "oid4vci", "offer": offer_for(&slow)}))
        .await
        .unwrap();
    let frames = frames_until(&mut c, "s", "fetching_metadata").await;
    let waited = started.elapsed();
    assert_eq!(steps(&frames), ["parsing_offer", "offer_parsed", "fetching_metadata"]);
    assert!(
        waited >= Duration::from_millis(390),
        "progress left after {waited:?}, before the hold"
    );
    assert!(waited < Duration::from_secs(5), "progress held for {waited:?}");

    // A flow that ends at once: its held progress leaves with (and before) the terminal frame, not after the hold.
    let w = engine("  progress_hold: 1s\n").await;
    let mut c = connected(&w).await;
    let started = std::time::Instant::now();
    c.send(&json!({"type": "flow_start", "flow_id": "v", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    let frames = frames_until(&mut c, "v", "flow_error").await;
    assert_eq!(steps(&frames), ["fetching_type_metadata", "flow_error"]);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(900),
        "the terminal frame waited for the hold: {took:?}"
    );
    alive(&w).await;
}

/// Answers every request with issuer metadata of two configurations (for a flow that stops at the selection).
async fn two_configuration_issuer() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let configs = json!({"a": {"format": "dc+sd-jwt", "vct": "urn:a"}, "b": {"format": "dc+sd-jwt", "vct": "urn:b"}});
    let meta = json!({"credential_issuer": url, "credential_endpoint": format!("{url}/credential"),
        "credential_configurations_supported": configs})
    .to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{meta}",
        meta.len()
    );
    serve(l, Some(response.into_bytes()));
    url
}

#[tokio::test]
async fn a_step_that_asks_the_client_is_not_held() {
    // `awaiting_selection` is a progress frame the flow then waits on: it (and the steps before it) must leave at
    // once, not after the hold (1 s here, the most the configuration allows).
    let issuer = two_configuration_issuer().await;
    let w = engine("  progress_hold: 1s\n").await;
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.handshake(&token("u", 600), Some(&["select_credential"]))
        .await
        .unwrap();
    let offer = json!({"credential_issuer": issuer, "credential_configuration_ids": ["a", "b"],
        "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {"pre-authorized_code": "x"}}});
    let started = std::time::Instant::now();
    c.send(&json!({"type": "flow_start", "flow_id": "q", "protocol": "oid4vci", "offer": offer.to_string()}))
        .await
        .unwrap();
    let frames = frames_until(&mut c, "q", "awaiting_selection").await;
    let took = started.elapsed();
    assert_eq!(
        steps(&frames)[..3],
        ["parsing_offer", "offer_parsed", "fetching_metadata"],
        "{frames:?}"
    );
    assert!(
        took < Duration::from_millis(900),
        "the question waited for the hold: {took:?}"
    );
    alive(&w).await;
}
