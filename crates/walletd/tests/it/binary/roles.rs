//! Every role, alone and combined, starts as the real binary on loopback and serves the shared HTTP surface:
//! health, status, metrics, CORS, request ids, limits and the tenant path alias.

use crate::support::walletd;
use reqwest::StatusCode;
use serde_json::Value;
use walletd_testkit::{Config, TestDatabase, Walletd, http_client};

/// A config for `mode` with just what the mode needs: a database for stateful roles, a token key source for the
/// roles that validate tokens without the auth role beside them.
fn config_for(mode: &str, db: &TestDatabase) -> Config {
    let needs_db = ["auth", "storage", "registry", "backend", "wallet-provider", "all"]
        .iter()
        .any(|r| mode.split(',').any(|m| m == *r));
    let config = Config::new().mode(mode).jwt_secret("test-only-shared-secret");
    if needs_db { config.database(db.url()) } else { config }
}

async fn start(mode: &str, db: &TestDatabase) -> Walletd {
    walletd()
        .with_config(&config_for(mode, db))
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("{mode}: {e}"))
}

async fn get_json(url: &str) -> (StatusCode, Value) {
    let r = http_client().get(url).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_single_role_and_all_start_and_answer_healthz() {
    let db = TestDatabase::sqlite();
    for mode in [
        "auth",
        "storage",
        "engine",
        "registry",
        "backend",
        "wallet-provider",
        "all",
        "auth,storage",
        "auth,wallet-provider",
    ] {
        let w = start(mode, &db).await;
        let (status, body) = get_json(&format!("{}/healthz", w.http_url())).await;
        assert_eq!(status, StatusCode::OK, "{mode}");
        assert_eq!(body["status"], "ok", "{mode}");
        let (status, body) = get_json(&format!("{}/readyz", w.http_url())).await;
        assert_eq!(status, StatusCode::OK, "{mode}: {body}");
        let (_, status_body) = get_json(&format!("{}/status", w.http_url())).await;
        let expected: Vec<&str> = if mode == "all" {
            vec!["auth", "backend", "engine", "registry", "storage", "wallet-provider"]
        } else {
            let mut v: Vec<&str> = mode.split(',').collect();
            v.sort();
            v
        };
        assert_eq!(status_body["roles"], serde_json::json!(expected), "{mode}");
    }
}

#[tokio::test]
async fn each_role_opens_only_its_own_listeners() {
    let db = TestDatabase::sqlite();
    let engine = start("engine", &db).await;
    assert!(engine.ws_url().is_some(), "engine serves the WebSocket listener");
    assert!(engine.admin_url().is_none(), "engine has no admin listener");
    let backend = start("backend", &db).await;
    assert!(backend.ws_url().is_none());
    let admin = backend.admin_url().expect("backend serves the admin listener");
    let (status, body) = get_json(&format!("{admin}/admin/status")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["service"], "wallet-backend-admin");
    let storage = start("storage", &db).await;
    assert!(storage.ws_url().is_none() && storage.admin_url().is_none());
}

#[tokio::test]
async fn engine_runs_without_any_database_section() {
    let w = walletd()
        .mode("engine")
        .with_config(&Config::new().jwt_secret("test-only-shared-secret"))
        .spawn()
        .await
        .unwrap();
    let (status, body) = get_json(&format!("{}/readyz", w.http_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["checks"],
        serde_json::json!({}),
        "the engine depends on no database"
    );
    // Stateless: it wrote nothing into its data directory.
    let written: Vec<_> = std::fs::read_dir(w.data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "config.yaml")
        .collect();
    assert!(written.is_empty(), "engine wrote {written:?}");
}

/// The `worker_threads` value of a process's `started` line (tokio's own count of its runtime's workers).
fn started_workers(w: &Walletd) -> u64 {
    w.started_line()["worker_threads"]
        .as_u64()
        .expect("the started line names its worker threads")
}

#[tokio::test]
async fn server_worker_threads_sizes_the_runtime() {
    let engine = || Config::new().jwt_secret("test-only-shared-secret");
    for n in [1u64, 3] {
        let w = walletd()
            .mode("engine")
            .with_config(&engine().set("server.worker_threads", n))
            .spawn()
            .await
            .unwrap();
        assert_eq!(started_workers(&w), n);
        let (status, _) = get_json(&format!("{}/healthz", w.http_url())).await;
        assert_eq!(status, StatusCode::OK, "{n} worker(s) serve");
    }
    // The environment override of the same key.
    let w = walletd()
        .mode("engine")
        .with_config(&engine())
        .env("WALLET_SERVER__WORKER_THREADS", "2")
        .spawn()
        .await
        .unwrap();
    assert_eq!(started_workers(&w), 2);
    // 0, the default: one per core, unless TOKIO_WORKER_THREADS (inherited from this process) says otherwise.
    let w = walletd().mode("engine").with_config(&engine()).spawn().await.unwrap();
    let expected = match std::env::var("TOKIO_WORKER_THREADS") {
        Ok(n) => n.parse().expect("TOKIO_WORKER_THREADS is a number"),
        Err(_) => std::thread::available_parallelism().unwrap().get() as u64,
    };
    assert_eq!(started_workers(&w), expected);
}

#[tokio::test]
async fn all_mode_without_config_uses_sqlite_and_a_generated_key_under_data() {
    let w = walletd().spawn().await.unwrap();
    let (status, body) = get_json(&format!("{}/readyz", w.http_url())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert!(w.data_dir().join("walletd.db").exists() || w.data_dir().join("data/walletd.db").exists());
    assert!(w.data_dir().join("signing-key.pem").exists());
    let (status, jwks) = get_json(&format!("{}/.well-known/jwks.json", w.http_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    assert!(jwks["keys"][0].get("d").is_none());
}

#[tokio::test]
async fn status_has_the_shape_the_web_client_reads_and_passes_cors_preflight() {
    let db = TestDatabase::sqlite();
    let w = walletd()
        .with_config(
            &Config::new()
                .database(db.url())
                .set("server.cors_origins", serde_json::json!(["https://wallet.example"])),
        )
        .spawn()
        .await
        .unwrap();
    let (_, body) = get_json(&format!("{}/status", w.http_url())).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "wallet-backend");
    assert_eq!(body["api_version"], 2);
    let caps: Vec<String> = serde_json::from_value(body["capabilities"].clone()).unwrap();
    let mut sorted = caps.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(caps, sorted, "capabilities are sorted and unique");

    // The web client's preflight: custom X-Tenant-ID header from its own origin.
    let r = http_client()
        .request(reqwest::Method::OPTIONS, format!("{}/status", w.http_url()))
        .header("Origin", "https://wallet.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "x-tenant-id,authorization")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(r.headers()["access-control-allow-origin"], "https://wallet.example");
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in [
        "x-tenant-id",
        "authorization",
        "x-private-data-if-match",
        "if-none-match",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    let r = http_client()
        .get(format!("{}/status", w.http_url()))
        .header("Origin", "https://wallet.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://wallet.example");
    assert!(
        r.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("x-private-data-etag")
    );

    // Another origin gets no CORS grant.
    let r = http_client()
        .get(format!("{}/status", w.http_url()))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// The count of `GET /healthz` answered 200 in a Prometheus text.
fn healthz_count(text: &str) -> f64 {
    text.lines()
        .find(|l| {
            l.starts_with("walletd_http_requests_total{")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")
                && l.contains("method=\"GET\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no healthz count in {text}"))
}

#[tokio::test]
async fn request_ids_metrics_limits_and_tenant_alias() {
    let db = TestDatabase::sqlite();
    let w = walletd()
        .with_config(&Config::new().database(db.url()).limit("server.max_body_bytes", 1024))
        .spawn()
        .await
        .unwrap();
    let base = w.http_url();
    let client = http_client();

    // A request id is generated, or the caller's is kept.
    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);
    let r = client
        .get(format!("{base}/healthz"))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-1");

    // Over the body limit: 413 with the JSON error shape.
    let r = client
        .post(format!("{base}/status"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");

    // `/t/{tenant}/...` is the same route.
    let (status, body) = get_json(&format!("{base}/t/acme/status")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["service"], "wallet-backend");

    // Two generated ids differ.
    let first = client.get(format!("{base}/healthz")).send().await.unwrap();
    let second = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_ne!(first.headers()["x-request-id"], second.headers()["x-request-id"]);

    // Metrics count requests by route template, every request (the handles each worker keeps go on counting).
    let text = walletd_testkit::metrics_text(&w).await;
    assert!(text.contains("walletd_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
    let before = healthz_count(&text);
    for _ in 0..20 {
        client.get(format!("{base}/healthz")).send().await.unwrap();
    }
    let after = healthz_count(&walletd_testkit::metrics_text(&w).await);
    assert_eq!(after - before, 20.0, "every request is counted");

    // Unknown routes are 404, not 500.
    let r = client.get(format!("{base}/no/such/route")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn logs_are_json_lines_without_query_strings() {
    let db = TestDatabase::sqlite();
    let w = start("all", &db).await;
    let _ = http_client()
        .get(format!("{}/status?secret_looking_value=abc123", w.http_url()))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = w.logs();
    assert!(logs.iter().any(|l| l.contains("\"route\":\"/status\"")));
    for line in &logs {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON log line: {line}");
        assert!(!line.contains("abc123"), "query string logged: {line}");
        assert!(!line.contains("test-only-shared-secret"), "secret logged: {line}");
    }
}
