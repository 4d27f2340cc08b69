//! JWKS-based validation against a real HTTP server on loopback: keys are fetched once and cached, an unknown `kid`
//! (key rotation) triggers one refetch, refetches are rate limited, and an outage keeps the known keys working.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use walletd_common::config::JwtConfig;
use walletd_common::jwt::{JwtError, JwtValidator};
use walletd_jose::SigningKey;

struct JwksServer {
    url: url::Url,
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
    up: Arc<std::sync::atomic::AtomicBool>,
}

async fn jwks_server(initial: Vec<Value>) -> JwksServer {
    let keys = Arc::new(Mutex::new(initial));
    let hits = Arc::new(AtomicUsize::new(0));
    let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (k, h, u) = (keys.clone(), hits.clone(), up.clone());
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let (k, h, u) = (k.clone(), h.clone(), u.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if !u.load(Ordering::SeqCst) {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({})));
                }
                (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({"keys": *k.lock().unwrap()})),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    JwksServer {
        url: url::Url::parse(&format!("http://{addr}/.well-known/jwks.json")).unwrap(),
        keys,
        hits,
        up,
    }
}

fn token(key: &SigningKey, aud: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    key.sign(&json!({"iss": "walletd", "aud": aud, "sub": "u-1", "tenant_id": "t1", "exp": exp}))
        .unwrap()
}

fn validator(url: &url::Url, refetch: Duration) -> JwtValidator {
    let cfg = JwtConfig {
        jwks_url: Some(url.clone()),
        jwks_refetch_interval: refetch,
        ..JwtConfig::default()
    };
    JwtValidator::new(&cfg, None)
}

#[tokio::test]
async fn keys_are_fetched_once_and_cached() {
    let (key, _) = SigningKey::generate().unwrap();
    let server = jwks_server(vec![key.public_jwk().to_value()]).await;
    let v = validator(&server.url, Duration::from_millis(0));
    for _ in 0..20 {
        let c = v.validate(&token(&key, "walletd"), &["walletd"]).await.unwrap();
        assert_eq!((c.subject.as_str(), c.tenant_id.as_str()), ("u-1", "t1"));
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rotation_is_picked_up_by_refetching_on_unknown_kid() {
    let (old, _) = SigningKey::generate().unwrap();
    let (new, _) = SigningKey::generate().unwrap();
    let server = jwks_server(vec![old.public_jwk().to_value()]).await;
    let v = validator(&server.url, Duration::from_millis(0));
    v.validate(&token(&old, "walletd"), &["walletd"]).await.unwrap();

    // Auth rotates: the new key is published beside the old one.
    server.keys.lock().unwrap().insert(0, new.public_jwk().to_value());
    v.validate(&token(&new, "walletd"), &["walletd"]).await.unwrap();
    v.validate(&token(&old, "walletd"), &["walletd"]).await.unwrap();
    assert_eq!(server.hits.load(Ordering::SeqCst), 2, "one refetch for the new kid");
}

#[tokio::test]
async fn forged_kids_cannot_make_the_validator_hammer_auth() {
    let (key, _) = SigningKey::generate().unwrap();
    let server = jwks_server(vec![key.public_jwk().to_value()]).await;
    let v = validator(&server.url, Duration::from_secs(60));
    v.validate(&token(&key, "walletd"), &["walletd"]).await.unwrap();
    for _ in 0..50 {
        let (stranger, _) = SigningKey::generate().unwrap();
        assert_eq!(
            v.validate(&token(&stranger, "walletd"), &["walletd"]).await,
            Err(JwtError::UnknownKey)
        );
    }
    assert!(server.hits.load(Ordering::SeqCst) <= 2, "refetches are rate limited");
}

#[tokio::test]
async fn outage_keeps_known_keys_and_reports_unavailable_without_any() {
    let (key, _) = SigningKey::generate().unwrap();
    let server = jwks_server(vec![key.public_jwk().to_value()]).await;
    let v = validator(&server.url, Duration::from_millis(0));
    v.validate(&token(&key, "walletd"), &["walletd"]).await.unwrap();
    server.up.store(false, Ordering::SeqCst);
    v.validate(&token(&key, "walletd"), &["walletd"])
        .await
        .expect("known key still validates");

    // A fresh validator that never saw the keys cannot validate anything while auth is down.
    let cold = validator(&server.url, Duration::from_millis(0));
    assert_eq!(
        cold.validate(&token(&key, "walletd"), &["walletd"]).await,
        Err(JwtError::KeysUnavailable)
    );
}

#[tokio::test]
async fn jwks_with_unusable_entries_keeps_the_usable_ones() {
    let (key, _) = SigningKey::generate().unwrap();
    let server = jwks_server(vec![
        json!({"kty": "oct", "k": "c2VjcmV0", "kid": "symmetric"}),
        json!({"kty": "EC", "crv": "P-256", "kid": "broken", "x": "AA", "y": "AA"}),
        json!({"kty": "EC", "crv": "P-256", "kid": "enc-only", "use": "enc", "x": key.public_jwk().x, "y": key.public_jwk().y}),
        key.public_jwk().to_value(),
    ])
    .await;
    let v = validator(&server.url, Duration::from_millis(0));
    v.validate(&token(&key, "walletd"), &["walletd"]).await.unwrap();
}
