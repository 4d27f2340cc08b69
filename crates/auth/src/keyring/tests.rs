//! Tests of the key ring on a real SQLite store.

use super::*;
use walletd_common::config::{DatabaseConfig, JwtConfig};
use walletd_common::jwt::JwtValidator;

fn exp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60
}

fn settings(publish_delay_ms: u64, retain_ms: u64) -> RingSettings {
    RingSettings {
        rotation_interval: None,
        publish_delay: Duration::from_millis(publish_delay_ms),
        retain: Duration::from_millis(retain_ms),
        unknown_kid_reload: Duration::from_millis(0),
        purpose: RingPurpose::Tokens,
    }
}

async fn store(dir: &Path) -> Store {
    let url = format!("sqlite://{}", dir.join("ring.db").display());
    Store::connect(&DatabaseConfig::with_url(&url)).await.unwrap()
}

#[tokio::test]
async fn the_file_key_seeds_the_ring_and_the_jwks_never_holds_a_private_scalar() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.pem");
    let ring = KeyRing::open(store(dir.path()).await, &path, settings(0, 0))
        .await
        .unwrap();
    let file_kid = SigningKey::load_or_generate(&path).unwrap().kid().to_string();
    assert_eq!(ring.active().kid(), file_kid);
    let jwks = ring.jwks();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], file_kid.as_str());
    assert!(jwks["keys"][0].get("d").is_none(), "never publish the private scalar");

    let validator = JwtValidator::new(&JwtConfig::default(), Some(ring.local_keys()));
    let token = ring
        .active()
        .sign(&json!({"iss": "walletd", "aud": "walletd", "sub": "u", "exp": exp()}))
        .unwrap();
    assert_eq!(validator.validate(&token, &["walletd"]).await.unwrap().subject, "u");
}

#[tokio::test]
async fn rotation_publishes_before_signing_and_keeps_the_old_key_until_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let ring = KeyRing::open(store.clone(), &dir.path().join("k.pem"), settings(300, 600))
        .await
        .unwrap();
    let validator = JwtValidator::new(&JwtConfig::default(), Some(ring.local_keys()));
    let first = ring.active().kid().to_string();
    let old_token = ring
        .active()
        .sign(&json!({"iss": "walletd", "aud": "walletd", "sub": "old", "exp": exp()}))
        .unwrap();

    assert!(ring.rotate().await.unwrap());
    let keys = ring.jwks()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2, "the new key is published at once");
    assert_eq!(ring.active().kid(), first, "but does not sign yet");
    let next = keys[0]["kid"].as_str().unwrap().to_string();
    assert_ne!(next, first);

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(ring.active().kid(), next, "after the delay the new key signs");
    ring.reload().await.unwrap();
    assert_eq!(
        ring.jwks()["keys"].as_array().unwrap().len(),
        2,
        "the old key is still published"
    );
    assert_eq!(
        validator.validate(&old_token, &["walletd"]).await.unwrap().subject,
        "old"
    );

    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ring.drop_retired().await.unwrap(), 1);
    ring.reload().await.unwrap();
    let keys = ring.jwks()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1, "the old key leaves once its tokens expired");
    assert!(validator.validate(&old_token, &["walletd"]).await.is_err());
    let ring = SigningKey::load_or_generate(&dir.path().join("k.pem"))
        .unwrap()
        .kid()
        .to_string();
    assert_eq!(
        store.signing_keys(&ring, 0).await.unwrap().len(),
        1,
        "and its row is gone"
    );
}

#[tokio::test]
async fn rings_of_other_purposes_are_not_peers() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let provider_file = dir.path().join("provider.pem");
    // A provider ring stored before purposes existed: its rows say `tokens`.
    KeyRing::open(store.clone(), &provider_file, settings(0, 1000))
        .await
        .unwrap();
    KeyRing::open(store.clone(), &dir.path().join("auth.pem"), settings(0, 1000))
        .await
        .unwrap();
    assert_eq!(store.signing_key_rings("tokens").await.unwrap().len(), 2);
    // The provider opens its ring with its purpose and claims it: the auth ring has no token peer left.
    let provider = RingSettings {
        purpose: RingPurpose::WalletProvider,
        ..settings(0, 1000)
    };
    let ring = KeyRing::open(store.clone(), &provider_file, provider).await.unwrap();
    ring.rotate().await.unwrap();
    let provider_id = SigningKey::load_or_generate(&provider_file).unwrap().kid().to_string();
    assert_eq!(
        store.signing_key_rings("wallet-provider").await.unwrap(),
        vec![provider_id.clone()]
    );
    assert_eq!(store.signing_key_rings("tokens").await.unwrap().len(), 1);
    let rows = store.signing_keys(&provider_id, 0).await.unwrap();
    assert_eq!(rows.len(), 2, "the rotated key keeps the ring's purpose");
    assert!(rows.iter().all(|r| r.purpose == "wallet-provider"));
}

#[tokio::test]
async fn a_database_dump_alone_does_not_yield_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let path = dir.path().join("k.pem");
    let ring = KeyRing::open(store.clone(), &path, settings(0, 1000)).await.unwrap();
    ring.rotate().await.unwrap();
    let ring_id = SigningKey::load_or_generate(&path).unwrap().kid().to_string();
    let rows = store.signing_keys(&ring_id, 0).await.unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        // The stored bytes are not the PKCS#8 key.
        assert!(SigningKey::from_pkcs8_der(&row.wrapped_key).is_err());
        assert!(!row.public_jwk.contains("\"d\""));
    }
    // A process with another key file has a ring of its own: it neither reads nor publishes these keys.
    let other = KeyRing::open(store.clone(), &dir.path().join("other.pem"), settings(0, 1000))
        .await
        .unwrap();
    let theirs: Vec<String> = other.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(theirs.len(), 1);
    assert!(rows.iter().all(|r| !theirs.contains(&r.kid)));
    // A row whose wrapped key was swapped for another row's is refused, not used.
    let mut swapped = rows[0].clone();
    swapped.wrapped_key = rows[1].wrapped_key.clone();
    let forged = SigningKeyRow {
        generation: 3,
        kid: "forged".into(),
        ..swapped
    };
    store.insert_signing_key(&forged, 0).await.unwrap();
    assert!(matches!(ring.reload().await, Err(KeyRingError::Unwrap { .. })));
    assert_eq!(
        ring.jwks()["keys"].as_array().unwrap().len(),
        2,
        "the loaded keys stay in use"
    );
}

#[tokio::test]
async fn a_key_from_another_replica_is_loaded_on_its_unknown_kid() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let path = dir.path().join("k.pem");
    let a = KeyRing::open(store.clone(), &path, settings(0, 60_000)).await.unwrap();
    let b = KeyRing::open(store, &path, settings(0, 60_000)).await.unwrap();
    assert_eq!(a.jwks(), b.jwks(), "one ring");
    a.rotate().await.unwrap();
    let token = a
        .active()
        .sign(&json!({"iss": "walletd", "aud": "walletd", "sub": "x", "exp": exp()}))
        .unwrap();
    assert_eq!(b.jwks()["keys"].as_array().unwrap().len(), 1, "b has not reloaded yet");
    let validator = JwtValidator::new(&JwtConfig::default(), Some(b.local_keys()));
    assert_eq!(validator.validate(&token, &["walletd"]).await.unwrap().subject, "x");
    assert_eq!(a.jwks(), b.jwks());
}
