//! The storage service on real SQLite and PostgreSQL databases: versions and preconditions, listing, the change
//! feed with tombstones and resets, private data, quotas, isolation, and concurrent compare-and-swap.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use walletd_common::config::{DatabaseConfig, StorageConfig};
use walletd_common::tenant::{Tenant, TenantRefusal, TenantStorageQuota};
use walletd_db::Store;
use walletd_storage::{Owner, Precondition, StorageError, StorageService, digest};
use walletd_testkit::TestDatabase;

async fn service_with(db: &TestDatabase, cfg: StorageConfig) -> (Store, StorageService) {
    let mut dbc = DatabaseConfig::with_url(db.url());
    dbc.max_connections = 20;
    dbc.busy_timeout = Duration::from_secs(30);
    dbc.acquire_timeout = Duration::from_secs(30);
    let store = Store::connect(&dbc).await.expect("connect");
    (store.clone(), StorageService::new(store, cfg))
}

async fn service(db: &TestDatabase) -> StorageService {
    service_with(db, StorageConfig::default()).await.1
}

fn alice() -> Owner {
    Owner::new("default", "alice")
}

async fn crud_and_versions(db: TestDatabase) {
    let s = service(&db).await;
    let o = alice();
    let w = s
        .put(
            &o,
            "c1",
            b"one".to_vec(),
            Some("application/jwt".into()),
            Precondition::None,
        )
        .await
        .unwrap();
    assert_eq!((w.version, w.created), (1, true));
    let w = s
        .put(&o, "c1", b"two".to_vec(), None, Precondition::None)
        .await
        .unwrap();
    assert_eq!((w.version, w.created), (2, false));
    let b = s.get(&o, "c1").await.unwrap();
    assert_eq!((b.version, b.data.as_deref(), b.size), (2, Some(&b"two"[..]), 3));
    assert_eq!(b.content_type, None, "a replace without content_type clears it");

    // Compare-and-swap.
    let err = s
        .put(&o, "c1", b"x".to_vec(), None, Precondition::Version(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::VersionMismatch { current_version: 2 }),
        "{err:?}"
    );
    assert_eq!(
        s.put(&o, "c1", b"three".to_vec(), None, Precondition::Version(2))
            .await
            .unwrap()
            .version,
        3
    );
    let err = s
        .put(&o, "c1", b"x".to_vec(), None, Precondition::Absent)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::VersionMismatch { current_version: 3 }),
        "{err:?}"
    );
    assert!(matches!(
        s.put(&o, "nope", b"x".to_vec(), None, Precondition::Version(1)).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        s.put(&o, "nope", b"x".to_vec(), None, Precondition::Exists).await,
        Err(StorageError::NotFound)
    ));

    // Delete with a stale version fails; with the right one it leaves a tombstone whose version continues.
    assert!(matches!(
        s.delete(&o, "c1", Some(2)).await,
        Err(StorageError::VersionMismatch { current_version: 3 })
    ));
    assert_eq!(s.delete(&o, "c1", Some(3)).await.unwrap(), 4);
    assert!(matches!(s.get(&o, "c1").await, Err(StorageError::NotFound)));
    assert!(matches!(s.delete(&o, "c1", None).await, Err(StorageError::NotFound)));
    // Re-creating after a delete is a create (201) and never reuses a version (no ABA on If-Match).
    let w = s
        .put(&o, "c1", b"again".to_vec(), None, Precondition::Absent)
        .await
        .unwrap();
    assert_eq!((w.version, w.created), (5, true));

    // Bad ids never reach the database.
    for bad in ["", "a/b", "a b", &"x".repeat(129)] {
        assert!(matches!(
            s.put(&o, bad, b"x".to_vec(), None, Precondition::None).await,
            Err(StorageError::BadRequest(_))
        ));
    }
}

async fn listing_pages(db: TestDatabase) {
    let s = service(&db).await;
    let o = alice();
    for i in 0..25 {
        s.put(&o, &format!("id{i:02}"), vec![i as u8; 10], None, Precondition::None)
            .await
            .unwrap();
    }
    s.delete(&o, "id03", None).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let page = s.list(&o, cursor.as_deref(), Some(7), false).await.unwrap();
        assert!(page.items.len() <= 7);
        assert!(page.items.iter().all(|b| b.data.is_none()));
        seen.extend(page.items.iter().map(|b| b.id.clone()));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..25).filter(|i| *i != 3).map(|i| format!("id{i:02}")).collect();
    assert_eq!(seen, expected);
    let page = s.list(&o, None, Some(3), true).await.unwrap();
    assert_eq!(page.items[0].data.as_deref(), Some(&[0u8; 10][..]));
    assert!(matches!(
        s.list(&o, Some("garbage!"), None, false).await,
        Err(StorageError::BadRequest(_))
    ));
    assert!(matches!(
        s.list(&o, None, Some(0), false).await,
        Err(StorageError::BadRequest(_))
    ));
}

