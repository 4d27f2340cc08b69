//! The backend workers on a controllable clock, on SQLite and PostgreSQL: trust verdicts of registered issuers
//! and verifiers are refreshed before their tenant's TTL runs out (and not before they are due), expired
//! challenges and old tombstones are removed on the cleanup schedule, and the key-rotation hook runs on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use walletd_backend::workers::{KeyRotationHook, TickReport};
use walletd_backend::{ManualClock, WorkerSettings, Workers};
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::Tenant;
use walletd_db::{
    BlobContent, BlobOwner, BlobQuota, Challenge, IssuerWrite, Store, VerifierWrite, WriteCondition, now_millis,
};
use walletd_testkit::TestDatabase;
use walletd_trust::TrustConfig;

/// A PDP that trusts subjects starting with `https://good` and names a framework.
async fn pdp() -> (String, walletd_testkit::pdp::Seen) {
    walletd_testkit::pdp::serve(|body| {
        let good = body["subject"]["id"]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://good");
        json!({"decision": good, "context": {"trust_metadata": {"framework": "etsi-tl"}}})
    })
    .await
}

walletd_testkit::on_both_databases!(workers_run_on_schedule);

async fn workers_run_on_schedule(db: TestDatabase) {
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let (pdp_url, seen) = pdp().await;
    let mut acme = Tenant::new("acme", "Acme");
    acme.trust_config.pdp_url = Some(pdp_url);
    acme.trust_config.trust_ttl = Some(100);
    store.create_tenant(&acme).await.unwrap();
    let good = store
        .create_issuer(
            "acme",
            &IssuerWrite {
                credential_issuer_identifier: "https://good.example".into(),
                visible: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let verifier = store
        .create_verifier(
            "acme",
            &VerifierWrite {
                name: "V".into(),
                url: "https://bad-verifier.example".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The default tenant has no PDP: its issuer's verdict is "unknown", never "trusted".
    let unknown = store
        .create_issuer(
            "default",
            &IssuerWrite {
                credential_issuer_identifier: "https://good.other".into(),
                visible: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let t0 = now_millis();
    let challenge = |id: &str, expires_at: i64| Challenge {
        id: id.into(),
        kind: "login".into(),
        tenant_id: "acme".into(),
        user_id: None,
        state: "{}".into(),
        context: "{}".into(),
        expires_at,
    };
    store.insert_challenge(&challenge("old", t0 - 1000)).await.unwrap();
    store
        .insert_challenge(&challenge("live", t0 + 3_600_000))
        .await
        .unwrap();
    let owner = BlobOwner {
        tenant_id: "acme",
        user_id: "u1",
    };
    let quota = BlobQuota {
        max_blobs: 100,
        max_bytes: 1 << 20,
    };
    let content = BlobContent {
        data: b"x",
        digest: "d",
        content_type: None,
    };
    store
        .blob_put(owner, "b1", content, &WriteCondition::Always, quota)
        .await
        .unwrap();
    store.blob_delete(owner, "b1", None).await.unwrap();

    let clock = ManualClock::new(t0);
    let rotations = Arc::new(AtomicUsize::new(0));
    let counter = rotations.clone();
    let hook: KeyRotationHook = Arc::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let settings = WorkerSettings {
        trust_interval: Duration::from_secs(10),
        default_trust_ttl: Duration::from_secs(300),
        cleanup_interval: Duration::from_secs(3600),
        tombstone_retention: Duration::from_secs(24 * 3600),
        key_rotation_interval: Some(Duration::from_secs(6 * 3600)),
        key_rotation: Some(hook),
        ..Default::default()
    };
    let mut workers = Workers::new(
        store.clone(),
        &TrustConfig::default(),
        Arc::new(clock.clone()),
        settings,
    )
    .unwrap();

    // First tick: every entity evaluated, expired challenge removed, the fresh tombstone kept.
    let r = workers.tick().await;
    assert_eq!(
        r,
        TickReport {
            trust_refreshed: 3,
            challenges_removed: Some(1),
            tombstones_purged: Some(0),
            rotated: false
        }
    );
    assert_eq!(seen.lock().unwrap().len(), 2, "acme's two entities went to acme's PDP");
    let g = store.get_issuer("acme", good.id).await.unwrap().unwrap();
    assert_eq!(g.trust.status.as_deref(), Some("trusted"));
    assert_eq!(g.trust.framework.as_deref(), Some("etsi-tl"));
    assert_eq!(g.trust.evaluated_at, Some(t0));
    let v = store.get_verifier("acme", verifier.id).await.unwrap().unwrap();
    assert_eq!(v.trust.status.as_deref(), Some("untrusted"));
    let u = store.get_issuer("default", unknown.id).await.unwrap().unwrap();
    assert_eq!(u.trust.status.as_deref(), Some("unknown"));
    assert!(store.take_challenge("live").await.unwrap().is_some());

    // Nothing is due again until the trust interval has passed.
    assert_eq!(workers.tick().await, TickReport::default());
    // 70 s later acme's verdicts (TTL 100 s) are not yet at 80 % of their life: nothing refreshed.
    clock.advance(Duration::from_secs(70));
    assert_eq!(workers.tick().await.trust_refreshed, 0);
    // At 80 s (80 % of 100 s) acme's two are refreshed before expiry; the default tenant's (TTL 300 s) is not.
    clock.advance(Duration::from_secs(10));
    assert_eq!(workers.tick().await.trust_refreshed, 2);
    assert_eq!(seen.lock().unwrap().len(), 4);
    let g = store.get_issuer("acme", good.id).await.unwrap().unwrap();
    assert_eq!(g.trust.evaluated_at, Some(t0 + 80_000));
    // At 240 s the default tenant's verdict (evaluated at 0, TTL 300 s) is due too, as are acme's again.
    clock.advance(Duration::from_secs(160));
    assert_eq!(workers.tick().await.trust_refreshed, 3);

    // Two days on: the tombstone is past retention and purged; the key rotation hook has run (every 6 h).
    clock.advance(Duration::from_secs(2 * 24 * 3600));
    let r = workers.tick().await;
    assert_eq!(r.tombstones_purged, Some(1));
    assert!(r.rotated);
    assert_eq!(rotations.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(3600));
    let r = workers.tick().await;
    assert!(!r.rotated, "not due again for 6 h");
    assert_eq!(r.tombstones_purged, Some(0));
    store.close().await;
}
