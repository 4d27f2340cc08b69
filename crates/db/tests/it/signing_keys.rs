//! The signing key ring table (`signing_keys`, migration 0005) on SQLite and PostgreSQL: one rotation wins when
//! replicas race, earlier keys get their retirement time, retired rows are deleted, rings are independent.

use walletd_common::config::DatabaseConfig;
use walletd_db::{SigningKeyRow, Store};
use walletd_testkit::TestDatabase;

walletd_testkit::on_both_databases!(
    keys_round_trip_newest_first,
    concurrent_rotations_insert_one_key,
    retired_keys_leave_the_ring_and_are_deleted,
    rings_are_independent,
);

async fn open(db: &TestDatabase) -> Store {
    Store::connect(&DatabaseConfig::with_url(db.url()))
        .await
        .expect("connect")
}

const RING: &str = "ring-a";

fn row(generation: i64, kid: &str, use_from: i64) -> SigningKeyRow {
    in_ring(RING, generation, kid, use_from)
}

fn in_ring(ring: &str, generation: i64, kid: &str, use_from: i64) -> SigningKeyRow {
    SigningKeyRow {
        ring: ring.into(),
        generation,
        kid: kid.into(),
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        wrapped_key: vec![generation as u8; 60],
        created_at: 1_000 * generation,
        publish_at: 1_000 * generation,
        use_from,
        retire_at: None,
        purpose: "tokens".into(),
    }
}

async fn keys_round_trip_newest_first(db: TestDatabase) {
    let store = open(&db).await;
    assert!(store.signing_keys(RING, 0).await.unwrap().is_empty());
    assert!(store.insert_signing_key(&row(1, "k1", 1_000), 0).await.unwrap());
    assert!(store.insert_signing_key(&row(2, "k2", 2_500), 9_000).await.unwrap());
    let keys = store.signing_keys(RING, 0).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.generation).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!(keys[0], row(2, "k2", 2_500), "every column round-trips");
    assert_eq!(
        keys[1].retire_at,
        Some(9_000),
        "the predecessor got its retirement time"
    );
    assert_eq!(keys[0].retire_at, None);
    // The same kid twice is refused like the same generation.
    assert!(!store.insert_signing_key(&row(3, "k2", 3_000), 0).await.unwrap());
}

async fn concurrent_rotations_insert_one_key(db: TestDatabase) {
    let store = open(&db).await;
    assert!(store.insert_signing_key(&row(1, "k1", 1_000), 0).await.unwrap());
    // Eight replicas find a rotation due at once and each tries generation 2 with a key of its own.
    let replicas: Vec<Store> = {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(open(&db).await);
        }
        v
    };
    let attempts = replicas.iter().enumerate().map(|(i, s)| {
        let r = row(2, &format!("candidate-{i}"), 5_000);
        async move { s.insert_signing_key(&r, 50_000).await.unwrap() }
    });
    let won: Vec<bool> = futures::future::join_all(attempts).await;
    assert_eq!(
        won.iter().filter(|w| **w).count(),
        1,
        "exactly one replica rotates: {won:?}"
    );
    let keys = store.signing_keys(RING, 0).await.unwrap();
    assert_eq!(keys.len(), 2, "one new key, not one per replica");
    let winner = won.iter().position(|w| *w).unwrap();
    assert_eq!(keys[0].kid, format!("candidate-{winner}"));
    assert_eq!(keys[1].retire_at, Some(50_000), "the losers changed nothing");
}

async fn retired_keys_leave_the_ring_and_are_deleted(db: TestDatabase) {
    let store = open(&db).await;
    store.insert_signing_key(&row(1, "k1", 1_000), 0).await.unwrap();
    store.insert_signing_key(&row(2, "k2", 2_000), 10_000).await.unwrap();
    assert_eq!(store.signing_keys(RING, 9_999).await.unwrap().len(), 2);
    assert_eq!(
        store.signing_keys(RING, 10_000).await.unwrap().len(),
        1,
        "retired at its time"
    );
    assert_eq!(store.delete_retired_signing_keys(RING, 9_999).await.unwrap(), 0);
    assert_eq!(store.delete_retired_signing_keys(RING, 10_000).await.unwrap(), 1);
    let all = store.signing_keys(RING, 0).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].generation, 2,
        "the newest key stays, and with it the generation counter"
    );
}

async fn rings_are_independent(db: TestDatabase) {
    let store = open(&db).await;
    assert!(store.insert_signing_key(&row(1, "a1", 1_000), 0).await.unwrap());
    // Another key file's ring has a generation 1 of its own, and its rotation retires only its own keys.
    assert!(
        store
            .insert_signing_key(&in_ring("ring-b", 1, "b1", 1_000), 0)
            .await
            .unwrap()
    );
    assert!(
        store
            .insert_signing_key(&in_ring("ring-b", 2, "b2", 2_000), 5_000)
            .await
            .unwrap()
    );
    let a = store.signing_keys(RING, 0).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].retire_at, None);
    assert_eq!(store.signing_keys("ring-b", 0).await.unwrap().len(), 2);
    assert_eq!(
        store.signing_key_rings("tokens").await.unwrap(),
        vec!["ring-a".to_string(), "ring-b".to_string()]
    );
    assert_eq!(store.delete_retired_signing_keys(RING, 10_000).await.unwrap(), 0);
    assert_eq!(store.delete_retired_signing_keys("ring-b", 10_000).await.unwrap(), 1);
}
