//! The plans of hot statements, checked on the real databases: a blob GET must reach its row through the primary
//! key even on a table whose statistics are missing (fresh, or bulk-loaded and not analysed yet); before migration
//! 0006 PostgreSQL used the change-feed index there and filtered every blob of the user.

use sqlx::Row;
use walletd_common::config::DatabaseConfig;
use walletd_db::{Dialect, Store, blob_get_sql};
use walletd_testkit::TestDatabase;

walletd_testkit::on_both_databases!(blob_get_uses_the_primary_key_without_statistics);

/// Blobs of one user, written straight into the table (as a bulk load would) so no statistics exist.
const BLOBS: i64 = 2_000;

async fn blob_get_uses_the_primary_key_without_statistics(db: TestDatabase) {
    let store = Store::connect(&DatabaseConfig::with_url(db.url()))
        .await
        .expect("connect");
    let mut conn = store.pool().acquire().await.unwrap();
    if store.dialect() == Dialect::Postgres {
        // Keep autovacuum from analysing the table behind the test's back.
        sqlx::query("ALTER TABLE storage_blobs SET (autovacuum_enabled = false)")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO storage_blobs (tenant_id, user_id, id, version, seq, deleted, data, size, digest, updated_at) \
         SELECT 'default', 'u1', 'blob-' || CAST(i AS TEXT), 1, i, 0, $2, 1, 'd', 0 FROM n",
    )
    .bind(BLOBS)
    .bind(vec![0u8])
    .execute(&mut *conn)
    .await
    .unwrap();

    let plan = match store.dialect() {
        Dialect::Postgres => {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {}", blob_get_sql(true))))
                .bind("default")
                .bind("u1")
                .bind("blob-77")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            row.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>().join("\n")
        }
        Dialect::Sqlite => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "EXPLAIN QUERY PLAN {}",
                blob_get_sql(true)
            )))
            .bind("default")
            .bind("u1")
            .bind("blob-77")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            rows.iter()
                .map(|r| r.get::<String, _>(3))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    let primary_key = match store.dialect() {
        Dialect::Postgres => "storage_blobs_pkey",
        Dialect::Sqlite => "sqlite_autoindex_storage_blobs_1",
    };
    assert!(
        plan.contains(primary_key),
        "{} blob GET plan does not use the primary key:\n{plan}",
        db.kind()
    );
    assert!(
        !plan.contains("storage_blobs_by_seq"),
        "{} blob GET plan uses the feed index:\n{plan}",
        db.kind()
    );
}
