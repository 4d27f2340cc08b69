//! Session-level paths of the real engine process that the protocol suites do not reach: an access token that
//! expires mid-session, `--mode=all` accepting its own auth role's ES256 tokens on the socket (general and `engine`
//! audience, not another role's), and a tenant's own PDP (tenants table) asked for that tenant's users while other
//! tenants use the global one.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_testkit::{TestDatabase, Walletd, http_client};
use walletd_wallet::Holder;
use walletd_wallet::client::EngineClient;

use super::{all_mode, engine};
use walletd_testkit::engine::token;
use walletd_testkit::engine::ws_url;
use walletd_testkit::holder::run_collecting;
use walletd_testkit::holder::verify_all;
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::jwt::claims;
use walletd_testkit::pdp::answering as pdp_answering;

const T: Duration = Duration::from_secs(15);
const ADMIN_TOKEN: &str = "admin-token-for-engine-sessions-0123";

/// Sleeps until the wall clock is past `unix` (a token's `exp`) by a second.
async fn wait_past(unix: u64) {
    let left = (unix + 1).saturating_sub(walletd_testkit::jwt::unix_now());
    tokio::time::sleep(Duration::from_secs(left) + Duration::from_millis(200)).await;
}

/// Starts an OID4VCI flow and reads its frames up to the first `sign_request` (returned); every frame before it
/// must be progress.
async fn start_until_sign(c: &mut EngineClient, id: &str, offer: &Value) -> Value {
    c.send(&json!({"type": "flow_start", "flow_id": id, "protocol": "oid4vci", "offer": offer}))
        .await
        .unwrap();
    for _ in 0..50 {
        let v = c.recv_flow(id, T).await.unwrap();
        match v["type"].as_str().unwrap() {
            "sign_request" => return v,
            "flow_progress" => {}
            _ => panic!("unexpected frame before the proof request: {v}"),
        }
    }
    panic!("no sign_request for {id}");
}

#[tokio::test]
async fn token_expiring_mid_session_lets_the_running_flow_finish_then_closes_4001() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let holder = Holder::new();
    let tok = token("holder-1", 4);
    let exp = claims(&tok)["exp"].as_u64().unwrap();

    // Session A: a flow is waiting for its proof when the token expires.
    let mut a = EngineClient::connect(&ws_url(&w)).await.unwrap();
    a.handshake(&tok, None).await.unwrap();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let sign = start_until_sign(&mut a, "running", &offer["offer"]).await;
    // Session B: the same kind of flow, but the client starts another flow after the expiry.
    let mut b = EngineClient::connect(&ws_url(&w)).await.unwrap();
    b.handshake(&tok, None).await.unwrap();
    let offer_b = issuer.offer(json!({"grant": "pre"})).await;
    start_until_sign(&mut b, "waiting", &offer_b["offer"]).await;
    // Session C: idle.
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.handshake(&tok, None).await.unwrap();

    wait_past(exp).await;

    // C had nothing running: it was closed at the expiry.
    let e = c.recv(T).await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("AUTH_FAILED")),
        "{e}"
    );
    assert_eq!(c.recv_close(T).await, Some(4001));

    // A is still open: the running flow takes its proof and completes with a valid credential...
    let proofs = holder.proofs_for(&sign["params"]);
    a.send(&json!({"type": "sign_response", "flow_id": "running", "message_id": sign["message_id"], "proofs": proofs}))
        .await
        .unwrap();
    let done = loop {
        let v = a.recv_flow("running", T).await.unwrap();
        if v["type"] != "flow_progress" {
            break v;
        }
    };
    assert_eq!(done["type"], "flow_complete", "{done}");
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
    // ...and only then is the session closed: AUTH_FAILED, then 4001.
    let e = a.recv(T).await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("AUTH_FAILED")),
        "{e}"
    );
    assert!(e.get("flow_id").is_none(), "{e}");
    assert_eq!(a.recv_close(T).await, Some(4001));

    // B: a new flow_start after the expiry is not started; the session closes with 4001.
    b.send(&json!({"type": "flow_start", "flow_id": "late", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    let e = b.recv(T).await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("AUTH_FAILED")),
        "{e}"
    );
    assert_eq!(b.recv_close(T).await, Some(4001));

    // A fresh token still gets a session: the process is fine.
    let mut d = EngineClient::connect(&ws_url(&w)).await.unwrap();
    d.handshake(&token("holder-1", 600), None).await.unwrap();
}

