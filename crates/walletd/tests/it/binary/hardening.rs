//! Small hardening regressions of the adversarial review: the admin listener binds `admin.listen` (loopback by
//! default) instead of `server.listen`; the directories and database files walletd creates are the owner's only;
//! a refused handshake reaches a client that already sent more frames.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::json;
use walletd_testkit::engine::ws_url;
use walletd_testkit::{Config, TestDatabase};
use walletd_wallet::client::EngineClient;

use crate::support::start;

#[tokio::test]
async fn admin_listener_binds_admin_listen_not_server_listen() {
    let db = TestDatabase::sqlite();
    // 127.0.0.2 stands for "an address other than the admin's" while staying on loopback.
    let cfg = Config::new()
        .mode("backend")
        .database(db.url())
        .admin_token("t")
        .jwt_secret("s")
        .set("server.listen", "127.0.0.2");
    let w = start(&cfg).await;
    assert!(w.http_url().contains("127.0.0.2"), "{}", w.http_url());
    let admin = w.admin_url().expect("an admin listener");
    assert!(admin.contains("127.0.0.1:"), "admin on loopback by default: {admin}");
    let logs = w.logs().join("\n");
    assert!(!logs.contains("reachable beyond loopback"), "no warning on loopback");
}

#[tokio::test]
async fn data_directory_and_database_files_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state/db");
    let file = dir.join("walletd.db");
    let w = start(
        &Config::new()
            .mode("auth,storage")
            .database(&format!("sqlite://{}", file.display())),
    )
    .await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "directory walletd created");
    assert_eq!(mode(dir.parent().unwrap()), 0o700, "its parent, created too");
    assert_eq!(mode(&file), 0o600, "database file");
    let wal = dir.join("walletd.db-wal");
    assert!(wal.exists(), "WAL mode");
    assert_eq!(mode(&wal), 0o600, "write-ahead log");
    assert_eq!(mode(&w.data_dir().join("signing-key.pem")), 0o600, "signing key");
}

#[tokio::test]
async fn refused_handshake_reaches_a_client_that_sent_more_frames() {
    let w = start(&walletd_testkit::engine::config()).await;
    for _ in 0..3 {
        let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
        // The web client does not wait for handshake_complete: its first flow frames follow at once.
        c.send(&json!({"type": "handshake", "app_token": "not-a-token"}))
            .await
            .unwrap();
        for i in 0..4 {
            c.send(
                &json!({"type": "flow_start", "flow_id": format!("f{i}"), "protocol": "oid4vci",
                           "offer": "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fx.example%2Fo"}),
            )
            .await
            .unwrap();
        }
        // Read only after the server has answered and (before the fix) dropped the socket with unread input.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let frame = c
            .recv(Duration::from_secs(5))
            .await
            .expect("the error frame is readable");
        assert_eq!(frame["type"], "error", "{frame}");
        assert_eq!(frame["code"], "AUTH_FAILED", "{frame}");
    }
}

#[tokio::test]
async fn refused_handshake_waits_boundedly_for_the_clients_close() {
    // One connection slot: while the engine waits for a refused client's close, the slot stays taken.
    let w = start(&walletd_testkit::engine::config_with(
        "  max_connections: 1\n  close_timeout: 2s\n",
    ))
    .await;
    let url = ws_url(&w);
    // A client that sends a bad handshake and then neither reads nor closes.
    let mut silent = EngineClient::connect(&url).await.unwrap();
    silent
        .send(&json!({"type": "handshake", "app_token": "not-a-token"}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        EngineClient::connect(&url).await.is_err(),
        "the engine still waits for the refused client's close (before the fix it dropped the socket at once)"
    );
    // Bounded: after close_timeout the socket is dropped without the client's close.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let mut polite = EngineClient::connect(&url)
        .await
        .expect("the slot is free after close_timeout");
    // A client that reads the error and closes its end frees the slot at once.
    polite
        .send(&json!({"type": "handshake", "app_token": "not-a-token"}))
        .await
        .unwrap();
    let e = polite.recv(Duration::from_secs(5)).await.unwrap();
    assert_eq!(e["code"], "AUTH_FAILED", "{e}");
    assert!(polite.recv(Duration::from_secs(5)).await.is_err(), "then the close");
    drop(polite);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        EngineClient::connect(&url).await.is_ok(),
        "closed by the client: slot free at once"
    );
    drop(silent);
}
