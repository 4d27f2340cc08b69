//! Engine-mediated vs direct flows (the in-process bench targets `crates/walletd/benches/{engine,presentation}.rs`,
//! run as `cargo bench` subprocesses so the suite measures exactly what they measure).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::report::{Row, load_range};
use crate::sys;

/// One side of a flow bench: rate and latency.
#[derive(Debug, Clone, Copy, Default)]
pub struct Side {
    pub rate: f64,
    pub p50: f64,
    pub p99: f64,
    pub failures: u64,
}

/// Parses `<label> <rate> flows/s p50 <x> ms p99 <y> ms failures <n>` lines of the engine/presentation benches.
pub fn parse_side(out: &str, label: &str) -> Option<Side> {
    let line = out.lines().find(|l| l.trim_start().starts_with(label))?;
    let t: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| t.get(i).and_then(|v| v.parse::<f64>().ok());
    Some(Side {
        rate: num(1)?,
        p50: num(4)?,
        p99: num(7)?,
        failures: num(10).unwrap_or(0.0) as u64,
    })
}

/// Builds the flow bench targets (`cargo bench --no-run`, a no-op when they are fresh) before anything is timed: a
/// first build inside a measured round took longer than the round's 15-minute bound on a loaded machine.
pub fn build_benches(root: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args([
            "bench",
            "--no-run",
            "-p",
            "walletd",
            "--bench",
            "engine",
            "--bench",
            "presentation",
        ])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?
        .success();
    if ok {
        Ok(())
    } else {
        Err("building the flow benches failed".into())
    }
}

/// Runs `cargo bench -p walletd --bench <bench> -- <args>` in `root`, engine side first when `engine_first`, the
/// two sides alternating in `blocks` blocks; bounded to 15 minutes by timeout(1).
fn cargo_bench(root: &Path, bench: &str, args: &[String], engine_first: bool, blocks: usize) -> Result<String, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new("timeout")
        .arg("900")
        .arg(cargo)
        .args(["bench", "-q", "-p", "walletd", "--bench", bench, "--"])
        .args(args)
        .env("WALLETD_BENCH_ENGINE_FIRST", if engine_first { "1" } else { "0" })
        .env("WALLETD_BENCH_BLOCKS", blocks.to_string())
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!("cargo bench --bench {bench} failed ({}): {stdout}", out.status));
    }
    Ok(stdout)
}

/// Flows each holder runs: `total / concurrency`, but at least [`MIN_FLOWS_PER_HOLDER`].
pub fn per_holder(total: usize, concurrency: usize) -> usize {
    (total / concurrency.max(1)).max(MIN_FLOWS_PER_HOLDER)
}

/// With fewer flows per holder a round at concurrency 16 is mostly its first flows (16 sessions' first outbound
/// connections, start-up skew between the holders) and its p99 is the slowest single flow: 80 flows at c=16 (5 per
/// holder) gave 0.51x in one run and 1.50x in the next at 40 per holder, on the same build and load.
pub const MIN_FLOWS_PER_HOLDER: usize = 10;

/// How many alternating blocks of each side one round runs (walletd_testkit::sidebyside): as many as keep
/// [`MIN_FLOWS_PER_HOLDER`] flows per holder in each block, at most 4. More blocks put both sides under the same
/// drift of a loaded machine's load.
pub fn blocks(per_holder: usize) -> usize {
    (per_holder / MIN_FLOWS_PER_HOLDER).clamp(1, 4)
}

