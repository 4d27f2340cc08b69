//! Start-up time: `walletd --mode=all` on an existing SQLite file, and beside it, interleaved start by start, the
//! trivial axum+sqlx baseline on its own SQLite file, so a loaded machine slows both alike.
//!
//! Each start is timed from spawning the process to the status line of its first answer that needed the database:
//! walletd's `/readyz` 200 (its readiness checks ask the database), the baseline's answer to a blob `GET` (a
//! primary-key read; 404 for the probe's id). The baseline does less on the way (no key rings, registry, routes of
//! six roles), which is what the ratio shows.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::report::{Row, load_range};
use crate::sys;

/// The start-up goal (issue 18), in milliseconds.
pub const GOAL_MS: f64 = 20.0;

/// How long one start may take before the run fails.
const START_LIMIT: Duration = Duration::from_secs(30);

/// `runs` warm starts of each binary (after one cold start each, which creates the databases and keys), taken in
/// turns. Two rows: walletd against the 20 ms goal, and walletd against the baseline.
pub fn startup(walletd: &Path, baseline: &Path, runs: usize) -> Result<Vec<Row>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let baseline_db = format!("sqlite://{}", dir.path().join("baseline.db").display());
    let load_before = sys::load1();
    start_walletd(walletd, dir.path())?;
    start_baseline(baseline, &baseline_db)?;
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let a = start_walletd(walletd, dir.path())?;
        let b = start_baseline(baseline, &baseline_db)?;
        ours.push(a);
        theirs.push(b);
        ratios.push(a / b);
    }
    let load = load_range(&[load_before, sys::load1()]);
    let (a, b) = (median(&mut ours), median(&mut theirs));
    let spread = |v: &[f64]| format!("min {:.1} ms, max {:.1} ms", v[0], v[v.len() - 1]);
    let goal = Row {
        name: format!("start-up to /readyz 200, --mode=all, SQLite (median of {runs} warm starts) vs 20 ms goal"),
        a,
        b: GOAL_MS,
        unit: "ms",
        ratio: a / GOAL_MS,
        target: None,
        latency: format!(
            "{}; goal < 20 ms: {}",
            spread(&ours),
            if a < GOAL_MS { "met" } else { "NOT met" }
        ),
        load: load.clone(),
        errors: 0,
        rounds: runs,
        concurrency: 1,
    };
    let versus = Row {
        name: format!(
            "start-up to the first database-backed answer: walletd --mode=all vs the axum+sqlx baseline (SQLite, \
             {runs} starts each, in turns)"
        ),
        a,
        b,
        unit: "ms",
        ratio: median(&mut ratios),
        target: None,
        latency: format!("walletd {}; baseline {}", spread(&ours), spread(&theirs)),
        load,
        errors: 0,
        rounds: runs,
        concurrency: 1,
    };
    Ok(vec![goal, versus])
}

/// Sorts `v` and answers its median.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One walletd start: milliseconds from spawn to the status line of the first `/readyz` 200.
fn start_walletd(bin: &Path, dir: &Path) -> Result<f64, String> {
    let t0 = Instant::now();
    let mut child = walletd_testkit::start_up_command(bin, dir)
        .spawn()
        .map_err(|e| format!("spawn walletd: {e}"))?;
    let addr = first_line(&mut child, START_LIMIT, |line| {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        (v["message"] == "started").then(|| v["http"].as_str().unwrap_or_default().to_string())
    });
    let ready = addr.and_then(|addr| poll(t0, || walletd_testkit::readyz_ok(&addr)));
    sys::stop_child(&mut child);
    ready.ok_or_else(|| "walletd did not start and answer /readyz 200 within 30 s".to_string())
}

/// One baseline start: milliseconds from spawn to the status line of its first answer to a blob `GET`.
fn start_baseline(bin: &Path, db_url: &str) -> Result<f64, String> {
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .arg(db_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn the baseline: {e}"))?;
    let addr = first_line(&mut child, START_LIMIT, |line| {
        line.strip_prefix("listening http://").map(str::to_string)
    });
    let answered = addr.and_then(|addr| {
        poll(t0, || {
            walletd_testkit::status_line_starts(&addr, "/storage/credentials/startup-probe", b"HTTP/1.1 ")
        })
    });
    sys::stop_child(&mut child);
    answered.ok_or_else(|| "the baseline did not start and answer within 30 s".to_string())
}

/// Reads `child`'s standard output until `pick` finds what it looks for; the rest of the output is drained on a
/// thread of its own (so the child never blocks on a full pipe). Read on the timing thread itself, not through
/// `Baseline::start`'s reader thread and channel: that hand-off would be timed too, and on a loaded machine a
/// hand-off is what costs (docs/performance.md, "Start-up"). A watchdog thread kills a child that has neither
/// printed the line nor exited within `limit` ([`START_LIMIT`] for a start), which ends the read (the child is
/// reaped by the caller, so its pid cannot have been reused meanwhile).
fn first_line(child: &mut Child, limit: Duration, pick: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let done = Arc::new(AtomicBool::new(false));
    {
        let (done, pid) = (Arc::clone(&done), child.id());
        // Not joined: it returns by itself within one sleep once `done` is set, and waiting for it would be timed.
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while t0.elapsed() < limit {
                if done.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !done.load(Ordering::Acquire) {
                let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            }
        });
    }
    let found = lines.by_ref().map_while(Result::ok).find_map(|line| pick(&line));
    done.store(true, Ordering::Release);
    std::thread::spawn(move || lines.for_each(drop));
    found
}

/// Asks `check` every millisecond until it passes (answering the milliseconds since `t0`) or [`START_LIMIT`] runs
/// out.
fn poll(t0: Instant, check: impl Fn() -> bool) -> Option<f64> {
    while t0.elapsed() < START_LIMIT {
        if check() {
            return Some(t0.elapsed().as_secs_f64() * 1000.0);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_never_prints_is_killed_at_the_limit() {
        let mut child = Command::new("sleep").arg("60").stdout(Stdio::piped()).spawn().unwrap();
        let t0 = Instant::now();
        let found = first_line(&mut child, Duration::from_millis(300), |l| Some(l.to_string()));
        assert_eq!(found, None);
        assert!(t0.elapsed() < Duration::from_secs(10), "waited {:?}", t0.elapsed());
        assert!(child.wait().unwrap().code().is_none(), "the child was not killed");
    }

    #[test]
    fn the_median_is_the_middle_of_the_sorted_figures() {
        assert_eq!(median(&mut [9.0, 1.0, 5.0]), 5.0);
        assert_eq!(median(&mut [4.0, 3.0, 2.0, 1.0]), 3.0);
    }
}
