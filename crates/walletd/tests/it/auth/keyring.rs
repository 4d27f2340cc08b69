//! The signing key ring shared by auth replicas (docs/keyring.md), with real processes on one database (a SQLite
//! file or a PostgreSQL schema) and one signing key file: the replicas publish the same JWKS, a rotation in one is
//! in the other's JWKS before any token carries the new kid, tokens signed before the rotation keep validating, a
//! restart keeps the rotated key, racing replicas create one key, and an unknown kid makes a replica reload.
//! Timings come from configuration (rotation every 2-3 s, publication 1-1.5 s ahead, reloads every 100-200 ms).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::walletd;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_common::config::DatabaseConfig;
use walletd_db::Store;
use walletd_testkit::authenticator::*;
use walletd_testkit::ceremony::*;
use walletd_testkit::jwt::{self, b64u, unb64u};
use walletd_testkit::{TestDatabase, Walletd};
use walletd_testkit::{get, post};

walletd_testkit::on_both_databases!(
    replicas_publish_one_ring_and_a_new_key_before_it_signs,
    a_restart_keeps_the_rotated_key,
    racing_replicas_create_one_key,
    an_unknown_kid_makes_a_replica_reload,
    another_key_file_has_a_ring_of_its_own,
);

struct Timing {
    rotation: Option<&'static str>,
    publish_delay: &'static str,
    reload: &'static str,
}

async fn replica(db: &TestDatabase, key_file: &Path, t: Timing) -> Walletd {
    // No rotation: the key is explicitly null (rotation off), not walletd's default interval.
    let rotation = t.rotation.map_or(Value::Null, Value::from);
    walletd()
        .with_config(
            &super::config(db)
                .set("jwt.signing_key_file", key_file.display().to_string())
                .set("jwt.access_token_ttl", "60s")
                .limit("auth.rate_limit_per_ip", 0)
                .set("auth.key_rotation_interval", rotation)
                .set("auth.key_publish_delay", t.publish_delay)
                .set("auth.key_reload_interval", t.reload)
                .set("auth.jwks_max_age", "1s"),
        )
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("walletd: {e}"))
}

async fn kids(w: &Walletd) -> Vec<String> {
    let r = get(w, "/.well-known/jwks.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=1"),
        "auth.jwks_max_age"
    );
    r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// Uses the refresh token (rotating it) and returns the new access token.
async fn refresh(w: &Walletd, refresh_token: &mut String) -> String {
    let r = post(
        w,
        "/user/token/refresh",
        &json!({"refreshToken": refresh_token}),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "refresh: {}", r.body);
    *refresh_token = r.body["refreshToken"].as_str().unwrap().to_string();
    r.body["appToken"].as_str().unwrap().to_string()
}

fn file_kid(key_file: &Path) -> String {
    walletd_jose::SigningKey::load_or_generate(key_file)
        .unwrap()
        .kid()
        .to_string()
}

