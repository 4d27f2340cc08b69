//! Fresh databases per test: a SQLite file in a temp dir, or a new schema in the local PostgreSQL `test` database.

use std::time::Duration;

use sqlx::Connection;

/// Base URL of the PostgreSQL used by tests: `WALLETD_TEST_PG_URL`, else the machine's local server.
pub fn postgres_base_url() -> String {
    std::env::var("WALLETD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A database that exists for one test and is removed afterwards.
pub enum TestDatabase {
    /// A SQLite file in its own temporary directory.
    Sqlite { dir: tempfile::TempDir, url: String },
    /// A schema of its own in the PostgreSQL test database (dropped on drop).
    Postgres { schema: String, url: String },
}

impl TestDatabase {
    /// A new SQLite database file.
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/walletd.db", dir.path().display());
        TestDatabase::Sqlite { dir, url }
    }

    /// A new, empty PostgreSQL schema; connections made with [`TestDatabase::url`] use it as `search_path`.
    /// Panics when PostgreSQL is unreachable: tests must not silently skip the real database.
    pub async fn postgres() -> TestDatabase {
        let base = postgres_base_url();
        let schema = format!("wt_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} is required for this test: {e}"));
        // The schema name is generated here from a UUID: no outside input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create schema");
        let _ = conn.close().await;
        let url = with_search_path(&base, &schema);
        TestDatabase::Postgres { schema, url }
    }

    /// The connection URL for walletd's `database.url`.
    pub fn url(&self) -> &str {
        match self {
            TestDatabase::Sqlite { url, .. } | TestDatabase::Postgres { url, .. } => url,
        }
    }

    /// Short name of the backend, for test output.
    pub fn kind(&self) -> &'static str {
        match self {
            TestDatabase::Sqlite { .. } => "sqlite",
            TestDatabase::Postgres { .. } => "postgres",
        }
    }

    /// The directory holding a SQLite database (also a good `data_dir`), `None` for PostgreSQL.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match self {
            TestDatabase::Sqlite { dir, .. } => Some(dir.path()),
            TestDatabase::Postgres { .. } => None,
        }
    }
}

/// The same PostgreSQL URL with `search_path` set to `schema` for every session.
pub fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { schema, .. } = self {
            let schema = schema.clone();
            // Drop may run inside or outside a runtime; a thread with its own runtime works in both.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = tokio::time::timeout(
                        Duration::from_secs(5),
                        sqlx::PgConnection::connect(&postgres_base_url()),
                    )
                    .await
                    .ok()?
                    .ok()?;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                    Some(())
                })
            })
            .join();
        }
    }
}