async fn sync_feed_with_tombstones(db: TestDatabase) {
    let s = service(&db).await;
    let o = alice();
    // Device A writes three blobs and deletes one.
    for id in ["a", "b", "c"] {
        s.put(&o, id, id.as_bytes().to_vec(), None, Precondition::None)
            .await
            .unwrap();
    }
    s.delete(&o, "b", None).await.unwrap();
    // Device B syncs from scratch: the live set plus the tombstone.
    let page = s.sync(&o, None, None).await.unwrap();
    assert!(!page.has_more && !page.reset_required);
    let got: BTreeMap<String, (bool, Option<Vec<u8>>)> = page
        .changes
        .iter()
        .map(|c| (c.id.clone(), (c.deleted, c.data.clone())))
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got["a"], (false, Some(b"a".to_vec())));
    assert_eq!(got["b"], (true, None));
    assert_eq!(got["c"], (false, Some(b"c".to_vec())));
    // Nothing new: empty page, same position.
    let again = s.sync(&o, Some(&page.cursor), None).await.unwrap();
    assert!(again.changes.is_empty());
    // Only new changes after the cursor, in order.
    s.put(&o, "d", b"d".to_vec(), None, Precondition::None).await.unwrap();
    s.put(&o, "a", b"a2".to_vec(), None, Precondition::None).await.unwrap();
    let next = s.sync(&o, Some(&again.cursor), None).await.unwrap();
    let ids: Vec<&str> = next.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["d", "a"]);
    // Paging with a small limit visits every change once.
    let mut cursor = String::new();
    let mut all = Vec::new();
    for _ in 0..10 {
        let p = s.sync(&o, Some(&cursor), Some(2)).await.unwrap();
        all.extend(p.changes.iter().map(|c| c.id.clone()));
        cursor = p.cursor;
        if !p.has_more {
            break;
        }
    }
    assert_eq!(all, ["c", "b", "d", "a"], "latest change per blob, ordered by sequence");
    assert!(matches!(
        s.sync(&o, Some("%%%"), None).await,
        Err(StorageError::BadRequest(_))
    ));
}

/// The short path of the feed (a device at the head, a user who never wrote: one read of the marks) answers what
/// the full path would: an empty page at the same position, the next write on the next poll, and a cursor the store
/// never handed out (beyond its head) still resets.
async fn sync_at_the_head(db: TestDatabase) {
    let s = service(&db).await;
    let fresh = Owner::new("default", "never-wrote");
    let page = s.sync(&fresh, None, None).await.unwrap();
    assert!(page.changes.is_empty() && !page.has_more && !page.reset_required);
    let again = s.sync(&fresh, Some(&page.cursor), None).await.unwrap();
    assert!(again.changes.is_empty() && !again.reset_required);
    assert_eq!(again.cursor, page.cursor, "the position does not move");
    s.put(&fresh, "x", b"x".to_vec(), None, Precondition::None)
        .await
        .unwrap();
    let next = s.sync(&fresh, Some(&again.cursor), None).await.unwrap();
    let ids: Vec<&str> = next.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["x"], "the write after an empty poll is the next poll's");
    let idle = s.sync(&fresh, Some(&next.cursor), None).await.unwrap();
    assert!(idle.changes.is_empty() && !idle.reset_required);
    // A cursor from a longer history (another user's feed here) is beyond this head: reset, from the beginning.
    let o = alice();
    for id in ["a", "b", "c"] {
        s.put(&o, id, id.as_bytes().to_vec(), None, Precondition::None)
            .await
            .unwrap();
    }
    let far = s.sync(&o, None, None).await.unwrap().cursor;
    let reset = s.sync(&fresh, Some(&far), None).await.unwrap();
    assert!(reset.reset_required, "a cursor beyond the head resets");
    let ids: Vec<&str> = reset.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["x"]);
}

