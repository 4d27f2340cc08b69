//! The storage write budget (`rate_limits.storage_writes_per_user`, tenant overrides) through the real binary:
//! the tenant's override wins over the default (set through the admin API), 429 carries `Retry-After`, two storage
//! processes on one Redis spend one budget, and a Redis outage degrades to per-process counting (still limited,
//! never a 5xx, a log line and a metric) and back to the shared budget when Redis returns.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use walletd_testkit::{Config, TestDatabase, admin};

use super::{Dev, config, start_with};

const ADMIN_TOKEN: &str = "admin-token-for-storage-rate-limits-01";

/// A key prefix no other test or run shares.
fn prefix() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("walletd-test-rl:{n:x}-{}:", std::process::id())
}

/// Statuses of `n` writes of distinct blobs by `d`.
async fn writes(d: &Dev, n: usize, tag: &str) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(d.put(&format!("{tag}-{i}"), b"x", None).await.0);
    }
    out
}

fn ok(s: &StatusCode) -> bool {
    s.is_success()
}

#[tokio::test]
async fn the_tenants_override_wins_and_429_says_when_to_retry() {
    let db = TestDatabase::sqlite();
    let w = crate::support::start(
        &Config::new()
            .mode("all")
            .database(db.url())
            .admin_token(ADMIN_TOKEN)
            .limit("rate_limits.storage_writes_per_user", 3),
    )
    .await;
    // The override is an admin API field; an unknown budget name is refused.
    let (s, body) = admin(
        &w,
        Some(ADMIN_TOKEN),
        Method::POST,
        "/admin/tenants",
        Some(json!({"id": "bad", "rate_limits": {"storage_writes": 1}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    for (id, writes_per_user) in [("strict", 1), ("free", 0)] {
        let (s, body) = admin(
            &w,
            Some(ADMIN_TOKEN),
            Method::POST,
            "/admin/tenants",
            Some(json!({"id": id, "rate_limits": {"storage_writes_per_user": writes_per_user}})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        assert_eq!(
            body["rate_limits"]["storage_writes_per_user"], writes_per_user,
            "{body}"
        );
    }
    let dev = |tenant: &str| Dev::with_token(&w, w.token_for("u1", tenant));

    assert_eq!(
        writes(&dev("default"), 4, "d").await.iter().filter(|s| ok(s)).count(),
        3
    );
    let strict = dev("strict");
    assert_eq!(writes(&strict, 1, "s").await, vec![StatusCode::CREATED]);
    let r = strict
        .req(Method::PUT, "/storage/credentials/s-over")
        .json(&json!({"data": "eA"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    // Reads are not writes.
    assert_eq!(strict.get("s-0").await.0, StatusCode::OK);
    // 0 turns the budget off for the tenant.
    assert!(writes(&dev("free"), 10, "f").await.iter().all(ok));
}

#[tokio::test]
async fn two_storage_processes_on_one_redis_spend_one_budget() {
    let db = TestDatabase::sqlite();
    let cfg = config(&db)
        .limit("rate_limits.storage_writes_per_user", 4)
        .set("cache.redis_url", "redis://127.0.0.1:6379")
        .set("rate_limits.redis_prefix", prefix());
    let a = start_with(&db, &cfg).await;
    let b = start_with(&db, &cfg).await;
    let (da, db_) = (Dev::new(&a, "default", "shared"), Dev::new(&b, "default", "shared"));
    let mut statuses = Vec::new();
    for i in 0..3 {
        statuses.push(da.put(&format!("a{i}"), b"x", None).await.0);
        statuses.push(db_.put(&format!("b{i}"), b"x", None).await.0);
    }
    assert_eq!(
        statuses.iter().filter(|s| ok(s)).count(),
        4,
        "one budget of 4 across both replicas: {statuses:?}"
    );
    assert!(
        statuses[4..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Another user has a budget of its own.
    assert!(ok(&Dev::new(&b, "default", "other").put("o", b"x", None).await.0));
}

/// A private redis-server on a free loopback port, ended by its PID.
struct PrivateRedis {
    port: u16,
    child: Child,
}

impl PrivateRedis {
    fn start_on(port: u16) -> PrivateRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) must be installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        PrivateRedis { port, child }
    }

    fn start() -> PrivateRedis {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn a_redis_outage_degrades_to_per_process_limits_and_recovers() {
    let mut redis = PrivateRedis::start();
    let db = TestDatabase::sqlite();
    let cfg = config(&db)
        .limit("rate_limits.storage_writes_per_user", 3)
        .set("cache.redis_url", format!("redis://127.0.0.1:{}", redis.port))
        .set("cache.redis_timeout", "300ms")
        .set("rate_limits.redis_prefix", prefix());
    let w = start_with(&db, &cfg).await;
    let d = Dev::new(&w, "default", "u");
    let before = writes(&d, 4, "before").await;
    assert_eq!(before.iter().filter(|s| ok(s)).count(), 3, "{before:?}");

    redis.kill();
    // Counted in process now: the same budget again (this process had not counted locally), never unlimited, never
    // a 5xx.
    let during = writes(&d, 5, "during").await;
    assert!(
        during.iter().all(|s| ok(s) || *s == StatusCode::TOO_MANY_REQUESTS),
        "{during:?}"
    );
    assert_eq!(during.iter().filter(|s| ok(s)).count(), 3, "{during:?}");
    assert!(
        w.wait_for_log(
            "redis unavailable; rate limits are counted per process",
            Duration::from_secs(5)
        )
        .await,
        "no log line about the outage:\n{}",
        w.logs().join("\n")
    );
    let m = walletd_testkit::metrics_text(&w).await;
    let fallbacks = m
        .lines()
        .find(|l| l.starts_with("walletd_rate_limit_redis_fallback_total"))
        .unwrap_or_else(|| panic!("no fallback metric:\n{m}"));
    assert!(
        fallbacks.split_whitespace().last().unwrap().parse::<f64>().unwrap() >= 5.0,
        "{fallbacks}"
    );

    // Redis back (empty): after the one-second back-off the budget is counted there again.
    let _redis = PrivateRedis::start_on(redis.port);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut after = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !w.logs().iter().any(|l| l.contains("redis answers again")) {
        assert!(
            Instant::now() < deadline,
            "counting did not return to Redis:\n{}",
            w.logs().join("\n")
        );
        after.push(d.put("probe", b"x", None).await.0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        after.iter().all(|s| ok(s) || *s == StatusCode::TOO_MANY_REQUESTS),
        "{after:?}"
    );
    let shared = writes(&Dev::new(&w, "default", "fresh"), 4, "after").await;
    assert_eq!(shared.iter().filter(|s| ok(s)).count(), 3, "{shared:?}");
}
