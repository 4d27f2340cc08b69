//! The store suite: every test runs against SQLite and against PostgreSQL (a fresh schema each), through the same
//! `Store` interface the roles use.

use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::{Tenant, TenantTrustConfig, TenantWebauthn};
use walletd_db::{Dialect, IssuerWrite, Store, StoreError, TenantUpdate, VerifierWrite};
use walletd_testkit::TestDatabase;

walletd_testkit::on_both_databases!(
    migrations_are_applied_and_idempotent,
    only_an_untouched_up_to_date_schema_skips_the_migrator,
    start_up_reads_share_one_connection,
    default_tenant_exists_after_migration,
    tenant_crud_round_trip,
    duplicate_tenant_is_a_conflict,
    default_tenant_cannot_be_deleted,
    unknown_tenant_is_not_found,
    invalid_tenant_id_is_refused,
    read_only_connection_refuses_writes,
    concurrent_startups_migrate_once,
    registrations_are_found_by_identifier_within_their_tenant,
);

async fn open(db: &TestDatabase) -> Store {
    Store::connect(&DatabaseConfig::with_url(db.url()))
        .await
        .expect("connect")
}

async fn migrations_are_applied_and_idempotent(db: TestDatabase) {
    let first = open(&db).await;
    let version = first.schema_version().await.unwrap();
    assert!(version >= 1, "at least the first migration is applied");
    first.close().await;
    // A second start applies nothing new and fails on nothing.
    let second = open(&db).await;
    assert_eq!(second.schema_version().await.unwrap(), version);
    second.ping().await.unwrap();
    let expected = if db.kind() == "sqlite" {
        Dialect::Sqlite
    } else {
        Dialect::Postgres
    };
    assert_eq!(second.dialect(), expected);
}

/// Start-up's reads run back to back (migration check, key rings, registry documents); each hands its connection
/// back before the next one asks, so the pool opens one connection, not one per read (`Store::read_settled`), and
/// the first `/readyz` finds it idle.
async fn start_up_reads_share_one_connection(db: TestDatabase) {
    open(&db).await.close().await;
    let store = open(&db).await;
    for _ in 0..3 {
        store.signing_keys("some-ring", 0).await.unwrap();
        store.list_vctm().await.unwrap();
    }
    assert_eq!(store.pool().size(), 1, "connections opened by start-up's reads");
    assert_eq!(store.pool().num_idle(), 1, "the connection is back in the pool");
    store.ping().await.unwrap();
    assert_eq!(store.pool().size(), 1, "the readiness check took the idle connection");
}

async fn only_an_untouched_up_to_date_schema_skips_the_migrator(db: TestDatabase) {
    let store = open(&db).await;
    assert!(store.schema_is_current().await, "freshly migrated");
    let newest = store.schema_version().await.unwrap();
    let cfg = DatabaseConfig::with_url(db.url());
    // Each change below must reach the migrator (which refuses it), not be waved through by the quick check.
    let changes: [(&str, &str); 3] = [
        (
            "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2",
            "an edited migration",
        ),
        (
            "UPDATE _sqlx_migrations SET success = false WHERE version = $2 AND $1 IS NOT NULL",
            "a failed migration",
        ),
        (
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($2 + 1, 'from a newer walletd', true, $1, 0)",
            "a migration this binary does not know",
        ),
    ];
    for (statement, what) in changes {
        let snapshot: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE version = $1")
                .bind(newest)
                .fetch_all(store.pool())
                .await
                .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(vec![0u8; 48])
            .bind(newest)
            .execute(store.pool())
            .await
            .unwrap();
        assert!(!store.schema_is_current().await, "{what} is not current");
        let refused = Store::connect(&cfg)
            .await
            .err()
            .unwrap_or_else(|| panic!("{what} was accepted"));
        assert!(matches!(refused, StoreError::Migration(_)), "{what}: {refused:?}");
        // Put the history back for the next case.
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version > $1")
            .bind(newest)
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1, success = true WHERE version = $2")
            .bind(snapshot[0].1.clone())
            .bind(newest)
            .execute(store.pool())
            .await
            .unwrap();
        assert!(store.schema_is_current().await, "restored after {what}");
    }
    Store::connect(&cfg).await.expect("the restored history starts");
}

async fn default_tenant_exists_after_migration(db: TestDatabase) {
    let store = open(&db).await;
    let t = store.get_tenant("default").await.unwrap().expect("default tenant");
    assert!(t.enabled);
    assert!(!t.require_invite);
    assert_eq!(store.list_tenants().await.unwrap().len(), 1);
}