/// The cached sync marks (storage.sync_head_ttl): this process's writes (the auth role's keystore view included)
/// reach the next poll at once; another process's write reaches a device at the head within the TTL.
async fn sync_marks_follow_writes(db: TestDatabase) {
    let cfg = StorageConfig {
        sync_head_ttl: Duration::from_millis(300),
        ..StorageConfig::default()
    };
    let (store, s) = service_with(&db, cfg.clone()).await;
    let auth_view = s.without_write_budget();
    let other_process = StorageService::new(store, cfg);
    let o = alice();
    let head = s.sync(&o, None, None).await.unwrap().cursor;
    let idle = s.sync(&o, Some(&head), None).await.unwrap();
    assert!(idle.changes.is_empty(), "at the head: answered from the cached marks");
    auth_view.put_private_data(&o, b"keys".to_vec(), None).await.unwrap();
    let page = s.sync(&o, Some(&head), None).await.unwrap();
    let ids: Vec<&str> = page.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        ["keystore"],
        "a write through the shared view drops the marks at once"
    );
    let head = page.cursor;
    assert!(s.sync(&o, Some(&head), None).await.unwrap().changes.is_empty());
    other_process
        .put(&o, "elsewhere", b"e".to_vec(), None, Precondition::None)
        .await
        .unwrap();
    // Within the TTL the poll may still say "nothing new" (the documented staleness); after it, the change is there.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let page = loop {
        let page = s.sync(&o, Some(&head), None).await.unwrap();
        if !page.changes.is_empty() || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ids: Vec<&str> = page.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        ["elsewhere"],
        "another process's write is seen once the marks expire"
    );
    assert!(!page.reset_required);
}

async fn expired_tombstones_force_a_reset(db: TestDatabase) {
    let cfg = StorageConfig {
        tombstone_retention: Duration::from_millis(200),
        ..StorageConfig::default()
    };
    let (_, s) = service_with(&db, cfg).await;
    let o = alice();
    s.put(&o, "keep", b"k".to_vec(), None, Precondition::None)
        .await
        .unwrap();
    let early = s.sync(&o, None, None).await.unwrap().cursor;
    s.put(&o, "gone", b"g".to_vec(), None, Precondition::None)
        .await
        .unwrap();
    s.delete(&o, "gone", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.purge_expired_tombstones().await.unwrap(), 1);
    s.put(&o, "keep2", b"k2".to_vec(), None, Precondition::None)
        .await
        .unwrap();
    let page = s.sync(&o, Some(&early), Some(1)).await.unwrap();
    assert!(page.reset_required, "the cursor predates a purged tombstone");
    let ids: Vec<&str> = page.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["keep"], "a reset page starts from the beginning");
    assert!(page.has_more);
    // Paging on through the reset does not reset again.
    let rest = s.sync(&o, Some(&page.cursor), Some(1)).await.unwrap();
    assert!(!rest.reset_required);
    let ids: Vec<&str> = rest.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["keep2"]);
    let fresh = s.sync(&o, Some(&rest.cursor), None).await.unwrap();
    assert!(!fresh.reset_required && fresh.changes.is_empty());
    // A fresh device is never told to reset.
    assert!(!s.sync(&o, None, None).await.unwrap().reset_required);
}

