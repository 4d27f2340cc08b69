//! The physical reference: a trivial axum handler running the storage role's SQL (the same statement texts:
//! `walletd_db::{NEXT_SEQ_SQL, blob_write_sql, ADJUST_COUNTERS_SQL}` in one transaction on SQLite, the single
//! statement `blob_put_single_sql` on PostgreSQL, `blob_get_sql` for reads) on sqlx's concrete SQLite or
//! PostgreSQL driver, with no authentication, tenant lookup, limits, quota check or middleware. The schema is
//! walletd's (its migrations run first), the SQLite settings are walletd's (WAL, `synchronous = FULL`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use walletd_db::{
    ADJUST_COUNTERS_SQL, ENSURE_USER_SQL, NEXT_SEQ_SQL, WriteCondition, blob_get_sql, blob_put_single_sql,
    blob_write_sql,
};

/// The tenant and user every baseline request acts for.
const TENANT: &str = "default";
const USER: &str = "bench-user";

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Deserialize)]
struct PutBody {
    data: String,
}

/// Runs the baseline server on 127.0.0.1 (an OS-chosen port) until the process is stopped; prints
/// `listening http://127.0.0.1:<port>` once it accepts connections.
pub async fn serve(db_url: &str, max_connections: u32) -> Result<(), String> {
    // walletd's migrations (and its SQLite file creation) first, through walletd's own store.
    let mut cfg = walletd_common::config::DatabaseConfig::with_url(db_url);
    cfg.max_connections = 1;
    let store = walletd_db::Store::connect(&cfg).await.map_err(|e| e.to_string())?;
    store.close().await;
    let pool = if db_url.starts_with("sqlite:") {
        let opts = SqliteConnectOptions::from_str(db_url)
            .map_err(|e| e.to_string())?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        Pool::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(opts)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        Pool::Postgres(
            PgPoolOptions::new()
                .max_connections(max_connections)
                .connect(db_url)
                .await
                .map_err(|e| e.to_string())?,
        )
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/storage/credentials/{id}", get(get_blob).put(put_blob))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening http://{addr}");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

fn fail(e: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

async fn put_blob(State(pool): State<Pool>, Path(id): Path<String>, body: Bytes) -> Response {
    let Ok(parsed) = serde_json::from_slice::<PutBody>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(data) = URL_SAFE_NO_PAD.decode(parsed.data.as_bytes()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let write = blob_write_sql(&WriteCondition::Always);
    let now = walletd_db::now_millis();
    let size = data.len() as i64;
    // The same three statements in one transaction as the storage role's write (sequence, CAS write, counters).
    macro_rules! write_tx {
        ($pool:expr) => {{
            let mut tx = match $pool.begin().await {
                Ok(tx) => tx,
                Err(e) => return fail(e),
            };
            let seq: i64 = match sqlx::query_scalar(NEXT_SEQ_SQL)
                .bind(TENANT)
                .bind(USER)
                .fetch_one(&mut *tx)
                .await
            {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let row = match sqlx::query(sqlx::AssertSqlSafe(write))
                .bind(TENANT)
                .bind(USER)
                .bind(&id)
                .bind(&data)
                .bind(size)
                .bind("digest")
                .bind(None::<String>)
                .bind(now)
                .bind(seq)
                .fetch_one(&mut *tx)
                .await
            {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            let version: i64 = row.get(0);
            let prev_size: i64 = row.get(1);
            let was_deleted = row.get::<i64, _>(2) != 0;
            let (dc, db) = if was_deleted {
                (1i64, size)
            } else {
                (0, size - prev_size)
            };
            if let Err(e) = sqlx::query(ADJUST_COUNTERS_SQL)
                .bind(TENANT)
                .bind(USER)
                .bind(dc)
                .bind(db)
                .fetch_one(&mut *tx)
                .await
            {
                return fail(e);
            }
            if let Err(e) = tx.commit().await {
                return fail(e);
            }
            (version, was_deleted)
        }};
    }
    let (version, created) = match &pool {
        Pool::Sqlite(p) => write_tx!(p),
        Pool::Postgres(p) => match put_single(p, &id, &data).await {
            Ok(v) => v,
            Err(e) => return fail(e),
        },
    };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    (status, axum::Json(serde_json::json!({"id": id, "version": version}))).into_response()
}

/// PostgreSQL: walletd's single-statement write (`blob_put_single_sql`), creating the user's sequence row on the
/// first write as walletd does.
async fn put_single(pool: &PgPool, id: &str, data: &[u8]) -> Result<(i64, bool), sqlx::Error> {
    let sql = blob_put_single_sql(&WriteCondition::Always).unwrap_or_default();
    for _ in 0..2 {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(TENANT)
            .bind(USER)
            .bind(id)
            .bind(data)
            .bind(data.len() as i64)
            .bind("digest")
            .bind(None::<String>)
            .bind(walletd_db::now_millis())
            .bind(i64::MAX)
            .bind(i64::MAX)
            .fetch_one(pool)
            .await?;
        if row.get::<Option<i64>, _>(0).is_none() {
            sqlx::query(ENSURE_USER_SQL)
                .bind(TENANT)
                .bind(USER)
                .execute(pool)
                .await?;
            continue;
        }
        let version: Option<i64> = row.get(1);
        let prev_deleted: Option<i64> = row.get(2);
        return Ok((version.unwrap_or(0), prev_deleted.unwrap_or(0) != 0));
    }
    Err(sqlx::Error::RowNotFound)
}

async fn get_blob(State(pool): State<Pool>, Path(id): Path<String>) -> Response {
    let sql = blob_get_sql(true);
    macro_rules! read {
        ($pool:expr) => {{
            match sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(TENANT)
                .bind(USER)
                .bind(&id)
                .fetch_optional($pool)
                .await
            {
                Ok(Some(r)) => serde_json::json!({
                    "id": r.get::<String, _>(0),
                    "version": r.get::<i64, _>(1),
                    "data": URL_SAFE_NO_PAD.encode(r.get::<Vec<u8>, _>(8)),
                    "content_type": r.get::<Option<String>, _>(6),
                    "updated_at": r.get::<i64, _>(7),
                }),
                Ok(None) => return StatusCode::NOT_FOUND.into_response(),
                Err(e) => return fail(e),
            }
        }};
    }
    let v = match &pool {
        Pool::Sqlite(p) => read!(p),
        Pool::Postgres(p) => read!(p),
    };
    axum::Json(v).into_response()
}

/// A running baseline process, stopped on drop.
pub struct Baseline {
    child: Child,
    pub url: String,
}

impl Baseline {
    /// Starts `bin` on `db_url` and waits (at most 30 s) for its `listening` line.
    pub fn start(bin: &std::path::Path, db_url: &str, max_connections: u32) -> Result<Baseline, String> {
        let mut child = Command::new(bin)
            .arg(db_url)
            .arg(max_connections.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(l)) = lines.next() {
                let _ = tx.send(l);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                crate::sys::stop_child(&mut child);
                return Err("the baseline did not start within 30 s".into());
            }
        };
        let url = line
            .strip_prefix("listening ")
            .ok_or_else(|| format!("unexpected baseline output: {line}"))?
            .to_string();
        Ok(Baseline { child, url })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        crate::sys::stop_child(&mut self.child);
    }
}
