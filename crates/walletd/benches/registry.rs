//! Cached `GET /type-metadata` throughput next to a trivial handler (`GET /healthz`) of the same process, same run.
//!
//! Run: `cargo bench -p walletd --bench registry` (optional argument: seconds per measurement, default 5).
//! Starts `walletd --mode=registry` (release build, access logs off) with a loopback upstream serving a two-level
//! `extends` chain with an embedded logo, warms the cache, then drives each route with 32 concurrent keep-alive
//! clients for the same fixed time and prints requests/s and the ratio (target >= 0.7).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use walletd_testkit::vctm::{Upstream, png};
use walletd_testkit::{Config, WalletdBuilder};

const CONCURRENCY: usize = 32;

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5)
        .clamp(1, 60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let upstream = upstream().await;
        let w = WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
            .with_config(
                &Config::new()
                    .mode("registry")
                    .egress_loopback()
                    .database("sqlite://./registry.db"),
            )
            .env("RUST_LOG", walletd_testkit::QUIET_LOG_FILTER)
            .spawn()
            .await
            .unwrap();
        let vct = format!("{upstream}/vct/child");
        let tm = url::Url::parse_with_params(&format!("{}/type-metadata", w.http_url()), &[("vct", vct)]).unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let warm = client.get(tm.clone()).send().await.unwrap();
        assert_eq!(warm.status(), 200, "{}", warm.text().await.unwrap());
        let size = client
            .get(tm.clone())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
        let healthz = url::Url::parse(&format!("{}/healthz", w.http_url())).unwrap();
        let trivial = measure(&client, healthz.clone(), secs).await;
        let cached = measure(&client, tm.clone(), secs).await;
        let trivial2 = measure(&client, healthz, secs).await;
        let trivial = (trivial + trivial2) / 2.0;
        println!("walletd --mode=registry, {CONCURRENCY} keep-alive clients, {secs} s per measurement");
        println!("trivial handler GET /healthz: {trivial:.0} req/s (mean of a run before and after)");
        println!("cached GET /type-metadata ({size} bytes, extends chain + embedded logo): {cached:.0} req/s");
        println!("ratio: {:.2}x (target >= 0.70)", cached / trivial);
    });
}

/// Requests per second against `url` for `secs` seconds.
async fn measure(client: &reqwest::Client, url: url::Url, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, done, stop) = (client.clone(), url.clone(), done.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let r = client.get(url.clone()).send().await.unwrap();
                    assert!(r.status().is_success());
                    r.bytes().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// A loopback upstream with a parent type, a child extending it, and a small PNG logo. It lives as long as the
/// runtime.
async fn upstream() -> String {
    let up = Upstream::start().await;
    let base = up.base.clone();
    up.put_json(
        "vct/parent",
        &json!({"vct": format!("{base}/vct/parent"), "name": "Parent", "description": "base",
                "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}]}),
    );
    up.put_json(
        "vct/child",
        &json!({"vct": format!("{base}/vct/child"), "name": "Child", "extends": format!("{base}/vct/parent"),
                "display": [{"locale": "en", "name": "Child",
                             "rendering": {"simple": {"logo": {"uri": format!("{base}/logo.png")}}}}]}),
    );
    up.put("logo.png", "image/png", png(512, 0), None);
    base
}
