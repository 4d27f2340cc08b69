//! The HTTP comparisons of the suite: each pits walletd against its reference (`/healthz` of the same process or
//! the baseline binary) under the same wrk load, in interleaved rounds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use tokio::signal::unix::{Signal, SignalKind, signal};
use walletd_testkit::vctm::{Upstream, png};
use walletd_testkit::{Config, TestDatabase, Walletd, WalletdBuilder};

use crate::baseline::Baseline;
use crate::report::Row;
use crate::sys;
use crate::wrk::{Figures, Load, Wrk};

/// Settings every comparison shares.
pub struct Settings {
    pub secs: u64,
    pub rounds: usize,
    pub connections: usize,
    /// Distinct blob ids the GET runs read and the PUT runs write.
    pub blobs: usize,
    pub walletd: PathBuf,
    pub baseline: PathBuf,
}

/// The tenant user of every walletd request (the baseline uses the same ids).
pub const USER: &str = "bench-user";
/// The user of the bearer case: it never writes, so its change feed stays empty.
pub const EMPTY_FEED_USER: &str = "bench-empty-feed";

/// walletd's configuration for the HTTP comparisons: rate limits and quotas out of reach (the load comes from one
/// address and one user), access logs off.
pub fn walletd_config(db_url: &str) -> Config {
    Config::new()
        .mode("all")
        .database(db_url)
        .egress_loopback()
        .limit("auth.rate_limit_per_ip", 0)
        .limit("auth.rate_limit_per_credential", 0)
        .limit("rate_limits.storage_writes_per_user", 0)
        .limit("storage.max_blobs_per_user", 1_000_000)
        .limit("storage.max_bytes_per_user", 10_000_000_000u64)
}

/// Starts walletd from `bin` with `config`, access logs off ([`walletd_testkit::QUIET_LOG_FILTER`]).
pub async fn start_walletd(bin: &Path, config: &Config) -> Result<Walletd, String> {
    WalletdBuilder::new(bin)
        .with_config(config)
        .env("RUST_LOG", walletd_testkit::QUIET_LOG_FILTER)
        .spawn()
        .await
}

/// Runs `a` and `b` in `rounds` interleaved pairs (ABBA order), after one short warm-up of each, and returns a
/// row with the medians and the median of the per-round ratios a/b.
pub async fn compare(wrk: &Arc<Wrk>, s: &Settings, name: &str, target: Option<f64>, a: Load, b: Load) -> Row {
    let mut fa = Vec::new();
    let mut fb = Vec::new();
    let mut loads = Vec::new();
    let _ = run(wrk, &a, 1).await;
    let _ = run(wrk, &b, 1).await;
    for round in 0..s.rounds {
        loads.push(sys::load1());
        let (x, y) = if round % 2 == 0 {
            let x = run(wrk, &a, s.secs).await;
            (x, run(wrk, &b, s.secs).await)
        } else {
            let y = run(wrk, &b, s.secs).await;
            (run(wrk, &a, s.secs).await, y)
        };
        fa.push(x);
        fb.push(y);
    }
    loads.push(sys::load1());
    Row::from_rounds(name, target, &fa, &fb, &loads, a.connections)
}

async fn run(wrk: &Arc<Wrk>, load: &Load, secs: u64) -> Figures {
    let (wrk, load) = (wrk.clone(), load.clone());
    match tokio::task::spawn_blocking(move || wrk.run(&load, secs)).await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            eprintln!("wrk failed: {e}");
            Figures::default()
        }
        Err(e) => {
            eprintln!("wrk task failed: {e}");
            Figures::default()
        }
    }
}

fn load(url: String, kind: &'static str, token: Option<&str>, s: &Settings) -> Load {
    Load {
        url,
        kind,
        token: token.map(str::to_string),
        blobs: s.blobs,
        mix: Vec::new(),
        connections: s.connections,
    }
}