/// Engine-mediated vs direct for `bench` (`engine`: OID4VCI issuance, `presentation`: OID4VP) at `concurrency`,
/// `total` flows per side per round, `rounds` runs alternating which side goes first.
pub fn flows(root: &Path, bench: &str, concurrency: usize, total: usize, rounds: usize) -> Result<Row, String> {
    let per = per_holder(total, concurrency);
    let args: Vec<String> = match bench {
        "engine" => vec![concurrency.to_string(), per.to_string(), "0".into()],
        _ => vec![(per * concurrency).to_string(), concurrency.to_string()],
    };
    let (mut eng, mut dir, mut loads) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        loads.push(sys::load1());
        let out = cargo_bench(root, bench, &args, round % 2 == 1, blocks(per))?;
        let e = parse_side(&out, "engine").ok_or_else(|| format!("no engine line in: {out}"))?;
        let d = parse_side(&out, "direct").ok_or_else(|| format!("no direct line in: {out}"))?;
        eng.push(e);
        dir.push(d);
    }
    loads.push(sys::load1());
    let med = |v: &[Side], f: fn(&Side) -> f64| {
        let mut x: Vec<f64> = v.iter().map(f).collect();
        x.sort_by(|a, b| a.total_cmp(b));
        x[x.len() / 2]
    };
    let mut ratios: Vec<f64> = eng.iter().zip(&dir).map(|(e, d)| e.rate / d.rate).collect();
    ratios.sort_by(|a, b| a.total_cmp(b));
    let mut p99o: Vec<f64> = eng.iter().zip(&dir).map(|(e, d)| e.p99 - d.p99).collect();
    p99o.sort_by(|a, b| a.total_cmp(b));
    let what = if bench == "engine" {
        "issuance (OID4VCI)"
    } else {
        "presentation (OID4VP)"
    };
    Ok(Row {
        name: format!("{what}: engine-mediated vs holder direct"),
        a: med(&eng, |s| s.rate),
        b: med(&dir, |s| s.rate),
        unit: "flows/s",
        ratio: ratios[ratios.len() / 2],
        target: Some(0.9),
        latency: format!(
            "p50 {:.1}/{:.1} ms, p99 {:.1}/{:.1} ms, p99 overhead {:+.1} ms (goal < 5 ms at c=4); rounds' ratios {}",
            med(&eng, |s| s.p50),
            med(&dir, |s| s.p50),
            med(&eng, |s| s.p99),
            med(&dir, |s| s.p99),
            p99o[p99o.len() / 2],
            spread(&ratios)
        ),
        load: load_range(&loads),
        errors: eng.iter().chain(&dir).map(|s| s.failures).sum(),
        rounds,
        concurrency,
    })
}

/// The lowest and highest of sorted per-round ratios ("0.88-0.95x"), so a reader of the table sees how far the
/// median could have fallen in another run.
fn spread(sorted: &[f64]) -> String {
    match (sorted.first(), sorted.last()) {
        (Some(lo), Some(hi)) => format!("{lo:.2}-{hi:.2}x"),
        _ => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_parse() {
        let out = "holders 4\ndirect      207.1 flows/s   p50   17.6 ms   p99   37.7 ms   failures 0\n\
                   engine      254.8 flows/s   p50   14.1 ms   p99   29.1 ms   failures 2\n";
        let e = parse_side(out, "engine").unwrap();
        assert_eq!((e.rate, e.p50, e.p99, e.failures), (254.8, 14.1, 29.1, 2));
        assert!(parse_side(out, "nothing").is_none());
    }

    #[test]
    fn the_spread_names_the_lowest_and_highest_round() {
        assert_eq!(spread(&[0.871, 0.9, 0.956]), "0.87-0.96x");
        assert_eq!(spread(&[1.0]), "1.00-1.00x");
        assert_eq!(spread(&[]), "none");
    }

    #[test]
    fn every_holder_runs_enough_flows() {
        assert_eq!(per_holder(80, 1), 80);
        assert_eq!(per_holder(80, 4), 20);
        assert_eq!(per_holder(80, 16), MIN_FLOWS_PER_HOLDER);
        assert_eq!(per_holder(0, 0), MIN_FLOWS_PER_HOLDER);
        // Blocks never go below the minimum per holder: 80 flows per holder alternate in 4 blocks of 20.
        assert_eq!(blocks(per_holder(80, 1)), 4);
        assert_eq!(blocks(per_holder(80, 4)), 2);
        assert_eq!(blocks(per_holder(80, 16)), 1);
    }
}
