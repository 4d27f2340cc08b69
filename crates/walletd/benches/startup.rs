//! Start-up time of `walletd --mode=all` until ready, with an existing SQLite file and signing key.
//!
//! Run: `cargo bench -p walletd --bench startup` (optional argument: number of runs, default 20).
//! Each run spawns the release binary, waits for its `started` log line (every listener bound, migrations checked,
//! key loaded), then for a 200 from `/readyz` (database answered), then stops it with SIGTERM. The first run
//! creates the database and key and is reported apart ("cold").

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::{Duration, Instant};

struct Sample {
    started: Duration,
    ready: Duration,
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20)
        .clamp(1, 1000);
    let dir = tempfile::tempdir().expect("temp dir");
    let cold = run_once(dir.path());
    let mut samples: Vec<Sample> = (0..runs).map(|_| run_once(dir.path())).collect();

    println!("walletd --mode=all start-up (SQLite, release build), {runs} warm runs");
    println!(
        "cold (creates DB + key): started {:.1} ms, ready {:.1} ms",
        ms(cold.started),
        ms(cold.ready)
    );
    samples.sort_by_key(|s| s.ready);
    let ready: Vec<Duration> = samples.iter().map(|s| s.ready).collect();
    let mut started: Vec<Duration> = samples.iter().map(|s| s.started).collect();
    started.sort();
    println!(
        "started line: min {:.1} ms, median {:.1} ms, p95 {:.1} ms",
        ms(started[0]),
        ms(pct(&started, 50)),
        ms(pct(&started, 95))
    );
    println!(
        "ready (/readyz 200): min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms (target < 300 ms)",
        ms(ready[0]),
        ms(pct(&ready, 50)),
        ms(pct(&ready, 95)),
        ms(ready[ready.len() - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: usize) -> Duration {
    sorted[((sorted.len() - 1) * p) / 100]
}

fn run_once(dir: &std::path::Path) -> Sample {
    let t0 = Instant::now();
    let mut child = walletd_testkit::start_up_command(std::path::Path::new(env!("CARGO_BIN_EXE_walletd")), dir)
        .spawn()
        .expect("spawn walletd");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("walletd exited before starting").expect("read log");
        let v: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if v["message"] == "started" {
            break v["http"].as_str().expect("http address").to_string();
        }
    };
    let started = t0.elapsed();
    while !walletd_testkit::readyz_ok(&addr) {
        assert!(t0.elapsed() < Duration::from_secs(30), "not ready within 30 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    let ready_at = t0.elapsed();
    stop(&mut child);
    // Drain the rest of the log so the child never blocks on a full pipe.
    for _ in lines {}
    Sample {
        started,
        ready: ready_at,
    }
}

fn stop(child: &mut Child) {
    // SIGTERM (a graceful stop, as an operator would send) through kill(1): the workspace forbids `unsafe`, and the
    // pid is our own child, not yet reaped, so it names no other process.
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}
