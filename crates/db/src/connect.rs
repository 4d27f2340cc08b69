//! Opening the pool, dialect-specific connection settings, migrations, and the health check.

use std::str::FromStr;
use std::sync::{Arc, Once};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use tokio::sync::Semaphore;
use walletd_common::config::DatabaseConfig;

use crate::StoreError;

/// The SQL dialect behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection pool plus its dialect. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite only: one write transaction of this process at a time (see [`Store::write_turn`]).
    writer: Arc<Semaphore>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

impl Store {
    /// Connects, applies pending migrations, and returns the store. For SQLite the file and its directory are
    /// created when missing, and WAL with a busy timeout is enabled.
    pub async fn connect(cfg: &DatabaseConfig) -> Result<Store, StoreError> {
        let store = Self::open(cfg, false).await?;
        if store.schema_is_current().await {
            return Ok(store);
        }
        // sqlx serialises concurrent migrators on PostgreSQL with an advisory lock but has nothing equivalent for
        // SQLite, where two processes starting on one file would both apply the first migration. An exclusive OS
        // lock on a file beside the database gives SQLite the same guarantee.
        let _migration_lock = match (store.dialect, sqlite_file(cfg.url.expose())) {
            (Dialect::Sqlite, Some(db_file)) => Some(lock_beside(db_file).await?),
            _ => None,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Connects read-only and applies nothing: the engine's view of `tenants.source`. SQLite opens the file with
    /// `mode=ro`; PostgreSQL sessions run with `default_transaction_read_only`, so a write fails in the database.
    pub async fn connect_read_only(cfg: &DatabaseConfig) -> Result<Store, StoreError> {
        Self::open(cfg, true).await
    }

    async fn open(cfg: &DatabaseConfig, read_only: bool) -> Result<Store, StoreError> {
        install_drivers();
        let raw = cfg.url.expose();
        let dialect = match cfg.url.scheme().as_str() {
            "sqlite" => Dialect::Sqlite,
            "postgres" | "postgresql" => Dialect::Postgres,
            other => {
                return Err(StoreError::Config(format!("unsupported database scheme `{other}`")));
            }
        };
        let url = match dialect {
            Dialect::Sqlite => sqlite_url(raw, read_only)?,
            Dialect::Postgres if read_only => with_query_param(raw, "options", "-c default_transaction_read_only=on"),
            Dialect::Postgres => raw.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Config(format!("cannot parse database URL: {}", redact(&e.to_string(), raw))))?;
        let busy_ms = cfg.busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(cfg.max_connections)
            .acquire_timeout(cfg.acquire_timeout)
            // sqlx pings an idle connection before lending it out, to find ones the server dropped. A SQLite
            // connection is a file handle in this process and cannot be dropped by anyone, and its ping is a round
            // trip to the connection's worker thread: about half the cost of a one-row read (docs/performance.md).
            .test_before_acquire(dialect != Dialect::Sqlite)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers run beside the single writer; FULL sync makes every acknowledged commit
                        // durable across a crash; the busy timeout turns writer contention into waiting, not errors.
                        // One batch: each statement sent alone was a round trip to the connection's thread.
                        // Numbers formatted by us: nothing user-supplied reaches this batch.
                        let wal = if read_only { "" } else { "PRAGMA journal_mode = WAL; " };
                        conn.execute(sqlx::AssertSqlSafe(format!(
                            "{wal}PRAGMA busy_timeout = {busy_ms}; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON"
                        )))
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Store {
            pool,
            dialect,
            writer: Arc::new(Semaphore::new(1)),
        })
    }

    /// Applies pending migrations of this dialect. Idempotent; concurrent replicas on PostgreSQL serialise on
    /// sqlx's advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrator().run(&self.pool).await?;
        Ok(())
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Whether the database holds exactly this binary's migrations, each applied successfully with the checksum
    /// embedded here: then [`Store::migrate`] would change nothing. One query answering one row, without the
    /// migration lock, so a start on an up-to-date database skips the migrator's lock and round trips
    /// (docs/performance.md "Start-up"): the history is folded into one `version:CHECKSUM:success` list by the
    /// database, since every row sent back is a hand-off between SQLite's connection thread and the caller. Anything
    /// else (no table yet, a pending, failed, edited or unknown migration, an error) answers `false` and leaves the
    /// verdict to the migrator, under its lock.
    pub async fn schema_is_current(&self) -> bool {
        let checksum_hex = match self.dialect {
            Dialect::Sqlite => "hex(checksum)",
            Dialect::Postgres => "upper(encode(checksum, 'hex'))",
        };
        // `string_agg` with an ordered argument list: PostgreSQL, and SQLite since 3.44 (the bundled one is newer).
        // Only the dialect's own expression is formatted in; nothing user-supplied.
        let sql = format!(
            "SELECT string_agg(CAST(version AS TEXT) || ':' || {checksum_hex} || ':' || \
             CASE WHEN success THEN '1' ELSE '0' END, ',' ORDER BY version) FROM _sqlx_migrations"
        );
        let read = self
            .read_settled(async |conn| sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(conn).await)
            .await;
        let applied: Option<String> = match read {
            Ok(list) => list,
            Err(_) => return false,
        };
        let embedded: Vec<String> = self
            .migrator()
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| {
                let checksum: String = m.checksum.iter().map(|b| format!("{b:02X}")).collect();
                format!("{}:{checksum}:1", m.version)
            })
            .collect();
        applied.is_some_and(|list| list == embedded.join(","))
    }