#[tokio::test]
async fn all_mode_accepts_its_own_auth_token_on_the_socket_and_runs_a_flow() {
    let issuer = NodeIssuer::start();
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;

    // The token is what the auth role issues: ES256 under a key the process publishes in its JWKS.
    let tok = w.token_for("holder-1", "default");
    let header = walletd_testkit::jwt::header(&tok);
    assert_eq!(header["alg"], "ES256", "{header}");
    let jwks: Value = http_client()
        .get(format!("{}/.well-known/jwks.json", w.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"]),
        "token kid {} not in {jwks}",
        header["kid"]
    );

    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    let hs = c.handshake(&tok, None).await.unwrap();
    assert_eq!(hs["type"], "handshake_complete");
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "all-mode", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);

    // A token exchanged at /auth/token for the `engine` audience (a native wallet's) opens a session; one for
    // another role's audience does not.
    let for_engine = w.token_with(json!({"sub": "holder-1", "tenant_id": "default", "aud": "engine"}));
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    let hs = c.handshake(&for_engine, None).await.unwrap();
    assert_eq!(hs["type"], "handshake_complete");
    let for_storage = w.token_with(json!({"sub": "holder-1", "tenant_id": "default", "aud": "storage"}));
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.send(&json!({"type": "handshake", "app_token": for_storage}))
        .await
        .unwrap();
    let e = c.recv(T).await.unwrap();
    assert_eq!(e["code"], "AUTH_FAILED", "{e}");
    assert_eq!(c.recv_close(T).await, Some(4001));

    // A legacy HS256 token is not accepted by a process that has no shared secret.
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.send(&json!({"type": "handshake", "app_token": token("holder-1", 600)}))
        .await
        .unwrap();
    let e = c.recv(T).await.unwrap();
    assert_eq!(e["code"], "AUTH_FAILED", "{e}");
    assert_eq!(c.recv_close(T).await, Some(4001));
}

