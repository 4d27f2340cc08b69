//! `/readyz` follows the real dependencies: PostgreSQL made unreachable (a proxy in front of the shared server is
//! cut) turns it 503, and it recovers when the database comes back; Redis is checked when configured.

use std::time::{Duration, Instant};

use crate::support::walletd;
use reqwest::StatusCode;
use serde_json::Value;
use walletd_testkit::{Config, TcpProxy, TestDatabase, http_client, postgres_base_url};

async fn readyz(base: &str) -> (StatusCode, Value) {
    let r = http_client().get(format!("{base}/readyz")).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

/// Polls `/readyz` until it answers `want`, for at most `within`.
async fn wait_for(base: &str, want: StatusCode, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (status, body) = readyz(base).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {status} ({body}), wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readyz_goes_503_when_postgres_is_unreachable_and_recovers() {
    let db = TestDatabase::postgres().await;
    let pg = url::Url::parse(&postgres_base_url()).unwrap();
    let target = format!("{}:{}", pg.host_str().unwrap(), pg.port().unwrap_or(5432));
    let proxy = TcpProxy::start(target.parse().unwrap()).await;
    // The same database and schema, reached through the proxy.
    let through_proxy = db.url().replacen(&target, &proxy.addr().to_string(), 1);
    assert_ne!(through_proxy, db.url());

    let w = walletd()
        .mode("storage")
        .with_config(
            &Config::new()
                .database(&through_proxy)
                .limit("database.acquire_timeout", "1s")
                .jwt_secret("s")
                .limit("server.readiness_timeout", "1s"),
        )
        .spawn()
        .await
        .unwrap();
    let base = w.http_url();
    let body = wait_for(&base, StatusCode::OK, Duration::from_secs(5)).await;
    assert_eq!(body["checks"]["database"], "ok");

    proxy.pause();
    let body = wait_for(&base, StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(10)).await;
    assert_ne!(body["checks"]["database"], "ok");
    assert_eq!(body["status"], "not_ready");
    // Liveness is not readiness: the process is alive and says so.
    let r = http_client().get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    proxy.resume();
    let body = wait_for(&base, StatusCode::OK, Duration::from_secs(15)).await;
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn redis_is_checked_when_configured() {
    let db = TestDatabase::sqlite();
    let ok = walletd()
        .with_config(
            &Config::new()
                .database(db.url())
                .set("cache.redis_url", "redis://127.0.0.1:6379"),
        )
        .spawn()
        .await
        .unwrap();
    let body = wait_for(&ok.http_url(), StatusCode::OK, Duration::from_secs(5)).await;
    assert_eq!(body["checks"]["redis"], "ok", "the local Redis answers PING");

    // A Redis that is not there: a closed port on loopback.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let db2 = TestDatabase::sqlite();
    let down = walletd()
        .with_config(
            &Config::new()
                .database(db2.url())
                .set("cache.redis_url", format!("redis://127.0.0.1:{port}")),
        )
        .spawn()
        .await
        .unwrap();
    // Optional: the roles serve without Redis (limits and caches per process), so the process stays in service.
    let body = wait_for(&down.http_url(), StatusCode::OK, Duration::from_secs(5)).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["degraded"], serde_json::json!(["redis"]), "{body}");
    assert_eq!(body["checks"]["redis"], "unreachable");
    assert_eq!(body["checks"]["database"], "ok");
}

#[tokio::test]
async fn unreachable_database_at_start_is_a_clear_failure() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = match walletd()
        .mode("storage")
        .with_config(
            &Config::new()
                .database(&format!("postgres://walletd:hunter2-password@127.0.0.1:{port}/test"))
                .limit("database.acquire_timeout", "1s")
                .jwt_secret("s"),
        )
        .spawn()
        .await
    {
        Ok(_) => panic!("started without its database"),
        Err(e) => e,
    };
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(!err.contains("hunter2-password"), "password leaked: {err}");
}