    /// The newest applied migration version, for diagnostics and tests.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// A trivial round trip: what `/readyz` calls. Not settled ([`Store::read_settled`]): nothing follows it at
    /// once, and with the pool's usual return the ping that sqlx runs on the connection happens after the answer
    /// (start-up's reads leave the connection idle for the first `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Runs `read` on a pooled connection that is back in the pool before this returns.
    ///
    /// Why: sqlx hands a dropped connection back from a spawned task, after a ping on it. A query issued right
    /// behind another then finds no idle connection and the pool opens one more: on SQLite a thread, a file open,
    /// two pragma round trips and a schema parse. Start-up runs its reads back to back (migration check, key rings,
    /// registry documents) and opened three connections that way, more on a busy machine, where
    /// the extra threads queue behind other processes (docs/performance.md "Start-up"). Through this they share one.
    /// The ping still runs, but here, before the caller goes on, instead of in a task of its own. Hot request paths
    /// keep the pool's usual return, which lets the response leave before the ping.
    pub(crate) async fn read_settled<T>(
        &self,
        read: impl AsyncFnOnce(&mut sqlx::AnyConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let result = read(&mut conn).await;
        // Runs sqlx's drop handler (ping, then back to the pool) now; the connection dropped after it is empty and
        // spawns nothing.
        conn.return_to_pool().await;
        Ok(result?)
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool, for repositories of role crates that live beside their migrations here.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Waits for this process's turn to write, on SQLite; nothing to wait for on PostgreSQL. Hold the turn from
    /// before `BEGIN` until after the commit (declare it before the transaction, so it is dropped after it).
    ///
    /// SQLite has one writer per database. Without this, concurrent write transactions of the pool race for its
    /// lock and the losers sleep in SQLite's busy handler (growing sleeps, up to 100 ms each): measured with 16
    /// concurrent 1 KiB PUTs, a p99 of 0.5-0.9 s at pools of 4-32 connections and 85 ms at 2 (docs/performance.md
    /// "Connection pool"). Queued here, writers wait exactly as long as the write ahead of them. Other processes on
    /// the same file still meet the busy handler (`database.busy_timeout`).
    pub async fn write_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match self.dialect {
            // The semaphore is never closed, so acquiring cannot fail.
            Dialect::Sqlite => self.writer.clone().acquire_owned().await.ok(),
            Dialect::Postgres => None,
        }
    }

    /// Closes every pooled connection (graceful shutdown, tests).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The database file of a SQLite URL, `None` for in-memory databases.
fn sqlite_file(raw: &str) -> Option<std::path::PathBuf> {
    let rest = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:" && !rest.contains("mode=memory")).then(|| path.into())
}

/// Takes an exclusive lock on `<db file>.migrate-lock`, held until the returned file is dropped.
async fn lock_beside(db_file: std::path::PathBuf) -> Result<std::fs::File, StoreError> {
    let mut lock_path = db_file.into_os_string();
    lock_path.push(".migrate-lock");
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| StoreError::Config(format!("migration lock task failed: {e}")))?
    .map_err(|e| StoreError::Config(format!("cannot lock the SQLite migration lock file: {e}")))
}

/// Normalises a SQLite URL: creates the parent directory and asks for the file to be created (`mode=rwc`) unless
/// the URL names a mode or the store is read-only.
fn sqlite_url(raw: &str, read_only: bool) -> Result<String, StoreError> {
    let rest = raw
        .strip_prefix("sqlite://")
        .or_else(|| raw.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Config("a SQLite URL starts with sqlite://".into()))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return Err(StoreError::Config("the SQLite URL names no file".into()));
    }
    if !read_only
        && path != ":memory:"
        && let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
    {
        private_dir(dir)
            .map_err(|e| StoreError::Config(format!("cannot create the SQLite directory {}: {e}", dir.display())))?;
    }
    if !read_only && path != ":memory:" && !rest.contains("mode=memory") {
        private_file(std::path::Path::new(path))
            .map_err(|e| StoreError::Config(format!("cannot create the SQLite file {path}: {e}")))?;
    }
    if rest.contains("mode=") {
        return Ok(raw.to_string());
    }
    Ok(with_query_param(raw, "mode", if read_only { "ro" } else { "rwc" }))
}

