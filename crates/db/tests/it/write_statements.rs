//! The storage write path's statements on the real databases (issue 18): on PostgreSQL an unconditional or
//! create-only blob write is ONE statement, prepared once per connection and reused; the first write of a user
//! creates its sequence row; a quota overrun writes nothing. SQLite runs the same checks through its transaction.

use sqlx::Row;
use walletd_common::config::DatabaseConfig;
use walletd_db::{BlobContent, BlobOwner, BlobQuota, Dialect, QuotaKind, Store, WriteCondition, WriteOutcome};
use walletd_testkit::TestDatabase;

walletd_testkit::on_both_databases!(
    upsert_writes_are_one_reused_statement,
    a_quota_overrun_writes_nothing,
    concurrent_first_writes_of_a_user_get_distinct_sequence_numbers,
);

const OWNER: BlobOwner<'static> = BlobOwner {
    tenant_id: "default",
    user_id: "u1",
};
const ROOMY: BlobQuota = BlobQuota {
    max_blobs: 100,
    max_bytes: 1_000_000,
};

fn content(data: &[u8]) -> BlobContent<'_> {
    BlobContent {
        data,
        digest: "d",
        content_type: None,
    }
}

async fn one_connection(db: &TestDatabase) -> Store {
    let mut cfg = DatabaseConfig::with_url(db.url());
    cfg.max_connections = 1;
    Store::connect(&cfg).await.expect("connect")
}

async fn upsert_writes_are_one_reused_statement(db: TestDatabase) {
    let store = one_connection(&db).await;
    let mut versions = Vec::new();
    for (i, cond) in [WriteCondition::Always, WriteCondition::Always, WriteCondition::IfAbsent]
        .iter()
        .enumerate()
    {
        let id = if i < 2 { "a" } else { "b" };
        match store.blob_put(OWNER, id, content(b"xyz"), cond, ROOMY).await.unwrap() {
            WriteOutcome::Written { version, created } => versions.push((version, created)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(versions, vec![(1, true), (2, false), (1, true)]);
    // A create-only write onto a live blob fails and changes nothing (no sequence number spent).
    let refused = store
        .blob_put(OWNER, "a", content(b"zz"), &WriteCondition::IfAbsent, ROOMY)
        .await
        .unwrap();
    assert!(
        matches!(refused, WriteOutcome::Mismatch { version: 2, .. }),
        "{refused:?}"
    );
    assert_eq!(store.blob_seq_marks(OWNER).await.unwrap(), (3, 0));
    let changes = store.blob_changes(OWNER, 0, None, 10, false).await.unwrap();
    let seqs: Vec<(String, i64)> = changes.iter().map(|c| (c.id.clone(), c.seq)).collect();
    assert_eq!(seqs, vec![("a".to_string(), 2), ("b".to_string(), 3)]);
    let counters = sqlx::query("SELECT blob_count, total_bytes FROM storage_users WHERE user_id = 'u1'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!((counters.get::<i64, _>(0), counters.get::<i64, _>(1)), (2, 6));
    if store.dialect() == Dialect::Postgres {
        // The pool's one connection prepared the write once (sqlx's persistent statements) and reused it.
        let prepared: Vec<String> = sqlx::query_scalar(
            "SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'WITH u AS%' ORDER BY statement",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        // Two texts: the unconditional write and the create-only one, each prepared once for four executions.
        assert_eq!(prepared.len(), 2, "{prepared:#?}");
    }
}

async fn a_quota_overrun_writes_nothing(db: TestDatabase) {
    let store = one_connection(&db).await;
    let two = BlobQuota {
        max_blobs: 2,
        max_bytes: 10,
    };
    for id in ["a", "b"] {
        let w = store
            .blob_put(OWNER, id, content(b"12345"), &WriteCondition::Always, two)
            .await;
        assert!(matches!(w, Ok(WriteOutcome::Written { .. })), "{w:?}");
    }
    let count = store
        .blob_put(OWNER, "c", content(b"1"), &WriteCondition::Always, two)
        .await
        .unwrap();
    assert_eq!(
        count,
        WriteOutcome::QuotaExceeded {
            kind: QuotaKind::Count,
            limit: 2
        }
    );
    let bytes = store
        .blob_put(OWNER, "a", content(b"123456"), &WriteCondition::Always, two)
        .await
        .unwrap();
    assert_eq!(
        bytes,
        WriteOutcome::QuotaExceeded {
            kind: QuotaKind::Bytes,
            limit: 10
        }
    );
    // Nothing of the refused writes is visible: sequence, blobs, counters.
    assert_eq!(store.blob_seq_marks(OWNER).await.unwrap(), (2, 0));
    assert!(store.blob_get(OWNER, "c", false).await.unwrap().is_none());
    assert_eq!(
        store.blob_get(OWNER, "a", true).await.unwrap().unwrap().data.unwrap(),
        b"12345"
    );
    // Shrinking is always allowed, even at the limit.
    let shrink = store
        .blob_put(OWNER, "a", content(b"1"), &WriteCondition::Always, two)
        .await
        .unwrap();
    assert!(
        matches!(
            shrink,
            WriteOutcome::Written {
                version: 2,
                created: false
            }
        ),
        "{shrink:?}"
    );
}

async fn concurrent_first_writes_of_a_user_get_distinct_sequence_numbers(db: TestDatabase) {
    let mut cfg = DatabaseConfig::with_url(db.url());
    cfg.max_connections = 8;
    let store = Store::connect(&cfg).await.expect("connect");
    let writes: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .blob_put(OWNER, &format!("b{i}"), content(b"x"), &WriteCondition::Always, ROOMY)
                    .await
            })
        })
        .collect();
    for w in writes {
        let outcome = w.await.unwrap().unwrap();
        assert!(
            matches!(
                outcome,
                WriteOutcome::Written {
                    version: 1,
                    created: true
                }
            ),
            "{outcome:?}"
        );
    }
    let mut seqs: Vec<i64> = store
        .blob_changes(OWNER, 0, None, 100, false)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert_eq!(store.blob_seq_marks(OWNER).await.unwrap(), (8, 0));
}

/// SQLite: a process's write transactions take turns ([`Store::write_turn`]) instead of racing for the database's
/// lock and sleeping in the busy handler; PostgreSQL has no turn to wait for.
#[tokio::test]
async fn sqlite_write_transactions_take_turns() {
    let db = TestDatabase::sqlite();
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let turn = store.write_turn().await.expect("SQLite has a writer turn");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .blob_put(OWNER, "waits", content(b"x"), &WriteCondition::Always, ROOMY)
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!writer.is_finished(), "a write waits while another holds the turn");
    // Reads do not wait for the turn.
    assert!(store.blob_get(OWNER, "waits", false).await.unwrap().is_none());
    drop(turn);
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), writer)
        .await
        .expect("the write goes on once the turn is free")
        .unwrap()
        .unwrap();
    assert!(matches!(outcome, WriteOutcome::Written { .. }), "{outcome:?}");

    // Many concurrent writers all commit, none refused as busy.
    let writes: Vec<_> = (0..24)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .blob_put(OWNER, &format!("b{i}"), content(b"y"), &WriteCondition::Always, ROOMY)
                    .await
            })
        })
        .collect();
    for w in writes {
        assert!(matches!(w.await.unwrap().unwrap(), WriteOutcome::Written { .. }));
    }

    let pg = TestDatabase::postgres().await;
    let store = Store::connect(&DatabaseConfig::with_url(pg.url())).await.unwrap();
    assert!(store.write_turn().await.is_none());
}
