//! `/proxy` in metadata mode (the default), driven the way the web client's `HttpProxy.get` drives it
//! (`POST /proxy {headers, url, method: "GET"}` with the app token and `X-Tenant-ID`): metadata documents are
//! served and cached (the second request never reaches the upstream) and counted per kind; a non-metadata URL, a
//! non-GET, a non-JSON or oversized body and an internal address are refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use walletd_testkit::{Config, TestDatabase, Walletd, http_client};

/// Upstream requests by path (with query).
type Hits = Arc<Mutex<BTreeMap<String, usize>>>;

/// An issuer on 127.0.0.2 (the one allowed hole) serving the documents the client's parser fetches, plus a few
/// that must not pass.
async fn upstream(hits: Hits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(serve).with_state((hits, addr));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn serve(State((hits, addr)): State<(Hits, SocketAddr)>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".into(), |p| p.as_str().to_string());
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let base = format!("http://{addr}");
    let json_doc = |v: Value| {
        (
            [("content-type", "application/json"), ("cache-control", "max-age=60")],
            v.to_string(),
        )
    };
    match path.as_str() {
        "/.well-known/openid-credential-issuer" => json_doc(json!({
            "credential_issuer": base,
            "credential_endpoint": format!("{base}/credential"),
            "authorization_servers": [base],
            "credential_configurations_supported": {
                "pid": {"format": "dc+sd-jwt", "vct": format!("{base}/types/pid")}
            }
        }))
        .into_response(),
        "/.well-known/oauth-authorization-server" => json_doc(json!({
            "issuer": base, "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/keys?v=1")
        }))
        .into_response(),
        "/keys?v=1" => json_doc(json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]})).into_response(),
        "/types/pid" => json_doc(json!({"vct": format!("{base}/types/pid"), "name": "PID"})).into_response(),
        "/types/self-named" => json_doc(json!({"vct": format!("{base}/types/self-named")})).into_response(),
        "/.well-known/jwt-vc-issuer" => {
            ([("content-type", "application/jwt")], "eyJhbGciOiJFUzI1NiJ9.e30.c2ln").into_response()
        }
        "/api/users" => json_doc(json!({"users": ["alice"]})).into_response(),
        "/.well-known/openid-configuration" => ([("content-type", "text/html")], "<html></html>").into_response(),
        "/.well-known/jwks.json" => json_doc(json!({"keys": [], "pad": "x".repeat(8192)})).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The client's request: `HttpProxy.get` in wallet-frontend.
