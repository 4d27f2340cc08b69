//! Storage throughput: PUT / GET / sync through `StorageService` for 1 KiB and 64 KiB blobs on SQLite and
//! PostgreSQL, next to the same run's raw single-row INSERT and SELECT through the same driver (sqlx `Any`, same
//! pool settings) as the physical reference.
//!
//! `cargo bench -p walletd-storage --bench storage` (PostgreSQL from `WALLETD_TEST_PG_URL` or the local server).
//! Each phase runs `WALLETD_BENCH_SECS` seconds (default 2) with `WALLETD_BENCH_TASKS` concurrent tasks (default
//! 8), so a whole run takes about 2 × 2 × 5 phases × 2 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use walletd_common::config::{DatabaseConfig, StorageConfig};
use walletd_db::{Dialect, Store};
use walletd_storage::{Owner, Precondition, StorageService};
use walletd_testkit::TestDatabase;

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `op(task, i)` on `tasks` tasks until `secs` pass; returns completed operations per second.
async fn run<F, Fut>(tasks: u64, secs: Duration, op: F) -> f64
where
    F: Fn(u64, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (op, done) = (op.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while started.elapsed() < secs {
                    op(t, i).await;
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("bench task");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

struct Row {
    db: &'static str,
    size: usize,
    what: &'static str,
    per_sec: f64,
}

async fn bench_db(db: TestDatabase, tasks: u64, secs: Duration, out: &mut Vec<Row>) {
    let mut cfg = DatabaseConfig::with_url(db.url());
    cfg.max_connections = 10;
    let store = Store::connect(&cfg).await.expect("connect");
    let kind = db.kind();
    let storage_cfg = StorageConfig {
        max_blobs_per_user: 10_000_000,
        max_bytes_per_user: u64::MAX / 2,
        ..StorageConfig::default()
    };
    let svc = StorageService::new(store.clone(), storage_cfg);
    let blob_type = if store.dialect() == Dialect::Postgres {
        "BYTEA"
    } else {
        "BLOB"
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE bench_raw (k TEXT PRIMARY KEY NOT NULL, v {blob_type} NOT NULL)"
    )))
    .execute(store.pool())
    .await
    .expect("raw table");

    for size in [1024usize, 64 * 1024] {
        let data: Arc<Vec<u8>> = Arc::new((0..size).map(|i| (i * 31 % 251) as u8).collect());
        let tag = format!("s{size}");

        // Reference: one autocommitted INSERT per row, then primary-key SELECTs.
        let (st, d, t2) = (store.clone(), data.clone(), tag.clone());
        let raw_insert = run(tasks, secs, move |t, i| {
            let (st, d, k) = (st.clone(), d.clone(), format!("{t2}-{t}-{i}"));
            async move {
                sqlx::query("INSERT INTO bench_raw (k, v) VALUES ($1, $2)")
                    .bind(k)
                    .bind(&d[..])
                    .execute(st.pool())
                    .await
                    .expect("raw insert");
            }
        })
        .await;
        // Reads go to 50 rows per task written beforehand (untimed), so every read hits.
        for t in 0..tasks {
            for j in 0..50 {
                sqlx::query("INSERT INTO bench_raw (k, v) VALUES ($1, $2)")
                    .bind(format!("{tag}-g{t}-{j}"))
                    .bind(&data[..])
                    .execute(store.pool())
                    .await
                    .expect("raw prefill");
                let owner = Owner::new("default", format!("{tag}-u{t}"));
                svc.put(&owner, &format!("g{j}"), data.to_vec(), None, Precondition::None)
                    .await
                    .expect("prefill");
            }
        }
        let (st, t2) = (store.clone(), tag.clone());
        let raw_select = run(tasks, secs, move |t, i| {
            let (st, k) = (st.clone(), format!("{t2}-g{t}-{}", i % 50));
            async move {
                let v: Vec<u8> = sqlx::query_scalar("SELECT v FROM bench_raw WHERE k = $1")
                    .bind(k)
                    .fetch_one(st.pool())
                    .await
                    .expect("raw select");
                assert!(!v.is_empty());
            }
        })
        .await;

        // The service: one user per task (a user's writes serialise on its sequence counter by design).
        let (s, d, t2) = (svc.clone(), data.clone(), tag.clone());
        let put = run(tasks, secs, move |t, i| {
            let (s, d) = (s.clone(), d.clone());
            let (owner, id) = (Owner::new("default", format!("{t2}-u{t}")), format!("b{i}"));
            async move {
                s.put(&owner, &id, d.to_vec(), None, Precondition::None)
                    .await
                    .expect("put");
            }
        })
        .await;
        let (s, t2) = (svc.clone(), tag.clone());
        let get = run(tasks, secs, move |t, i| {
            let s = s.clone();
            let (owner, id) = (Owner::new("default", format!("{t2}-u{t}")), format!("g{}", i % 50));
            async move {
                s.get(&owner, &id).await.expect("get");
            }
        })
        .await;
        // The same read straight through the repository: separates SQL cost from service overhead.
        let (st, t2) = (store.clone(), tag.clone());
        let get_repo = run(tasks, secs, move |t, i| {
            let st = st.clone();
            let (user, id) = (format!("{t2}-u{t}"), format!("g{}", i % 50));
            async move {
                let owner = walletd_db::BlobOwner {
                    tenant_id: "default",
                    user_id: &user,
                };
                st.blob_get(owner, &id, true).await.expect("get").expect("present");
            }
        })
        .await;
        // Sync: each task reads its user's whole feed from the start in pages of 100; counts changes delivered.
        let delivered = Arc::new(AtomicU64::new(0));
        let (s, t2, dl) = (svc.clone(), tag.clone(), delivered.clone());
        let started = Instant::now();
        let _pages = run(tasks, secs, move |t, _| {
            let (s, dl) = (s.clone(), dl.clone());
            let owner = Owner::new("default", format!("{t2}-u{t}"));
            async move {
                let mut cursor = String::new();
                loop {
                    let page = s.sync(&owner, Some(&cursor), Some(100)).await.expect("sync");
                    dl.fetch_add(page.changes.len() as u64, Ordering::Relaxed);
                    cursor = page.cursor;
                    if !page.has_more || started.elapsed() > secs {
                        break;
                    }
                }
            }
        })
        .await;
        let sync = delivered.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();

        for (what, per_sec) in [
            ("raw INSERT (reference)", raw_insert),
            ("PUT (service)", put),
            ("raw SELECT (reference)", raw_select),
            ("GET (service)", get),
            ("GET (repository only)", get_repo),
            ("sync (changes/s)", sync),
        ] {
            out.push(Row {
                db: kind,
                size,
                what,
                per_sec,
            });
        }
    }
    store.close().await;
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let tasks = env_u64("WALLETD_BENCH_TASKS", 8);
    let secs = Duration::from_secs(env_u64("WALLETD_BENCH_SECS", 2));
    let mut rows = Vec::new();
    bench_db(TestDatabase::sqlite(), tasks, secs, &mut rows).await;
    bench_db(TestDatabase::postgres().await, tasks, secs, &mut rows).await;
    println!(
        "storage throughput: {tasks} concurrent tasks, {} s per phase",
        secs.as_secs()
    );
    println!("| database | blob | operation | ops/s | MiB/s |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let mib = r.per_sec * r.size as f64 / (1024.0 * 1024.0);
        println!(
            "| {} | {} KiB | {} | {:.0} | {:.1} |",
            r.db,
            r.size / 1024,
            r.what,
            r.per_sec,
            mib
        );
    }
}
