//! API v2 over Server-Sent Events through a real walletd: issuance by the Node issuer and presentation to the Node
//! verifier over the SSE link (also with a stream that keeps being cut), resumption with `Last-Event-ID`, and the
//! session rules the WebSocket has (handshake buffering and timeout, token expiry, budgets, origin).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_testkit::engine::token;
use walletd_testkit::holder::{connected_sse, issued_over, verify_all};
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};
use walletd_testkit::{Walletd, http_client, send};
use walletd_wallet::Holder;
use walletd_wallet::client::{ClientError, EngineClient, PresentAnswer};

use super::{engine, engine_loopback};

pub(super) const T: Duration = Duration::from_secs(10);

/// Creates an SSE session with `token` (and `origin`); returns the raw answer.
pub(super) async fn create(w: &Walletd, token: Option<&str>, origin: Option<&str>) -> walletd_testkit::Resp {
    let mut req = http_client().post(format!("{}/api/v2/wallet/sse/session", w.http_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    send(req).await
}

/// Posts `body` to the session's message URL with extra headers.
pub(super) async fn post_frame(
    w: &Walletd,
    session: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> walletd_testkit::Resp {
    let mut req = http_client()
        .post(format!("{}/api/v2/wallet/sse/message?session={session}", w.http_url()))
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req).await
}

/// Opens the stream of `session` with extra headers; returns the status and, on success, the first events.
pub(super) async fn open_stream(w: &Walletd, session: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = http_client().get(format!("{}/api/v2/wallet/sse?session={session}", w.http_url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    if status.is_success() {
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        assert_eq!(r.headers()["cache-control"], "no-store");
        return (status, Value::Null);
    }
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn issuance_and_presentation_over_sse() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let mut c = connected_sse(&w, None).await;
    // Pre-authorized issuance, checked against the issuer's key and the holder's.
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "i", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
    // Presentation of a credential issued over the same link; the verifier checks it.
    let wallet = issued_over(&mut c, &issuer, &holder).await;
    let vct = format!("{}/vct/pid", issuer.url);
    let opts = json!({"query": "dcql", "mode": "direct_post.jwt", "scheme": "x509_san_dns", "claims": ["given_name"], "vct": vct});
    let req = verifier.request(opts).await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    let r = c
        .run_presentation(&holder, &wallet, "p", start, PresentAnswer::Consent)
        .await;
    let verdict = verifier.result(&req["id"]).await;
    r.unwrap_or_else(|e| panic!("{e}: {verdict}"));
    assert_eq!(verdict["verified"], true, "{verdict}");
    let sse = c.sse().unwrap();
    assert_eq!((sse.id_gaps, sse.reconnects), (0, 0));
}

#[tokio::test]
async fn a_stream_cut_again_and_again_loses_no_frame() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let mut c = connected_sse(&w, Some(&["select_credential"])).await;
    // Every second frame the stream is dropped; each reconnection resumes after the last event read.
    c.sse().unwrap().cut_every = Some(2);
    let offer = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let pin = offer["tx_code_value"].as_str().unwrap();
    let done = c
        .run_issuance(&holder, "i", json!({"offer": offer["offer"]}), Some(pin), None)
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
    let wallet = issued_over(&mut c, &issuer, &holder).await;
    let vct = format!("{}/vct/pid", issuer.url);
    let req = verifier
        .request(
            json!({"query": "pe", "mode": "direct_post", "scheme": "x509_hash", "claims": ["given_name"], "vct": vct}),
        )
        .await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    c.run_presentation(&holder, &wallet, "p", start, PresentAnswer::Consent)
        .await
        .unwrap();
    assert_eq!(verifier.result(&req["id"]).await["verified"], true);
    let sse = c.sse().unwrap();
    assert!(sse.reconnects >= 5, "{} reconnections", sse.reconnects);
    assert_eq!(sse.id_gaps, 0, "a frame was lost or repeated");
}

#[tokio::test]
async fn frames_written_while_detached_are_replayed_from_last_event_id() {
    let w = engine("").await;
    let mut c = connected_sse(&w, None).await;
    c.sse().unwrap().cut_stream();
    // Written while no stream is attached (the engine notices the cut at once or at its next write).
    for i in 0..3 {
        c.send(&json!({"type": "bogus", "n": i})).await.unwrap();
    }
    for _ in 0..3 {
        let v = c.recv(T).await.unwrap();
        assert_eq!(v["code"], "INVALID_MESSAGE", "{v}");
    }
    let sse = c.sse().unwrap();
    assert_eq!((sse.reconnects, sse.id_gaps, sse.last_event_id), (1, 0, 4));
    // A second client that read nothing yet asks from the start: the window still holds everything.
    let id = c.sse().unwrap().session_id.clone();
    let (s, _) = open_stream(&w, &id, &[("last-event-id", "0")]).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn last_event_id_outside_the_window_is_409() {
    let w = engine("  sse_replay_frames: 2\n").await;
    let mut c = connected_sse(&w, None).await;
    for i in 0..4 {
        c.send(&json!({"type": "bogus", "n": i})).await.unwrap();
        c.recv(T).await.unwrap();
    }
    let id = c.sse().unwrap().session_id.clone();
    // Frames 1..5 were written; the window keeps 4 and 5: resumable after 3, 4 or 5.
    for (last, status) in [
        ("0", 409),
        ("2", 409),
        ("3", 200),
        ("5", 200),
        ("6", 409),
        ("999", 409),
        ("x", 400),
    ] {
        let (s, body) = open_stream(&w, &id, &[("last-event-id", last)]).await;
        assert_eq!(s.as_u16(), status, "Last-Event-ID {last}: {body}");
        if status == 409 {
            assert_eq!(body["error"], "conflict", "{body}");
            assert!(body["message"].as_str().unwrap().contains("3 to 5"), "{body}");
        }
    }
    // The query parameter works for clients that cannot set the header.
    let url = format!("{}/api/v2/wallet/sse?session={id}&last_event_id=1", w.http_url());
    assert_eq!(http_client().get(url).send().await.unwrap().status(), 409);
}

#[tokio::test]
async fn frames_posted_before_the_handshake_wait_for_it() {
    let w = engine("").await;
    let t = token("early", 600);
    let mut c = EngineClient::connect_sse(&w.http_url(), &t, None).await.unwrap();
    // The web client does not wait for handshake_complete: a flow_start may arrive first.
    c.send(&json!({"type": "flow_start", "flow_id": "v", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    c.send(&json!({"type": "handshake", "app_token": t})).await.unwrap();
    assert_eq!(c.recv(T).await.unwrap()["type"], "handshake_complete");
    assert_eq!(terminal(&mut c, "v").await["error"]["code"], "METADATA_FETCH_ERROR");
}

/// The terminal frame of `flow_id` (progress skipped).
pub(super) async fn terminal(c: &mut EngineClient, flow_id: &str) -> Value {
    for _ in 0..50 {
        let v = c.recv_flow(flow_id, T).await.unwrap();
        if v["type"] != "flow_progress" {
            return v;
        }
    }
    panic!("no terminal frame for {flow_id}");
}

#[tokio::test]
async fn no_handshake_in_time_or_another_users_token_closes_with_4001() {
    let w = engine("  handshake_timeout: 1s\n").await;
    let mut c = EngineClient::connect_sse(&w.http_url(), &token("a", 600), None)
        .await
        .unwrap();
    c.send(&json!({"type": "flow_start", "flow_id": "v", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    let e = c.recv(Duration::from_secs(5)).await.unwrap();
    assert_eq!(e["code"], "AUTH_FAILED", "{e}");
    assert_eq!(c.recv_close(T).await, Some(4001));
    // The session is gone: its id is refused like one that never existed.
    let id = c.sse().unwrap().session_id.clone();
    assert_eq!(post_frame(&w, &id, "{}", &[]).await.status, StatusCode::NOT_FOUND);

    // A session created for `a` does not take `b`'s token in its handshake.
    let mut c = EngineClient::connect_sse(&w.http_url(), &token("a", 600), None)
        .await
        .unwrap();
    let e = c.handshake(&token("b", 600), None).await.unwrap_err();
    let ClientError::Flow(e) = e else { panic!("{e}") };
    assert_eq!(e["code"], "AUTH_FAILED", "{e}");
    assert_eq!(c.recv_close(T).await, Some(4001));
}

#[tokio::test]
async fn the_token_expiring_ends_the_session_with_4001() {
    let w = engine("").await;
    let t = token("short", 2);
    let mut c = EngineClient::connect_sse(&w.http_url(), &t, None).await.unwrap();
    c.handshake(&t, None).await.unwrap();
    let e = c.recv(Duration::from_secs(6)).await.unwrap();
    assert_eq!(e["code"], "AUTH_FAILED", "{e}");
    assert_eq!(c.recv_close(T).await, Some(4001));
    // An expired token creates no session.
    let r = create(&w, Some(&token("short", -60)), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.body["error"], "unauthorized");
}

#[tokio::test]
async fn a_session_without_a_stream_lingers_then_ends() {
    let w = engine("  sse_linger: 1s\n").await;
    let t = token("away", 600);
    let mut c = EngineClient::connect_sse(&w.http_url(), &t, None).await.unwrap();
    c.handshake(&t, None).await.unwrap();
    let id = c.sse().unwrap().session_id.clone();
    drop(c);
    let mut status = StatusCode::ACCEPTED;
    for _ in 0..40 {
        status = post_frame(&w, &id, r#"{"type":"bogus"}"#, &[]).await.status;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        // Posting keeps it alive like any client frame; stop posting and it goes within the linger.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    assert_eq!(status, StatusCode::NOT_FOUND);
}