async fn client_get(w: &Walletd, token: &str, body: Value) -> (StatusCode, Value) {
    let r = http_client()
        .post(format!("{}/proxy", w.http_url()))
        .bearer_auth(token)
        .header("x-tenant-id", "default")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(w: &Walletd, token: &str, url: &str) -> (StatusCode, Value) {
    client_get(w, token, json!({"headers": {}, "url": url, "method": "GET"})).await
}

fn assert_refused(what: &str, (status, body): &(StatusCode, Value)) {
    assert_eq!(*status, StatusCode::NOT_FOUND, "{what}: {body}");
    assert_eq!(
        body,
        &json!({"error": "proxy_disabled", "message": "the legacy proxy is disabled"}),
        "{what}: the same answer as a disabled proxy"
    );
}

#[tokio::test]
async fn metadata_mode_serves_caches_counts_and_refuses() {
    let hits: Hits = Arc::default();
    let up = upstream(hits.clone()).await;
    let base = format!("http://{up}");
    let db = TestDatabase::sqlite();
    let config = Config::new()
        .database(db.url())
        .set("features.legacy_proxy", "metadata")
        .limit("features.metadata_proxy_max_response_bytes", 4096)
        .egress_allow_http()
        .egress_allow_cidr("127.0.0.2/32");
    let w = crate::support::start(&config).await;
    let token = w.token_for("u1", "default");
    let count = |path: &str| hits.lock().unwrap().get(path).copied().unwrap_or(0);

    // Unauthenticated: refused before anything else.
    let r = http_client()
        .post(format!("{}/proxy", w.http_url()))
        .json(&json!({"url": format!("{base}/.well-known/openid-credential-issuer")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Issuer metadata: served in the v1 shape, then from the cache.
    let issuer_url = format!("{base}/.well-known/openid-credential-issuer");
    for _ in 0..2 {
        let (status, body) = get(&w, &token, &issuer_url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], 200);
        assert_eq!(body["headers"]["content-type"], "application/json");
        assert_eq!(body["headers"]["cache-control"], "max-age=60");
        assert_eq!(body["data"]["credential_issuer"], base);
    }
    assert_eq!(
        count("/.well-known/openid-credential-issuer"),
        1,
        "the second request came from the cache"
    );

    // The vct the issuer metadata names, then one that only names itself; both are type metadata.
    let (status, body) = get(&w, &token, &format!("{base}/types/pid")).await;
    assert_eq!(
        (status, &body["data"]["name"]),
        (StatusCode::OK, &json!("PID")),
        "{body}"
    );
    let (status, body) = get(&w, &token, &format!("{base}/types/self-named")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // jwks_uri with a query: refused until the authorization server's metadata names it.
    let keys = format!("{base}/keys?v=1");
    assert_refused("unreferenced URL with a query", &get(&w, &token, &keys).await);
    assert_eq!(count("/keys?v=1"), 0, "refused before any I/O");
    let (status, _) = get(&w, &token, &format!("{base}/.well-known/oauth-authorization-server")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&w, &token, &keys).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["keys"][0]["kty"], "EC");

    // A JWT document comes back as the compact string.
    let (status, body) = get(&w, &token, &format!("{base}/.well-known/jwt-vc-issuer")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], "eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
    assert_eq!(body["headers"]["content-type"], "application/jwt");

    // Refusals, each with the disabled proxy's 404.
    assert_refused(
        "a JSON API that is no metadata",
        &get(&w, &token, &format!("{base}/api/users")).await,
    );
    assert_refused(
        "an HTML body",
        &get(&w, &token, &format!("{base}/.well-known/openid-configuration")).await,
    );
    assert_refused(
        "a query on a well-known path",
        &get(&w, &token, &format!("{issuer_url}?x=1")).await,
    );
    assert_refused("the root", &get(&w, &token, &format!("{base}/")).await);
    assert_refused(
        "a POST",
        &client_get(
            &w,
            &token,
            json!({"url": issuer_url, "method": "POST", "data": {"a": 1}}),
        )
        .await,
    );
    assert_refused(
        "a GET with a body",
        &client_get(&w, &token, json!({"url": issuer_url, "data": "x"})).await,
    );
    assert_refused("another scheme", &get(&w, &token, "file:///etc/passwd").await);
    let (status, body) = get(&w, &token, &format!("{base}/.well-known/jwks.json")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("upstream_too_large")),
        "{body}"
    );
    // An internal address on a well-known path: the egress guard refuses it.
    let internal = format!("http://127.0.0.1:{}/.well-known/openid-credential-issuer", up.port());
    let (status, body) = get(&w, &token, &internal).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("egress_blocked")),
        "{body}"
    );
    // Upstream errors are relayed as statuses, not cached.
    let (status, body) = get(&w, &token, &format!("{base}/.well-known/vct/missing")).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!(404)), "{body}");
    assert_eq!(
        count("/.well-known/openid-credential-issuer"),
        1,
        "a POST or a query never reached it"
    );

    let metrics = walletd_testkit::metrics_text(&w).await;
    let line = |kind: &str, outcome: &str| {
        metrics.lines().any(|l| {
            l.starts_with("walletd_metadata_proxy_requests_total")
                && l.contains(&format!("kind=\"{kind}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
    };
    for (kind, outcome) in [
        ("credential_issuer", "fetched"),
        ("credential_issuer", "cached"),
        ("type_metadata", "fetched"),
        ("authorization_server", "fetched"),
        ("jwks", "fetched"),
        ("jwt_vc_issuer", "fetched"),
        ("none", "refused"),
        ("authorization_server", "refused"),
        ("jwks", "upstream_error"),
        ("credential_issuer", "egress_blocked"),
        ("type_metadata", "upstream_status"),
    ] {
        assert!(line(kind, outcome), "no {kind}/{outcome} in\n{metrics}");
    }
    let status: Value = http_client()
        .get(format!("{}/status", w.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !status["capabilities"].as_array().unwrap().contains(&json!("proxy")),
        "metadata mode is not the open proxy old clients look for"
    );
}
