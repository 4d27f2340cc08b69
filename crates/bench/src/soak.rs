//! The soak: sustained mixed load on one `--mode=all` process, its RSS sampled after every interval.

use std::path::Path;
use std::sync::Arc;

use walletd_testkit::TestDatabase;

use crate::cases::{USER, populate, start_walletd, walletd_config};
use crate::sys;
use crate::wrk::{Load, Wrk};

/// One interval of the soak.
#[derive(Debug, Clone)]
pub struct Sample {
    pub minute: usize,
    pub rps: f64,
    pub errors: u64,
    pub rss_kib: u64,
    pub load: String,
}

/// Runs `intervals` intervals of `interval_secs` of mixed load (health, sync, blob GET, listing, blob PUT; the
/// PUTs cycle over a bounded set of ids so the database stops growing) at `connections`, on `db_kind`.
/// Returns the idle RSS and the samples.
pub async fn soak(
    wrk: &Arc<Wrk>,
    walletd: &Path,
    db_kind: &str,
    intervals: usize,
    interval_secs: u64,
    connections: usize,
) -> Result<(u64, Vec<Sample>), String> {
    let db = match db_kind {
        "postgres" => TestDatabase::postgres().await,
        _ => TestDatabase::sqlite(),
    };
    let w = start_walletd(walletd, &walletd_config(db.url())).await?;
    // Valid for the whole run plus a margin: the harness's default token lives 5 minutes, after which every
    // authenticated request of a longer soak was a 401 (and the RSS figures measured refusals).
    let token = w.token_with(serde_json::json!({
        "sub": USER,
        "tenant_id": "default",
        "exp": sys::unix_now() + intervals as u64 * interval_secs + 600,
    }));
    let url = w.http_url();
    populate(&url, Some(&token), 100).await?;
    let idle = sys::rss_kib(w.pid()).unwrap_or(0);
    let load = Load {
        url: url.clone(),
        kind: "mix",
        token: Some(token),
        blobs: 200,
        mix: [
            "/healthz",
            "/storage/sync",
            "/storage/credentials/g1",
            "/storage/credentials/g42",
            "PUT",
            "/storage/credentials?limit=10",
            "/storage/credentials/g7",
            "/readyz",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        connections,
    };
    let mut samples = Vec::new();
    for minute in 1..=intervals {
        let before = sys::loadavg();
        let (wrk2, l) = (wrk.clone(), load.clone());
        let f = tokio::task::spawn_blocking(move || wrk2.run(&l, interval_secs))
            .await
            .map_err(|e| e.to_string())??;
        let rss = sys::rss_kib(w.pid()).ok_or("walletd is gone")?;
        let s = Sample {
            minute,
            rps: f.rps,
            errors: f.errors,
            rss_kib: rss,
            load: before,
        };
        println!(
            "soak interval {minute}/{intervals}: {:.0} req/s, {} errors, RSS {:.1} MiB, load {}",
            s.rps,
            s.errors,
            rss as f64 / 1024.0,
            s.load
        );
        samples.push(s);
    }
    Ok((idle, samples))
}

/// The soak's Markdown table and verdict (RSS after the last interval within 10 % of RSS after the first).
pub fn table(idle: u64, samples: &[Sample], header: &str) -> String {
    let mut out = format!(
        "{header}\n\nIdle RSS before the load: {:.1} MiB.\n\n",
        idle as f64 / 1024.0
    );
    out.push_str("| interval | requests/s | errors | VmRSS after | load average (before) |\n|---|---|---|---|---|\n");
    for s in samples {
        out.push_str(&format!(
            "| {} | {:.0} | {} | {:.1} MiB | {} |\n",
            s.minute,
            s.rps,
            s.errors,
            s.rss_kib as f64 / 1024.0,
            s.load
        ));
    }
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let growth = last.rss_kib as f64 / first.rss_kib.max(1) as f64;
        let errors: u64 = samples.iter().map(|s| s.errors).sum();
        out.push_str(&format!(
            "\nRSS after the last interval / after the first: **{growth:.3}** (goal <= 1.10: {}).\n",
            verdict(growth, errors)
        ));
    }
    out
}

/// The goal's verdict: a run with failed requests measured something else than the load it was meant to.
fn verdict(growth: f64, errors: u64) -> String {
    match (errors, growth <= 1.10) {
        (0, true) => "met".into(),
        (0, false) => "NOT met".into(),
        (n, _) => format!("not judged: {n} requests failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soak_with_failed_requests_is_not_judged() {
        assert_eq!(verdict(1.05, 0), "met");
        assert_eq!(verdict(1.20, 0), "NOT met");
        assert_eq!(verdict(1.0, 3), "not judged: 3 requests failed");
    }
}
