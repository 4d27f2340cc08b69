//! Graceful shutdown: a request in flight when SIGTERM arrives is answered in full, new connections are refused,
//! and the process exits 0. The slow request is a real one: `/readyz` of an engine whose registry answers slowly.

use std::time::{Duration, Instant};

use crate::support::walletd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use walletd_testkit::{Config, http_client};

/// A registry stand-in on loopback that answers every request with 200 after `delay`.
async fn slow_http_server(delay: Duration) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let registry = slow_http_server(Duration::from_millis(1500)).await;
    let mut w = walletd()
        .mode("engine")
        .with_config(
            &Config::new()
                .jwt_secret("s")
                .registry_url(&format!("http://{registry}/"))
                .limit("server.readiness_timeout", "5s")
                .limit("server.shutdown_grace", "10s"),
        )
        .spawn()
        .await
        .unwrap();
    let base = w.http_url();

    let started = Instant::now();
    let in_flight = tokio::spawn({
        let url = format!("{base}/readyz");
        async move { http_client().get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.signal(libc::SIGTERM);

    let response = in_flight.await.unwrap().expect("the in-flight request got an answer");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "it waited for the slow dependency"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["checks"]["registry"], "ok",
        "the dependency's late answer was used: {body}"
    );
    // Readiness reports draining during shutdown so load balancers stop routing here.
    assert_eq!(body["status"], "not_ready");

    let status = w
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exits after draining");
    assert!(status.success(), "{status:?}");
    assert!(
        http_client().get(format!("{base}/healthz")).send().await.is_err(),
        "no longer listening"
    );
    let logs = w.logs().join("\n");
    assert!(logs.contains("\"message\":\"shutting down\"") && logs.contains("\"signal\":\"SIGTERM\""));
}

#[tokio::test]
async fn sigint_stops_an_idle_server_promptly() {
    let mut w = walletd().spawn().await.unwrap();
    let started = Instant::now();
    w.signal(libc::SIGINT);
    let status = w.wait_exit(Duration::from_secs(5)).await.expect("exits");
    assert!(status.success());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn sigterm_at_once_after_start_is_a_graceful_stop() {
    // The signal handlers are in place before the `started` line: a signal sent the moment the process reports
    // itself up drains and exits 0 (it used to be able to land before them, and be lost or kill the process).
    for _ in 0..5 {
        let mut w = walletd().spawn().await.unwrap();
        w.signal(libc::SIGTERM);
        let status = w.wait_exit(Duration::from_secs(10)).await.expect("exits");
        // Exit code 0 comes only from the end of the drain; a process killed by the signal has none.
        assert!(status.success(), "{status:?}");
    }
}

#[tokio::test]
async fn shutdown_grace_bounds_a_request_that_never_ends() {
    // A dependency that never answers and a readiness timeout longer than the grace period: the process must
    // still exit when the grace period is over.
    let registry = slow_http_server(Duration::from_secs(3600)).await;
    let mut w = walletd()
        .mode("engine")
        .with_config(
            &Config::new()
                .jwt_secret("s")
                .registry_url(&format!("http://{registry}/"))
                .limit("server.readiness_timeout", "60s")
                .limit("server.shutdown_grace", "1s"),
        )
        .spawn()
        .await
        .unwrap();
    let url = format!("{}/readyz", w.http_url());
    let _stuck = tokio::spawn(async move { http_client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    w.signal(libc::SIGTERM);
    let status = w
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("exits despite the stuck request");
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}