/// Writes the blobs `g0..g{n-1}` (1 KiB each) the GET runs read.
pub async fn populate(base: &str, token: Option<&str>, n: usize) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let data = "A".repeat(1368);
    for i in 0..n {
        let mut req = http
            .put(format!("{base}/storage/credentials/g{i}"))
            .json(&json!({"data": data}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!(
                "populating g{i}: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Bearer GET vs `/healthz`, then storage PUT and GET vs the baseline, on one database kind.
pub async fn storage(wrk: &Arc<Wrk>, s: &Settings, kind: &str) -> Result<Vec<Row>, String> {
    let (db, base_db) = match kind {
        "sqlite" => (TestDatabase::sqlite(), TestDatabase::sqlite()),
        _ => (TestDatabase::postgres().await, TestDatabase::postgres().await),
    };
    let w = start_walletd(&s.walletd, &walletd_config(db.url())).await?;
    let token = w.token_for(USER, "default");
    let empty_feed_token = w.token_for(EMPTY_FEED_USER, "default");
    let baseline = Baseline::start(&s.baseline, base_db.url(), 10)?;
    let url = w.http_url();
    populate(&url, Some(&token), s.blobs).await?;
    populate(&baseline.url, None, s.blobs).await?;
    let mut rows = Vec::new();
    if kind == "sqlite" {
        rows.push(
            compare(
                wrk,
                s,
                "bearer GET /storage/sync vs /healthz (walletd, same process)",
                Some(0.8),
                // A user of its own: the populated user's feed would answer a page of blobs per request, and the
                // row would measure the feed instead of what a bearer request costs.
                load(format!("{url}/storage/sync"), "fixed", Some(&empty_feed_token), s),
                load(format!("{url}/healthz"), "fixed", None, s),
            )
            .await,
        );
    }
    rows.push(
        compare(
            wrk,
            s,
            &format!("storage PUT 1 KiB vs baseline ({kind})"),
            Some(0.7),
            load(url.clone(), "put-blob", Some(&token), s),
            load(baseline.url.clone(), "put-blob", None, s),
        )
        .await,
    );
    rows.push(
        compare(
            wrk,
            s,
            &format!("storage GET 1 KiB vs baseline ({kind})"),
            Some(0.7),
            load(url.clone(), "get-blob", Some(&token), s),
            load(baseline.url.clone(), "get-blob", None, s),
        )
        .await,
    );
    drop(baseline);
    drop(w);
    Ok(rows)
}

/// The pool-size sweep (`walletd-bench pool`): storage PUT and GET of walletd with `database.max_connections` set
/// to each of `sizes`, each against walletd with the default pool (10), interleaved like every comparison. The
/// default is what the sweep says; docs/performance.md "Connection pool" has the figures.
pub async fn pool(wrk: &Arc<Wrk>, s: &Settings, kind: &str, sizes: &[u32]) -> Result<Vec<Row>, String> {
    let default = walletd_common::config::DatabaseConfig::with_url("").max_connections;
    let start = |size: u32| async move {
        let db = match kind {
            "sqlite" => TestDatabase::sqlite(),
            _ => TestDatabase::postgres().await,
        };
        let config = walletd_config(db.url()).limit("database.max_connections", size);
        let w = start_walletd(&s.walletd, &config).await?;
        let token = w.token_for(USER, "default");
        populate(&w.http_url(), Some(&token), s.blobs).await?;
        Ok::<_, String>((db, w, token))
    };
    let (_reference_db, reference, reference_token) = start(default).await?;
    let mut rows = Vec::new();
    for &size in sizes.iter().filter(|&&n| n != default) {
        let (_db, w, token) = start(size).await?;
        for (what, kind_of_load) in [("PUT", "put-blob"), ("GET", "get-blob")] {
            rows.push(
                compare(
                    wrk,
                    s,
                    &format!("storage {what} 1 KiB ({kind}): pool of {size} vs {default}"),
                    None,
                    load(w.http_url(), kind_of_load, Some(&token), s),
                    load(reference.http_url(), kind_of_load, Some(&reference_token), s),
                )
                .await,
            );
        }
    }
    Ok(rows)
}

/// A loopback upstream with a two-level `extends` chain and a 512-byte PNG logo; returns the child type's vct.
pub async fn vctm_upstream() -> String {
    let up = Upstream::start().await;
    let base = up.base.clone();
    up.put_json(
        "vct/parent",
        &json!({"vct": format!("{base}/vct/parent"), "name": "Parent",
                "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}]}),
    );
    up.put_json(
        "vct/child",
        &json!({"vct": format!("{base}/vct/child"), "name": "Child", "extends": format!("{base}/vct/parent"),
                "display": [{"locale": "en", "name": "Child",
                             "rendering": {"simple": {"logo": {"uri": format!("{base}/logo.png")}}}}]}),
    );
    up.put("logo.png", "image/png", png(512, 0), None);
    // The upstream's server task keeps serving as long as the runtime lives.
    format!("{base}/vct/child")
}

/// Cached `GET /type-metadata` vs `/healthz` of one `--mode=registry` process.
pub async fn registry(wrk: &Arc<Wrk>, s: &Settings) -> Result<Row, String> {
    let (w, tm, _) = warmed_registry(s).await?;
    Ok(compare(
        wrk,
        s,
        "cached GET /type-metadata vs /healthz (--mode=registry)",
        Some(0.8),
        load(tm.to_string(), "fixed", None, s),
        load(format!("{}/healthz", w.http_url()), "fixed", None, s),
    )
    .await)
}

/// `walletd-bench serve`: one walletd as the HTTP comparisons start it (populated, tokens minted), kept up for
/// `secs` seconds so a profiler (`perf record -p PID`) or a hand-run wrk can be pointed at it. Prints the pid, the
/// URL and the tokens as shell assignments.
pub async fn serve(s: &Settings, kind: &str, secs: u64) -> Result<(), String> {
    let stop = StopSignals::listen();
    if kind == "registry" {
        return serve_registry(s, secs, stop).await;
    }
    let db = match kind {
        "sqlite" => TestDatabase::sqlite(),
        _ => TestDatabase::postgres().await,
    };
    let w = start_walletd(&s.walletd, &walletd_config(db.url())).await?;
    let token = w.token_for(USER, "default");
    let empty = w.token_for(EMPTY_FEED_USER, "default");
    let url = w.http_url();
    populate(&url, Some(&token), s.blobs).await?;
    println!(
        "WALLETD_PID={}\nWALLETD_URL={url}\nWB_TOKEN={token}\nWB_EMPTY_FEED_TOKEN={empty}",
        w.pid()
    );
    println!(
        "# up for {secs} s; e.g. WB_KIND=fixed WB_AUTH=$WB_EMPTY_FEED_TOKEN wrk -t2 -c16 -d10s -s crates/bench/lua/walletd.lua $WALLETD_URL/storage/sync"
    );
    stop.or_after(secs).await;
    drop(w);
    Ok(())
}

/// SIGINT and SIGTERM, listened for from the start of `serve`: a signal sent as soon as the pid is printed must not
/// meet the default action, which would end this process and leave its walletd running.
struct StopSignals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl StopSignals {
    fn listen() -> StopSignals {
        StopSignals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Waits `secs` seconds, or less when a signal comes first (`serve` is usually ended by hand; the caller then
    /// drops its walletd, which kills it).
    async fn or_after(mut self, secs: u64) {
        async fn next(s: &mut Option<Signal>) {
            match s {
                Some(s) => drop(s.recv().await),
                // No handler could be installed: only the other signal and the time limit end the wait.
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(secs)) => {}
            () = next(&mut self.interrupt) => println!("# interrupted: stopping"),
            () = next(&mut self.terminate) => println!("# terminated: stopping"),
        }
    }
}

/// `walletd-bench serve --db registry`: the `/type-metadata` case's `--mode=registry` process, warmed up.
async fn serve_registry(s: &Settings, secs: u64, stop: StopSignals) -> Result<(), String> {
    let (w, tm, bytes) = warmed_registry(s).await?;
    println!(
        "WALLETD_PID={}\nWALLETD_URL={}\nWB_TYPE_METADATA_URL='{tm}'",
        w.pid(),
        w.http_url()
    );
    println!(
        "# up for {secs} s; the cached answer is {bytes} bytes; e.g. wrk -t2 -c16 -d10s \"$WB_TYPE_METADATA_URL\""
    );
    stop.or_after(secs).await;
    drop(w);
    Ok(())
}

/// The `/type-metadata` case's `--mode=registry` process (a two-level `extends` chain with an embedded logo from a
/// loopback upstream) with its answer already cached: the process, the URL that asks for it, the answer's size.
async fn warmed_registry(s: &Settings) -> Result<(Walletd, url::Url, usize), String> {
    let vct = vctm_upstream().await;
    let config = Config::new()
        .mode("registry")
        .egress_loopback()
        .database("sqlite://./registry.db");
    let w = start_walletd(&s.walletd, &config).await?;
    let tm = url::Url::parse_with_params(&format!("{}/type-metadata", w.http_url()), &[("vct", vct)])
        .map_err(|e| e.to_string())?;
    let warm = reqwest::get(tm.clone()).await.map_err(|e| e.to_string())?;
    if !warm.status().is_success() {
        return Err(format!("type-metadata warm-up: {}", warm.status()));
    }
    let bytes = warm.bytes().await.map_err(|e| e.to_string())?.len();
    Ok((w, tm, bytes))
}