/// Creates `dir` (and missing parents) readable by the owner only (0700). Existing directories are left alone.
fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes the database file (and its WAL and shared-memory files when present) the owner's only (0600): created
/// so when missing, tightened when an older walletd left it world-readable. SQLite gives the `-wal` and `-shm`
/// files it creates later the database file's permissions.
fn private_file(file: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .append(true)
            .mode(0o600)
            .open(file)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = file.as_os_str().to_owned();
            p.push(suffix);
            match std::fs::metadata(&p) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?
                }
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

fn with_query_param(url: &str, key: &str, value: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={encoded}")
}

/// sqlx may echo the URL in parse errors; never let a password through.
fn redact(message: &str, raw_url: &str) -> String {
    match url::Url::parse(raw_url)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
    {
        Some(pw) if !pw.is_empty() => message.replace(&pw, "[redacted]"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_a_create_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/w.db");
        let url = format!("sqlite://{}", p.display());
        assert_eq!(sqlite_url(&url, false).unwrap(), format!("{url}?mode=rwc"));
        assert!(p.parent().unwrap().is_dir());
        #[cfg(unix)]
        {
            // Regression: the directory and the database file were created world-readable.
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(p.parent().unwrap()), 0o700);
            assert_eq!(mode(p.parent().unwrap().parent().unwrap()), 0o700);
            assert_eq!(mode(&p), 0o600);
            // A file an older version left at 0644 is tightened.
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            sqlite_url(&url, false).unwrap();
            assert_eq!(mode(&p), 0o600);
        }
        assert_eq!(sqlite_url(&url, true).unwrap(), format!("{url}?mode=ro"));
        assert_eq!(
            sqlite_url("sqlite://x.db?mode=memory", false).unwrap(),
            "sqlite://x.db?mode=memory"
        );
        assert!(sqlite_url("sqlite://", false).is_err());
    }

    #[test]
    fn passwords_are_redacted_from_messages() {
        assert_eq!(
            redact("bad url postgres://u:pw1@h/db", "postgres://u:pw1@h/db"),
            "bad url postgres://u:[redacted]@h/db"
        );
    }
}