async fn private_data_is_the_keystore_blob(db: TestDatabase) {
    let s = service(&db).await;
    let o = alice();
    let empty = s.get_private_data(&o).await.unwrap();
    assert!(empty.bytes.is_empty());
    assert_eq!(empty.etag, format!("\"{}\"", digest(b"")));
    // The etag of "nothing" lets the first write through; a wrong one does not.
    let err = s
        .put_private_data(&o, b"ks1".to_vec(), Some("\"nope\""))
        .await
        .unwrap_err();
    assert!(matches!(&err, StorageError::PreconditionFailed { current_etag } if *current_etag == empty.etag));
    let e1 = s
        .put_private_data(&o, b"ks1".to_vec(), Some(&empty.etag))
        .await
        .unwrap();
    assert_eq!(e1, format!("\"{}\"", digest(b"ks1")));
    let err = s
        .put_private_data(&o, b"ks2".to_vec(), Some(&empty.etag))
        .await
        .unwrap_err();
    assert!(matches!(&err, StorageError::PreconditionFailed { current_etag } if *current_etag == e1));
    let e2 = s.put_private_data(&o, b"ks2".to_vec(), Some(&e1)).await.unwrap();
    // The same bytes and versions through the service API.
    let blob = s.get(&o, "keystore").await.unwrap();
    assert_eq!((blob.version, blob.data.as_deref()), (2, Some(&b"ks2"[..])));
    // The blob API cannot write it: only the ETag-checked private-data path does (the id is reserved).
    assert!(matches!(
        s.put(&o, "keystore", b"ks3".to_vec(), None, Precondition::Version(2))
            .await,
        Err(StorageError::Reserved("keystore"))
    ));
    assert!(matches!(
        s.delete(&o, "keystore", None).await,
        Err(StorageError::Reserved("keystore"))
    ));
    s.put_private_data(&o, b"ks3".to_vec(), Some(&e2)).await.unwrap();
    let pd = s.get_private_data(&o).await.unwrap();
    assert_eq!(pd.bytes, b"ks3");
    assert!(matches!(
        s.put_private_data(&o, b"x".to_vec(), Some(&e2)).await,
        Err(StorageError::PreconditionFailed { .. })
    ));
    // Unconditional write, then account deletion removes everything.
    s.put_private_data(&o, b"ks4".to_vec(), None).await.unwrap();
    s.put(&o, "other", b"o".to_vec(), None, Precondition::None)
        .await
        .unwrap();
    s.delete_user(&o).await.unwrap();
    assert!(s.get_private_data(&o).await.unwrap().bytes.is_empty());
    assert!(s.list(&o, None, None, false).await.unwrap().items.is_empty());
    assert!(s.sync(&o, None, None).await.unwrap().changes.is_empty());
}

async fn quotas_and_tenant_overrides(db: TestDatabase) {
    let cfg = StorageConfig {
        max_blob_bytes: 100,
        max_blobs_per_user: 3,
        max_bytes_per_user: 150,
        ..StorageConfig::default()
    };
    let (store, s) = service_with(&db, cfg).await;
    let o = alice();
    assert!(matches!(
        s.put(&o, "big", vec![0; 101], None, Precondition::None).await,
        Err(StorageError::BlobTooLarge { size: 101, limit: 100 })
    ));
    s.put(&o, "a", vec![0; 100], None, Precondition::None).await.unwrap();
    // 100 + 60 > 150 bytes.
    let err = s.put(&o, "b", vec![0; 60], None, Precondition::None).await.unwrap_err();
    assert!(
        matches!(&err, StorageError::QuotaExceeded(m) if m.contains("150 bytes")),
        "{err:?}"
    );
    s.put(&o, "b", vec![0; 25], None, Precondition::None).await.unwrap();
    s.put(&o, "c", vec![0; 25], None, Precondition::None).await.unwrap();
    let err = s.put(&o, "d", vec![0; 1], None, Precondition::None).await.unwrap_err();
    assert!(
        matches!(&err, StorageError::QuotaExceeded(m) if m.contains("3 blobs")),
        "{err:?}"
    );
    // Shrinking and replacing within the limits still works; a delete frees room.
    s.put(&o, "a", vec![0; 10], None, Precondition::None).await.unwrap();
    s.delete(&o, "c", None).await.unwrap();
    s.put(&o, "d", vec![0; 1], None, Precondition::None).await.unwrap();

    // A tenant with its own quotas.
    let mut t = Tenant::new("acme", "Acme");
    t.storage_quota = Some(TenantStorageQuota {
        max_blob_bytes: Some(1000),
        max_blobs_per_user: Some(1),
        max_bytes_per_user: None,
    });
    store.create_tenant(&t).await.unwrap();
    let bob = Owner::new("acme", "bob");
    s.put(&bob, "a", vec![0; 140], None, Precondition::None).await.unwrap();
    assert!(matches!(
        s.put(&bob, "b", vec![0; 1], None, Precondition::None).await,
        Err(StorageError::QuotaExceeded(_))
    ));
}