async fn replicas_publish_one_ring_and_a_new_key_before_it_signs(db: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing-key.pem");
    let original = file_kid(&key_file);
    let a = replica(
        &db,
        &key_file,
        Timing {
            rotation: Some("3s"),
            publish_delay: "1500ms",
            reload: "200ms",
        },
    )
    .await;
    let b = replica(
        &db,
        &key_file,
        Timing {
            rotation: None,
            publish_delay: "1500ms",
            reload: "200ms",
        },
    )
    .await;
    assert_eq!(
        kids(&a).await,
        vec![original.clone()],
        "the key file's key seeds the ring"
    );
    assert_eq!(kids(&b).await, kids(&a).await, "both replicas publish the same JWKS");

    let mut va = VirtualAuthenticator::new();
    let reg = register(&a, &mut va, None, b"pd").await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    let old_token = reg.body["appToken"].as_str().unwrap().to_string();
    assert_eq!(jwt::kid(&old_token), original);
    let mut refresh_token = reg.body["refreshToken"].as_str().unwrap().to_string();

    // Watch both JWKS and what A signs with until A signs with a new key.
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut seen_in_b_at: Option<Instant> = None;
    let new_token = loop {
        assert!(Instant::now() < deadline, "A never signed with a rotated key");
        let b_kids = kids(&b).await;
        if seen_in_b_at.is_none() && b_kids.len() > 1 {
            seen_in_b_at = Some(Instant::now());
            assert_eq!(b_kids[1], original, "newest first, the old key still published");
        }
        let token = refresh(&a, &mut refresh_token).await;
        if jwt::kid(&token) != original {
            let published = seen_in_b_at.expect("B published the new key before A signed with it");
            assert!(b_kids.contains(&jwt::kid(&token)));
            assert!(
                published.elapsed() >= Duration::from_millis(500),
                "the key was in B's JWKS well before A's first token with it ({:?})",
                published.elapsed()
            );
            break token;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let new_kid = jwt::kid(&new_token);
    assert_eq!(kids(&a).await, vec![new_kid.clone(), original.clone()]);

    // Both tokens validate on both replicas: the old key stays published until its tokens have expired.
    for w in [&a, &b] {
        for t in [&old_token, &new_token] {
            let r = get(w, "/user/session/account-info", Some(t)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    }
    // The ring's rows: the old key has its retirement time (its successor's use_from + TTL 60 s + leeway 30 s).
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let rows = store.signing_keys(&original, 0).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].kid, new_kid);
    assert_eq!(rows[1].retire_at, Some(rows[0].use_from + 90_000));
    assert!(rows.iter().all(|r| !r.public_jwk.contains("\"d\"")));
    for w in [&a, &b] {
        assert!(
            w.logs()
                .iter()
                .all(|l| !l.contains(&old_token) && !l.contains(&new_token)),
            "no token in any log line"
        );
    }
}

async fn a_restart_keeps_the_rotated_key(db: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing-key.pem");
    let original = file_kid(&key_file);
    let a = replica(
        &db,
        &key_file,
        Timing {
            rotation: Some("2s"),
            publish_delay: "1s",
            reload: "100ms",
        },
    )
    .await;
    let mut va = VirtualAuthenticator::new();
    let reg = register(&a, &mut va, None, b"pd").await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    let mut refresh_token = reg.body["refreshToken"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let rotated = loop {
        assert!(Instant::now() < deadline, "no rotation");
        let t = refresh(&a, &mut refresh_token).await;
        if jwt::kid(&t) != original {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(a);

    // Restarted without rotation: the database's newest usable key signs, not the key file's.
    let a = replica(
        &db,
        &key_file,
        Timing {
            rotation: None,
            publish_delay: "1s",
            reload: "100ms",
        },
    )
    .await;
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let now = walletd_db::now_millis();
    let signing = store
        .signing_keys(&original, now)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.use_from <= now)
        .unwrap();
    assert_ne!(signing.kid, original);
    let t = refresh(&a, &mut refresh_token).await;
    assert_eq!(
        jwt::kid(&t),
        signing.kid,
        "after a restart the current database key signs"
    );
    assert!(kids(&a).await.contains(&original), "the old key is still published");
    let r = get(&a, "/user/session/account-info", Some(&rotated)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a token from before the restart still validates: {}",
        r.body
    );
}

async fn racing_replicas_create_one_key(db: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing-key.pem");
    let timing = || Timing {
        rotation: Some("2s"),
        publish_delay: "1s",
        reload: "100ms",
    };
    let a = replica(&db, &key_file, timing()).await;
    let b = replica(&db, &key_file, timing()).await;
    let c = replica(&db, &key_file, timing()).await;
    // All three find the rotation due within one reload period of each other.
    let deadline = Instant::now() + Duration::from_secs(8);
    while kids(&a).await.len() < 2 {
        assert!(Instant::now() < deadline, "no rotation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the others several ticks to try too, well before the next rotation is due.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let rows = store.signing_keys(&file_kid(&key_file), 0).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.generation).collect::<Vec<_>>(),
        vec![2, 1],
        "one new key, not one per replica"
    );
    let created: usize = [&a, &b, &c]
        .iter()
        .map(|w| w.logs().iter().filter(|l| l.contains("signing key created")).count())
        .sum();
    assert_eq!(created, 1, "exactly one replica rotated");
    let expected = kids(&a).await;
    assert_eq!(kids(&b).await, expected);
    assert_eq!(kids(&c).await, expected);
}

async fn an_unknown_kid_makes_a_replica_reload(db: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing-key.pem");
    let original = file_kid(&key_file);
    let a = replica(
        &db,
        &key_file,
        Timing {
            rotation: Some("1s"),
            publish_delay: "1s",
            reload: "100ms",
        },
    )
    .await;
    // B reloads only every minute: it learns A's key from the first token that names it.
    let b = replica(
        &db,
        &key_file,
        Timing {
            rotation: None,
            publish_delay: "60s",
            reload: "60s",
        },
    )
    .await;
    let mut va = VirtualAuthenticator::new();
    let reg = register(&a, &mut va, None, b"pd").await;
    let mut refresh_token = reg.body["refreshToken"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let token = loop {
        assert!(Instant::now() < deadline, "no rotation");
        let t = refresh(&a, &mut refresh_token).await;
        if jwt::kid(&t) != original {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(kids(&b).await, vec![original.clone()], "B has not reloaded yet");
    let r = get(&b, "/user/session/account-info", Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(kids(&b).await.contains(&jwt::kid(&token)), "B reloaded the ring");

    // A forged kid is still refused (after at most one reload), with the web client's 401 body.
    let forged = {
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let mut header: Value = serde_json::from_slice(&unb64u(&parts[0])).unwrap();
        header["kid"] = json!("no-such-key");
        parts[0] = b64u(header.to_string().as_bytes());
        parts.join(".")
    };
    let r = get(&b, "/user/session/account-info", Some(&forged)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "Invalid token");
}

async fn another_key_file_has_a_ring_of_its_own(db: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let timing = || Timing {
        rotation: None,
        publish_delay: "1s",
        reload: "100ms",
    };
    let a = replica(&db, &dir.path().join("a.pem"), timing()).await;
    let b = replica(&db, &dir.path().join("b.pem"), timing()).await;
    let (ka, kb) = (kids(&a).await, kids(&b).await);
    assert_eq!((ka.len(), kb.len()), (1, 1));
    assert_ne!(ka, kb, "each key file signs with and publishes its own ring");
    // Checked shortly after start-up (walletd_common::background::FIRST_RUN_AFTER_START), off its path.
    assert!(
        b.wait_for_log("signing keys of other key files", std::time::Duration::from_secs(15))
            .await,
        "the second ring is pointed out shortly after start"
    );
    let mut va = VirtualAuthenticator::new();
    let reg = register(&a, &mut va, None, b"pd").await;
    let token = reg.body["appToken"].as_str().unwrap();
    assert_eq!(
        get(&a, "/user/session/account-info", Some(token)).await.status,
        StatusCode::OK
    );
    let r = get(&b, "/user/session/account-info", Some(token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
}
