//! The web client's trust passthrough (`/v1/evaluate`, `/v1/resolve`) against real PDPs on loopback, and the
//! legacy `/proxy`: 404 when off; when on, egress-guarded, authenticated, stripping identifying headers, never
//! following redirects, capped, counted.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use walletd_common::tenant::Tenant;
use walletd_db::Store;
use walletd_testkit::pdp::{Seen, trusting_good_subjects as pdp};
use walletd_testkit::{Config, TestDatabase, Walletd, http_client};

/// A process with every role (the default) on `db`.
async fn start(db: &TestDatabase, config: Config) -> Walletd {
    crate::support::start(&config.database(db.url())).await
}

async fn post_json(w: &Walletd, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut req = http_client().post(format!("{}{path}", w.http_url())).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn evaluate_and_resolve_go_to_the_callers_tenant_pdp() {
    let (global, global_seen) = pdp("global").await;
    let (own, own_seen) = pdp("acme-pdp").await;
    let db = TestDatabase::sqlite();
    let w = start(&db, Config::new().trust_endpoint(&global)).await;
    let store = Store::connect(&walletd_common::config::DatabaseConfig::with_url(db.url()))
        .await
        .unwrap();
    let mut acme = Tenant::new("acme", "ACME");
    acme.trust_config.pdp_url = Some(own.clone());
    store.create_tenant(&acme).await.unwrap();

    let request = json!({
        "subject": {"type": "key", "id": "good-issuer"},
        "resource": {"type": "jwk", "id": "good-issuer", "key": [{"kty": "EC"}]},
        "action": {"name": "credential-issuer"},
        "context": {}
    });
    let default_token = w.token_for("u1", "default");
    let (status, body) = post_json(&w, "/v1/evaluate", Some(&default_token), request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"decision": true, "context": {"reason": "global"}}),
        "the PDP's answer, unchanged"
    );
    assert_eq!(
        global_seen.lock().unwrap().last().unwrap(),
        &request,
        "the body, unchanged"
    );

    let acme_token = w.token_for("u2", "acme");
    let (status, body) = post_json(&w, "/v1/evaluate", Some(&acme_token), request.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["context"]["reason"], "acme-pdp");
    assert_eq!(own_seen.lock().unwrap().len(), 1);
    assert_eq!(
        global_seen.lock().unwrap().len(),
        1,
        "acme's request did not reach the global PDP"
    );

    let (status, body) = post_json(
        &w,
        "/v1/resolve",
        Some(&acme_token),
        json!({"subject_id": "did:web:verifier.example", "subject_type": "key"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = own_seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(sent["subject"]["id"], "did:web:verifier.example");
    assert!(
        sent["resource"].get("key").is_none(),
        "resolution-only: no key material: {sent}"
    );
}

#[tokio::test]
async fn trust_passthrough_refuses_bad_callers_and_fails_closed() {
    let (global, _) = pdp("global").await;
    let db = TestDatabase::sqlite();
    let w = start(&db, Config::new().trust_endpoint(&global).trust_timeout("1s")).await;
    let store = Store::connect(&walletd_common::config::DatabaseConfig::with_url(db.url()))
        .await
        .unwrap();
    let body = json!({"subject": {"type": "key", "id": "x"}});

    let (status, _) = post_json(&w, "/v1/evaluate", None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = w.token_for("u1", "default");
    let r = http_client()
        .post(format!("{}/v1/evaluate", w.http_url()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let (status, _) = post_json(&w, "/v1/resolve", Some(&token), json!({"subject_id": " "})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Unknown and disabled tenants.
    let (status, _) = post_json(&w, "/v1/evaluate", Some(&w.token_for("u", "ghost")), body.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut off = Tenant::new("off", "Off");
    off.enabled = false;
    store.create_tenant(&off).await.unwrap();
    let (status, _) = post_json(&w, "/v1/evaluate", Some(&w.token_for("u", "off")), body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A tenant whose PDP is down: 502, and the message does not reveal the PDP's address.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut down = Tenant::new("down", "Down");
    down.trust_config.pdp_url = Some(dead.clone());
    store.create_tenant(&down).await.unwrap();
    let (status, err) = post_json(&w, "/v1/evaluate", Some(&w.token_for("u", "down")), body.clone()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(err["error"], "pdp_error");
    assert!(!err.to_string().contains(&dead[7..]), "{err}");

    // No PDP at all.
    let db2 = TestDatabase::sqlite();
    let bare = start(&db2, Config::new()).await;
    let (status, err) = post_json(&bare, "/v1/evaluate", Some(&bare.token_for("u", "default")), body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"], "pdp_not_configured");
}

#[tokio::test]
async fn proxy_is_404_when_off() {
    let db = TestDatabase::sqlite();
    let w = start(&db, Config::new().set("features.legacy_proxy", false)).await;
    let token = w.token_for("u1", "default");
    let (status, body) = post_json(&w, "/proxy", Some(&token), json!({"url": "https://example.org/"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "proxy_disabled");
    let (status, _) = post_json(&w, "/proxy", None, json!({"url": "https://example.org/"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "off means off, even unauthenticated");
    let status: Value = http_client()
        .get(format!("{}/status", w.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!status["capabilities"].as_array().unwrap().contains(&json!("proxy")));
}

/// The upstream the enabled proxy may reach: on 127.0.0.2, the only allowed hole.
async fn upstream(hits: Seen) -> SocketAddr {
    let app = Router::new()
        .route(
            "/echo",
            post(
                |State(hits): State<Seen>, headers: HeaderMap, body: String| async move {
                    let names: Vec<String> = headers.keys().map(|k| k.as_str().to_string()).collect();
                    hits.lock()
                        .unwrap()
                        .push(json!({"path": "/echo", "headers": names, "body": body}));
                    axum::Json(json!({"received_headers": names, "body": body}))
                },
            ),
        )
        .route(
            "/logo.png",
            get(|| async {
                (
                    [("content-type", "image/png")],
                    vec![0x89u8, b'P', b'N', b'G', 0, 1, 2, 3],
                )
            }),
        )
        .route(
            "/redirect",
            get(|| async { (StatusCode::FOUND, [("location", "http://127.0.0.1:9/secret")]).into_response() }),
        )
        .route("/huge", get(|| async { vec![b'x'; 256 * 1024] }))
        .with_state(hits);
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn enabled_proxy_is_guarded_stripped_capped_and_counted() {
    let hits: Seen = Arc::default();
    let up = upstream(hits.clone()).await;
    let db = TestDatabase::sqlite();
    let w = start(
        &db,
        Config::new()
            .set("features.legacy_proxy", true)
            .limit("features.legacy_proxy_max_response_bytes", 65536)
            .egress_allow_http()
            .egress_allow_cidr("127.0.0.2/32"),
    )
    .await;
    let token = w.token_for("u1", "default");

    let (status, _) = post_json(&w, "/proxy", None, json!({"url": format!("http://{up}/echo")})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A relayed POST: identifying headers dropped, protocol headers kept.
    let (status, body) = post_json(
        &w,
        "/proxy",
        Some(&token),
        json!({
            "url": format!("http://{up}/echo"),
            "method": "POST",
            "headers": {"Cookie": "session=1", "X-Forwarded-For": "203.0.113.9", "Authorization": "DPoP abc",
                        "Content-Type": "application/x-www-form-urlencoded", "Referer": "https://wallet.example/"},
            "data": "grant_type=x"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], 200);
    assert_eq!(body["data"]["body"], "grant_type=x");
    let received: Vec<String> = serde_json::from_value(body["data"]["received_headers"].clone()).unwrap();
    assert!(received.contains(&"authorization".to_string()));
    for dropped in ["cookie", "x-forwarded-for", "referer"] {
        assert!(
            !received.contains(&dropped.to_string()),
            "{dropped} relayed: {received:?}"
        );
    }

    // Images come back as raw bytes.
    let r = http_client()
        .post(format!("{}/proxy", w.http_url()))
        .bearer_auth(&token)
        .json(&json!({"url": format!("http://{up}/logo.png")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        &[0x89u8, b'P', b'N', b'G', 0, 1, 2, 3]
    );

    // Redirects are handed back, not followed.
    let (status, body) = post_json(
        &w,
        "/proxy",
        Some(&token),
        json!({"url": format!("http://{up}/redirect")}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], 302);

    // Over the cap.
    let (status, body) = post_json(&w, "/proxy", Some(&token), json!({"url": format!("http://{up}/huge")})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "upstream_too_large");

    // The probe table: loopback in every encoding, local names, other schemes. (Every destination is on this host,
    // so even a broken guard could not send traffic elsewhere; the exhaustive matrix lives in crates/egress.)
    let port = up.port();
    let probes = [
        format!("http://127.0.0.1:{port}/echo"),
        format!("http://localhost:{port}/echo"),
        format!("http://2130706433:{port}/echo"),
        format!("http://0x7f.0.0.1:{port}/echo"),
        format!("http://0x7f000001:{port}/echo"),
        format!("http://0177.0.0.1:{port}/echo"),
        format!("http://127.1:{port}/echo"),
        format!("http://0.0.0.0:{port}/echo"),
        format!("http://[::1]:{port}/echo"),
        format!("http://[::ffff:127.0.0.1]:{port}/echo"),
        format!("http://[::ffff:7f00:1]:{port}/echo"),
        format!("http://[::]:{port}/echo"),
        "file:///etc/passwd".to_string(),
        "gopher://127.0.0.2:70/".to_string(),
        "ftp://127.0.0.2/".to_string(),
        format!("ws://127.0.0.2:{port}/"),
        "data:text/plain,hello".to_string(),
    ];
    let mut blocked = 0;
    for url in &probes {
        let (status, body) = post_json(&w, "/proxy", Some(&token), json!({"url": url})).await;
        if status == StatusCode::BAD_REQUEST
            && ["egress_blocked", "invalid_url"].contains(&body["error"].as_str().unwrap_or(""))
        {
            blocked += 1;
        } else {
            panic!("{url} was not blocked: {status} {body}");
        }
    }
    println!("{blocked}/{} proxy probes blocked", probes.len());
    assert_eq!(
        hits.lock().unwrap().len(),
        1,
        "only the one allowed POST reached the upstream"
    );

    let metrics = walletd_testkit::metrics_text(&w).await;
    assert!(metrics.contains("walletd_legacy_proxy_requests_total"), "{metrics}");
    assert!(metrics.contains("outcome=\"EGRESS_BLOCKED\""), "{metrics}");
    let status: Value = http_client()
        .get(format!("{}/status", w.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(status["capabilities"].as_array().unwrap().contains(&json!("proxy")));
}