#[tokio::test]
async fn a_tenants_own_pdp_is_asked_for_its_users_and_the_global_one_for_others() {
    let issuer = NodeIssuer::start();
    let (tenant_pdp, tenant_seen) = pdp_answering(true, "acme-list", Vec::new()).await;
    let (global_pdp, global_seen) = pdp_answering(true, "global-list", Vec::new()).await;
    let db = TestDatabase::sqlite();
    let w = crate::support::start(
        &super::all_mode_config(&db, ADMIN_TOKEN)
            .trust_endpoint(&global_pdp)
            .trust_timeout("2s"),
    )
    .await;

    // The tenant with its own PDP, created through the admin API (the store the engine reads in all-mode).
    let (status, answer) = walletd_testkit::admin(
        &w,
        Some(ADMIN_TOKEN),
        reqwest::Method::POST,
        "/admin/tenants",
        Some(json!({"id": "acme", "name": "Acme", "trust_config": {"pdp_url": tenant_pdp}})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{answer}");

    let holder = Holder::new();
    for (tenant, framework) in [("acme", "acme-list"), ("default", "global-list")] {
        let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
        c.handshake(&w.token_for(&format!("user-of-{tenant}"), tenant), None)
            .await
            .unwrap();
        let offer = issuer.offer(json!({"grant": "pre"})).await;
        let (done, steps) = run_collecting(&mut c, &holder, tenant, &offer["offer"]).await;
        let done = done.unwrap_or_else(|e| e);
        assert_eq!(done["type"], "flow_complete", "{tenant}: {done}");
        verify_all(&issuer, &holder, &done).await;
        let t = steps
            .iter()
            .find(|s| s["step"] == "trust_evaluated")
            .unwrap_or_else(|| panic!("{tenant}: no trust_evaluated in {steps:?}"));
        assert_eq!(t["payload"]["trusted"], true, "{tenant}: {t}");
        assert_eq!(t["payload"]["framework"], framework, "{tenant}: {t}");
    }
    // Each PDP was asked exactly about its own tenant's flow, for this issuer.
    let tenant_seen = tenant_seen.lock().unwrap().clone();
    let global_seen = global_seen.lock().unwrap().clone();
    assert_eq!(tenant_seen.len(), 1, "{tenant_seen:?}");
    assert_eq!(global_seen.len(), 1, "{global_seen:?}");
    assert_eq!(tenant_seen[0]["resource"]["id"], issuer.url, "{tenant_seen:?}");
    assert_eq!(global_seen[0]["resource"]["id"], issuer.url, "{global_seen:?}");
}

/// A WebSocket client written by hand on a TCP stream, so that it reads exactly what the server sent and never
/// writes on its own (a library would answer pings).
struct RawClient(tokio::net::TcpStream);

impl RawClient {
    async fn handshaken(w: &Walletd, token: &str) -> RawClient {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = w.http_url().trim_start_matches("http://").to_string();
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let req = format!(
            "GET /api/v2/wallet HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            assert_eq!(s.read(&mut b).await.unwrap(), 1, "upgrade answer cut short");
            head.push(b[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
        let hs = json!({"type": "handshake", "app_token": token}).to_string();
        // A masked text frame (mask key 0: the payload goes as is).
        let mut frame = vec![0x81, 0x80 | 126, (hs.len() >> 8) as u8, hs.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(hs.as_bytes());
        s.write_all(&frame).await.unwrap();
        let mut c = RawClient(s);
        let (op, payload) = c.frames(T, false).await.into_iter().next().expect("handshake answer");
        assert_eq!(op, 1);
        assert!(String::from_utf8_lossy(&payload).contains("handshake_complete"));
        c
    }

    /// Frames (opcode, payload) read until a close frame, the end of the connection or `within`; unless
    /// `until_close`, returns as soon as there is one.
    async fn frames(&mut self, within: Duration, until_close: bool) -> Vec<(u8, Vec<u8>)> {
        use tokio::io::AsyncReadExt;
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            // Parse every complete frame in `buf` (server frames are not masked).
            while buf.len() >= 2 {
                let (len, at) = match buf[1] & 0x7f {
                    126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
                    126 => break,
                    127 => panic!("unexpectedly large frame"),
                    n => (n as usize, 2),
                };
                if buf.len() < at + len {
                    break;
                }
                out.push((buf[0] & 0x0f, buf[at..at + len].to_vec()));
                buf.drain(..at + len);
            }
            if out.last().is_some_and(|f| !until_close || f.0 == 8) {
                return out;
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.0.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return out,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

#[tokio::test]
async fn pings_keep_a_reading_client_alive_and_the_read_deadline_closes_a_silent_one() {
    let w = engine("  ping_interval: 1s\n  read_timeout: 3s\n").await;
    // A reads (its WebSocket library answers the server's pings); B never writes after its handshake.
    let mut a = EngineClient::connect(&ws_url(&w)).await.unwrap();
    a.handshake(&token("holder-1", 600), None).await.unwrap();
    let mut b = RawClient::handshaken(&w, &token("holder-1", 600)).await;
    let started = std::time::Instant::now();
    // A sends no frame of its own for longer than the read deadline: only its pongs keep it open.
    assert!(matches!(
        a.recv(Duration::from_millis(4500)).await,
        Err(walletd_wallet::client::ClientError::Timeout)
    ));
    // B got pings about every second, then the read deadline closed it with 1001.
    let frames = b.frames(T, true).await;
    let ops: Vec<u8> = frames.iter().map(|f| f.0).collect();
    let (close, pings) = ops.split_last().expect("frames");
    assert_eq!(*close, 8, "{ops:?}");
    assert!(
        (2..=4).contains(&pings.len()) && pings.iter().all(|&op| op == 9),
        "{ops:?}"
    );
    let payload = &frames.last().unwrap().1;
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001, "{ops:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // A is still served.
    a.send(&json!({"type": "flow_start", "flow_id": "still-here", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    let v = a.recv_flow("still-here", T).await.unwrap();
    assert_eq!(v["type"], "flow_progress", "{v}");
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_client_that_does_not_read_is_not_buffered_for_and_is_dropped() {
    use tokio::io::AsyncWriteExt;
    let w = engine("  read_timeout: 2s\n").await;
    let fds = open_fds(w.pid());
    let mut slow = RawClient::handshaken(&w, &token("holder-1", 600)).await;
    // 1000 invalid frames per write (masked, key 0); each gets an `error` reply that this client never reads.
    let batch: Vec<u8> = [0x81u8, 0x82, 0, 0, 0, 0, b'{', b'x'].repeat(1000);
    let mut sent = 0usize;
    let blocked = loop {
        match tokio::time::timeout(Duration::from_secs(1), slow.0.write_all(&batch)).await {
            Ok(Ok(())) => sent += batch.len(),
            Ok(Err(_)) => break false,
            Err(_) => break true,
        }
        assert!(
            sent < 64 << 20,
            "the engine kept reading {sent} bytes it could not answer"
        );
    };
    // The engine stopped reading once its replies could not be written: only socket buffers hold anything.
    assert!(
        blocked,
        "the engine dropped the socket before it blocked ({sent} bytes sent)"
    );
    // Another client is served meanwhile.
    let mut other = EngineClient::connect(&ws_url(&w)).await.unwrap();
    other.handshake(&token("holder-2", 600), None).await.unwrap();
    drop(other);
    // A write that makes no progress for the read timeout ends the session: the engine lets go of the socket.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while open_fds(w.pid()) > fds && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(open_fds(w.pid()), fds, "the slow client's socket is still open");
    drop(slow);
    let r = reqwest::get(format!("{}/healthz", w.http_url())).await.unwrap();
    assert!(r.status().is_success());
}
