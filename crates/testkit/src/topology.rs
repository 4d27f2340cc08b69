//! The split topology of `deploy/local/up` (every role its own process, a private Redis, a fresh PostgreSQL
//! database, nginx in front) for tests and benches: started in a temp dir, processes stopped and restarted by the
//! PIDs the scripts record, everything stopped by `deploy/local/down` on drop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::http::Target;
use crate::{process_running, send_signal};

/// A running split topology. `deploy/local/down` runs on drop.
pub struct Topology {
    dir: tempfile::TempDir,
    scripts: PathBuf,
    state: HashMap<String, String>,
    /// The public URL (nginx).
    pub url: String,
}

impl Topology {
    /// Runs `deploy/local/up` with `bin` as `WALLETD_BIN` and `env` added to the environment every process
    /// inherits (`WALLET_*` overrides). Panics with the script's output when it fails.
    pub fn up(bin: impl AsRef<Path>, env: &[(&str, &str)]) -> Topology {
        let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local");
        let dir = tempfile::Builder::new()
            .prefix("walletd-topology-")
            .tempdir()
            .expect("temp dir");
        let mut cmd = Command::new(scripts.join("up"));
        // If the test runner kills this process (a timeout), up's watchdog still stops everything.
        cmd.arg(dir.path())
            .env("WALLETD_BIN", bin.as_ref())
            .env("WALLETD_TOPOLOGY_OWNER", std::process::id().to_string());
        // Only what the test sets may configure walletd: drop inherited WALLET_* variables.
        for (k, _) in std::env::vars() {
            if k.starts_with("WALLET_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied());
        let out = cmd.output().expect("run deploy/local/up");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            panic!(
                "deploy/local/up failed: {}\n{stdout}\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                logs_of(dir.path())
            );
        }
        let url = stdout.lines().last().unwrap_or_default().trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "last line of up is not the URL: {stdout}"
        );
        let state = read_env(&dir.path().join("run/topology.env"));
        Topology {
            dir,
            scripts,
            state,
            url,
        }
    }

    /// The directory holding logs, PIDs and data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The public URL as a request target.
    pub fn public(&self) -> Target {
        Target(self.url.clone())
    }

    /// The public WebSocket URL of the engine (`ws://.../api/v2/wallet`).
    pub fn ws_url(&self) -> String {
        format!("{}/api/v2/wallet", self.url.replace("http://", "ws://"))
    }

    /// One walletd instance directly, bypassing nginx (`auth-1`, `storage-2`, `engine-1`, `registry`, ...).
    pub fn instance(&self, name: &str) -> Target {
        let key = format!("PORT_{}", name.replace('-', "_"));
        let port = self.state.get(&key).unwrap_or_else(|| panic!("no instance {name}"));
        Target(format!("http://127.0.0.1:{port}"))
    }

    /// The admin token of the backend role (and registry's `POST /vctm`).
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir().join("secrets/admin-token"))
            .expect("admin token")
            .trim()
            .to_string()
    }

    /// The admin listener of the backend role (not reachable through nginx).
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.state["ADMIN_PORT"])
    }

    /// The PID of a running process of the topology (`redis`, `nginx` or an instance), if it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.dir().join(format!("run/{name}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        process_running(pid).then_some(pid)
    }

    /// Sends `signal` (`TERM`, `KILL`, ...) to `name` and waits up to `wait` for it to exit.
    pub fn stop(&self, name: &str, signal: &str, wait: Duration) {
        let pid = self.pid(name).unwrap_or_else(|| panic!("{name} is not running"));
        let status = send_signal(pid, signal).expect("kill");
        assert!(status.success(), "kill -{signal} {name}");
        let deadline = Instant::now() + wait;
        while process_running(pid) {
            assert!(
                Instant::now() < deadline,
                "{name} did not exit within {wait:?} of SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to `name` without waiting.
    pub fn signal(&self, name: &str, signal: &str) {
        let pid = self.pid(name).unwrap_or_else(|| panic!("{name} is not running"));
        send_signal(pid, signal).expect("kill");
    }

    /// Starts `name` again with `deploy/local/role` (same config, port and environment) and waits until it answers.
    pub fn start(&self, name: &str) {
        let out = Command::new(self.scripts.join("role"))
            .arg(self.dir())
            .arg(name)
            .output()
            .expect("run deploy/local/role");
        assert!(
            out.status.success(),
            "deploy/local/role {name} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            self.log(name)
        );
    }

    /// Runs `deploy/local/down` now (drop runs it again, which is safe) and returns the processes of the topology
    /// that were running before it and still run after it: empty when `down` stopped everything it started.
    pub fn down(&self) -> Vec<String> {
        let instances = self.state.get("INSTANCES").cloned().unwrap_or_default();
        let names = ["nginx", "redis"]
            .into_iter()
            .chain(instances.split_whitespace())
            .map(str::to_string);
        let before: Vec<(String, u32)> = names.filter_map(|n| self.pid(&n).map(|pid| (n, pid))).collect();
        let out = self.run_down().expect("run deploy/local/down");
        assert!(
            out.status.success(),
            "deploy/local/down failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        before
            .into_iter()
            .filter(|(_, pid)| process_running(*pid))
            .map(|(name, _)| name)
            .collect()
    }

    /// `deploy/local/down` on this topology's directory.
    fn run_down(&self) -> std::io::Result<std::process::Output> {
        Command::new(self.scripts.join("down")).arg(self.dir()).output()
    }

    /// The log of `name` (`redis`, `nginx`, `nginx-access`, `nginx-error` or an instance).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir().join(format!("logs/{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = self.run_down();
        if std::thread::panicking() {
            // Keep the logs of a failed test for a look.
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
            eprintln!("topology logs kept in {}", dir.keep().display());
        }
    }
}

fn read_env(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .expect("topology.env")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

fn logs_of(dir: &Path) -> String {
    let mut out = String::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("logs")) {
        for e in entries.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            out.push_str(&format!("--- {}\n", e.path().display()));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}