async fn owners_are_isolated(db: TestDatabase) {
    let (store, s) = service_with(&db, StorageConfig::default()).await;
    // Storage refuses an unknown tenant, so the other tenant exists (and is empty for alice's blob).
    store.create_tenant(&Tenant::new("acme", "Acme")).await.unwrap();
    let a = alice();
    let b = Owner::new("default", "bob");
    let a_other_tenant = Owner::new("acme", "alice");
    s.put(&a, "x", b"secret".to_vec(), None, Precondition::None)
        .await
        .unwrap();
    for other in [&b, &a_other_tenant] {
        assert!(matches!(s.get(other, "x").await, Err(StorageError::NotFound)));
        assert!(matches!(s.delete(other, "x", None).await, Err(StorageError::NotFound)));
        assert!(matches!(
            s.put(other, "x", b"y".to_vec(), None, Precondition::Version(1)).await,
            Err(StorageError::NotFound)
        ));
        assert!(s.list(other, None, None, false).await.unwrap().items.is_empty());
        assert!(s.sync(other, None, None).await.unwrap().changes.is_empty());
        assert!(s.get_private_data(other).await.unwrap().bytes.is_empty());
    }
    assert_eq!(s.get(&a, "x").await.unwrap().data.unwrap(), b"secret");
}

/// 50 writers race with the same `If-Match` in each round: exactly one wins per version.
async fn concurrent_cas_has_one_winner_per_version(db: TestDatabase) {
    let s = service(&db).await;
    let o = alice();
    s.put(&o, "hot", b"0".to_vec(), None, Precondition::None).await.unwrap();
    for round in 1..=4i64 {
        let tasks: Vec<_> = (0..50)
            .map(|w| {
                let (s, o) = (s.clone(), o.clone());
                tokio::spawn(async move {
                    s.put(
                        &o,
                        "hot",
                        format!("{round}-{w}").into_bytes(),
                        None,
                        Precondition::Version(round),
                    )
                    .await
                })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(w) => {
                    assert_eq!(w.version, round + 1);
                    winners += 1;
                }
                Err(StorageError::VersionMismatch { current_version }) => assert_eq!(current_version, round + 1),
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

/// Concurrent writes to many blobs of one user: every change gets its own sequence number and the feed carries
/// each blob's last write exactly once.
async fn concurrent_writes_get_distinct_sequence_numbers(db: TestDatabase) {
    let s = service(&db).await;
    let o = alice();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (s, o) = (s.clone(), o.clone());
            tokio::spawn(async move {
                for j in 0..3 {
                    s.put(
                        &o,
                        &format!("b{i}"),
                        format!("{i}-{j}").into_bytes(),
                        None,
                        Precondition::None,
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let page = s.sync(&o, None, Some(1000)).await.unwrap();
    let ids: BTreeSet<&str> = page.changes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(page.changes.len(), 40);
    assert!(page.changes.iter().all(|c| c.version == 3));
}

async fn unknown_and_disabled_tenants_are_refused(db: TestDatabase) {
    let (store, s) = service_with(&db, StorageConfig::default()).await;
    let ghost = Owner::new("ghost", "alice");
    for err in [
        s.put(&ghost, "x", b"y".to_vec(), None, Precondition::None)
            .await
            .unwrap_err(),
        s.get(&ghost, "x").await.unwrap_err(),
        s.get_private_data(&ghost).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, StorageError::Tenant(TenantRefusal::Unknown(_))),
            "{err:?}"
        );
        let api = err.into_api_error();
        assert_eq!((api.status.as_u16(), api.code), (404, "tenant_not_found"));
    }
    // Created later, the tenant is usable at once (an unknown id is not cached).
    let mut t = Tenant::new("ghost", "Ghost");
    store.create_tenant(&t).await.unwrap();
    s.put(&ghost, "x", b"y".to_vec(), None, Precondition::None)
        .await
        .unwrap();

    t.id = "off".into();
    t.enabled = false;
    store.create_tenant(&t).await.unwrap();
    let err = s.get(&Owner::new("off", "alice"), "x").await.unwrap_err();
    assert!(
        matches!(err, StorageError::Tenant(TenantRefusal::Disabled(_))),
        "{err:?}"
    );
    let api = err.into_api_error();
    assert_eq!((api.status.as_u16(), api.code), (403, "tenant_disabled"));
}

walletd_testkit::on_both_databases!(
    unknown_and_disabled_tenants_are_refused,
    crud_and_versions,
    listing_pages,
    sync_feed_with_tombstones,
    sync_at_the_head,
    sync_marks_follow_writes,
    expired_tombstones_force_a_reset,
    private_data_is_the_keystore_blob,
    quotas_and_tenant_overrides,
    owners_are_isolated,
    concurrent_cas_has_one_winner_per_version,
    concurrent_writes_get_distinct_sequence_numbers,
);
