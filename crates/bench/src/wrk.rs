//! The external load generator: wrk (Debian package `wrk`) with the suite's Lua script (`lua/walletd.lua`).

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

/// The Lua script, written next to the run's other temporary files.
const SCRIPT: &str = include_str!("../lua/walletd.lua");

/// One wrk run's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Figures {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Socket errors, timeouts and non-2xx/3xx answers.
    pub errors: u64,
}

#[derive(Deserialize)]
struct Raw {
    requests: u64,
    duration_us: u64,
    p50_us: u64,
    p99_us: u64,
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
}

/// What one load run sends.
#[derive(Debug, Clone)]
pub struct Load {
    /// Full URL; for `fixed` its path is what every request asks for.
    pub url: String,
    /// `fixed`, `get-blob`, `put-blob` or `mix` (see the script).
    pub kind: &'static str,
    /// Bearer token, if any.
    pub token: Option<String>,
    /// Distinct blob ids read or written.
    pub blobs: usize,
    /// Paths of a `mix` run (`PUT` for a blob write).
    pub mix: Vec<String>,
    pub connections: usize,
}

/// The load generator: wrk's path and the script file.
pub struct Wrk {
    script: PathBuf,
    _dir: tempfile::TempDir,
}

impl Wrk {
    /// Checks that wrk is installed and writes the script.
    pub fn new() -> Result<Wrk, String> {
        let ok = Command::new("wrk")
            .arg("--version")
            .output()
            .map(|o| !o.stdout.is_empty() || !o.stderr.is_empty());
        if !matches!(ok, Ok(true)) {
            return Err("wrk is not installed (Debian: apt-get install -y wrk)".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let script = dir.path().join("walletd.lua");
        std::fs::write(&script, SCRIPT).map_err(|e| e.to_string())?;
        Ok(Wrk { script, _dir: dir })
    }

    /// Runs `load` for `secs` seconds with 2 threads (the machine's cores); bounded by `timeout(1)` at secs + 30 s.
    pub fn run(&self, load: &Load, secs: u64) -> Result<Figures, String> {
        let threads = load.connections.clamp(1, 2);
        let out = Command::new("timeout")
            .arg((secs + 30).to_string())
            .arg("wrk")
            .arg(format!("-t{threads}"))
            .arg(format!("-c{}", load.connections))
            .arg(format!("-d{secs}s"))
            .arg("--timeout")
            .arg("10s")
            .arg("-s")
            .arg(&self.script)
            .arg(&load.url)
            .env("WB_KIND", load.kind)
            .env("WB_AUTH", load.token.as_deref().unwrap_or(""))
            .env("WB_BLOBS", load.blobs.max(1).to_string())
            .env("WB_MIX", load.mix.join(","))
            .output()
            .map_err(|e| format!("cannot run wrk: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().find_map(|l| l.strip_prefix("WRKJSON ")).ok_or_else(|| {
            format!(
                "wrk printed no result: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let raw: Raw = serde_json::from_str(line).map_err(|e| format!("wrk result {line}: {e}"))?;
        Ok(Figures {
            rps: raw.requests as f64 / (raw.duration_us.max(1) as f64 / 1e6),
            p50_ms: raw.p50_us as f64 / 1000.0,
            p99_ms: raw.p99_us as f64 / 1000.0,
            requests: raw.requests,
            errors: raw.connect + raw.read + raw.write + raw.status + raw.timeout,
        })
    }
}