async fn tenant_crud_round_trip(db: TestDatabase) {
    let store = open(&db).await;
    let mut t = Tenant::new("acme", "ACME");
    t.display_name = Some("ACME Corp".into());
    t.require_invite = true;
    t.trust_config = TenantTrustConfig {
        pdp_url: Some("http://pdp.internal:8090".into()),
        trust_ttl: Some(600),
    };
    t.allowed_protocols = vec!["oid4vci".into()];
    t.webauthn = Some(TenantWebauthn {
        rp_id: Some("acme.example".into()),
        rp_origins: vec!["https://wallet.acme.example".into()],
    });
    store.create_tenant(&t).await.unwrap();
    assert_eq!(store.get_tenant("acme").await.unwrap(), Some(t.clone()));

    let updated = store
        .update_tenant(
            "acme",
            TenantUpdate {
                enabled: Some(false),
                display_name: Some(None),
                ..TenantUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(!updated.enabled);
    assert_eq!(updated.display_name, None);
    assert_eq!(
        updated.trust_config, t.trust_config,
        "fields not named in the update are kept"
    );
    assert_eq!(store.get_tenant("acme").await.unwrap(), Some(updated));

    let ids: Vec<String> = store.list_tenants().await.unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, vec!["acme", "default"]);

    store.delete_tenant("acme").await.unwrap();
    assert_eq!(store.get_tenant("acme").await.unwrap(), None);
}

async fn duplicate_tenant_is_a_conflict(db: TestDatabase) {
    let store = open(&db).await;
    store.create_tenant(&Tenant::new("dup", "one")).await.unwrap();
    let err = store.create_tenant(&Tenant::new("dup", "two")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.get_tenant("dup").await.unwrap().unwrap().name,
        "one",
        "the first one is intact"
    );
}

async fn default_tenant_cannot_be_deleted(db: TestDatabase) {
    let store = open(&db).await;
    let err = store.delete_tenant("default").await.unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
    assert!(store.get_tenant("default").await.unwrap().is_some());
}

async fn unknown_tenant_is_not_found(db: TestDatabase) {
    let store = open(&db).await;
    assert!(matches!(
        store.delete_tenant("ghost").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.update_tenant("ghost", TenantUpdate::default()).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn invalid_tenant_id_is_refused(db: TestDatabase) {
    let store = open(&db).await;
    for bad in ["", "Upper", "-lead", "has space", "x/y"] {
        assert!(store.create_tenant(&Tenant::new(bad, "x")).await.is_err(), "{bad:?}");
    }
    assert_eq!(store.list_tenants().await.unwrap().len(), 1);
}

async fn read_only_connection_refuses_writes(db: TestDatabase) {
    let writer = open(&db).await;
    writer.create_tenant(&Tenant::new("ro-check", "x")).await.unwrap();
    let reader = Store::connect_read_only(&DatabaseConfig::with_url(db.url()))
        .await
        .unwrap();
    assert!(reader.get_tenant("ro-check").await.unwrap().is_some(), "reads work");
    let err = reader.create_tenant(&Tenant::new("sneaky", "x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(writer.get_tenant("sneaky").await.unwrap().is_none());
}

async fn concurrent_startups_migrate_once(db: TestDatabase) {
    // Several replicas starting at once against one database must all come up, with one migration history.
    let cfg = DatabaseConfig::with_url(db.url());
    let starts = (0..8).map(|_| Store::connect(&cfg));
    let stores: Vec<Store> = futures::future::join_all(starts)
        .await
        .into_iter()
        .map(|r| r.expect("start"))
        .collect();
    let versions: Vec<i64> = futures::future::join_all(stores.iter().map(|s| s.schema_version()))
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert!(versions.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(
        stores[0].list_tenants().await.unwrap().len(),
        1,
        "the default tenant was inserted once"
    );
}

async fn registrations_are_found_by_identifier_within_their_tenant(db: TestDatabase) {
    let store = open(&db).await;
    store.create_tenant(&Tenant::new("acme", "ACME")).await.unwrap();
    let issuer = IssuerWrite {
        credential_issuer_identifier: "https://issuer.example".into(),
        client_id: Some("wallet-acme".into()),
        client_jwk: Some(r#"{"kty":"EC"}"#.into()),
        visible: true,
    };
    store.create_issuer("acme", &issuer).await.unwrap();
    let found = store
        .find_issuer_by_identifier("acme", "https://issuer.example")
        .await
        .unwrap()
        .expect("registered issuer");
    assert_eq!(found.client_id.as_deref(), Some("wallet-acme"));
    // Another tenant, or a near-miss identifier, finds nothing.
    assert!(
        store
            .find_issuer_by_identifier("default", "https://issuer.example")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_issuer_by_identifier("acme", "https://issuer.example/")
            .await
            .unwrap()
            .is_none()
    );

    let verifier = VerifierWrite {
        name: "Shop".into(),
        url: "https://shop.example".into(),
        client_id: Some("shop-client".into()),
        client_id_scheme: Some("pre-registered".into()),
    };
    store.create_verifier("acme", &verifier).await.unwrap();
    let v = store
        .find_verifier_by_client_id("acme", "shop-client")
        .await
        .unwrap()
        .expect("registered verifier");
    assert_eq!(v.name, "Shop");
    assert!(
        store
            .find_verifier_by_client_id("default", "shop-client")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_verifier_by_client_id("acme", "other")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn every_sqlite_connection_gets_the_pragmas() {
    let db = TestDatabase::sqlite();
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    // Several connections at once, so that more than the first is checked.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(store.pool().acquire().await.unwrap());
    }
    for conn in &mut held {
        let pragma = |name: &'static str| sqlx::query_as::<_, (i64,)>(name);
        assert_eq!(pragma("PRAGMA foreign_keys").fetch_one(&mut **conn).await.unwrap().0, 1);
        assert_eq!(
            pragma("PRAGMA synchronous").fetch_one(&mut **conn).await.unwrap().0,
            2,
            "FULL"
        );
        assert_eq!(
            pragma("PRAGMA busy_timeout").fetch_one(&mut **conn).await.unwrap().0,
            5000
        );
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
