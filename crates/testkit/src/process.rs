//! Spawning the real `walletd` binary on free loopback ports and reading what it logs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// `RUST_LOG` for a measured process (benchmarks): the `started` line the harness waits for, and warnings. Not
/// `walletd=info`: a directive matches by target prefix, so that one also enables every `walletd_*` crate's INFO,
/// the access log and the engine's per-flow lines among them (a line per request that the harness then reads and
/// keeps in memory, paid by the measured side only).
pub const QUIET_LOG_FILTER: &str = "warn,walletd::serve=info";

/// How to start one walletd process.
pub struct WalletdBuilder {
    bin: PathBuf,
    mode: Option<String>,
    config_yaml: Option<String>,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl WalletdBuilder {
    /// A builder for the binary at `bin` (pass `env!("CARGO_BIN_EXE_walletd")`). Defaults: every port 0 (free
    /// ports), `data_dir` in a fresh temp dir, JSON logs.
    pub fn new(bin: impl AsRef<Path>) -> Self {
        WalletdBuilder {
            bin: bin.as_ref().to_path_buf(),
            mode: None,
            config_yaml: None,
            env: Vec::new(),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// `--mode=<mode>`.
    pub fn mode(mut self, mode: &str) -> Self {
        self.mode = Some(mode.to_string());
        self
    }

    /// A config file with this YAML (`--config`). Without it walletd runs on its built-in defaults.
    pub fn config(mut self, yaml: &str) -> Self {
        self.config_yaml = Some(yaml.to_string());
        self
    }

    /// A typed configuration: its `mode` becomes `--mode`, the rest the config file (see [`crate::Config`]).
    pub fn with_config(mut self, config: &crate::Config) -> Self {
        let (mode, yaml) = config.split_mode();
        if mode.is_some() {
            self.mode = mode;
        }
        self.config_yaml = Some(yaml);
        self
    }

    /// Several environment variables for the process.
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Self {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Starts the process (see [`WalletdBuilder::spawn`]) and panics with its output when it does not start.
    pub async fn start(self) -> Walletd {
        self.spawn().await.unwrap_or_else(|e| panic!("walletd: {e}"))
    }

    /// An environment variable for the process (wins over the harness defaults).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The temp dir used as `data_dir` (it lives as long as the process handle).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the process and waits until it logs `started` (every listener bound). Fails with its output when
    /// it exits first or takes more than 30 s.
    pub async fn spawn(self) -> Result<Walletd, String> {
        let mut cmd = Command::new(&self.bin);
        if let Some(mode) = &self.mode {
            cmd.arg(format!("--mode={mode}"));
        }
        if let Some(yaml) = &self.config_yaml {
            let path = self.dir.path().join("config.yaml");
            std::fs::write(&path, yaml).map_err(|e| e.to_string())?;
            cmd.arg("--config").arg(path);
        }
        // Only what this test sets may configure walletd: drop inherited WALLET_* variables.
        for (k, _) in std::env::vars() {
            if k.starts_with("WALLET_") {
                cmd.env_remove(k);
            }
        }
        let defaults = [
            ("WALLET_SERVER__HTTP_PORT", "0".to_string()),
            ("WALLET_SERVER__WS_PORT", "0".to_string()),
            ("WALLET_SERVER__ADMIN_PORT", "0".to_string()),
            ("WALLET_DATA_DIR", self.dir.path().display().to_string()),
            ("WALLET_LOGGING__FORMAT", "json".to_string()),
        ];
        for (k, v) in defaults {
            if !self.env.iter().any(|(key, _)| key == k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.current_dir(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;

        let logs = Arc::new(Mutex::new(Vec::<String>::new()));
        let (tx, rx) = mpsc::channel::<serde_json::Value>();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let out_logs = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v.get("message").and_then(|m| m.as_str()) == Some("started")
                {
                    let _ = tx.send(v);
                }
                out_logs.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let err_logs = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                err_logs.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });

        let deadline = Instant::now() + Duration::from_secs(30);
        let started = loop {
            match rx.try_recv() {
                Ok(v) => break v,
                Err(mpsc::TryRecvError::Disconnected) | Err(mpsc::TryRecvError::Empty)
                    if child.try_wait().ok().flatten().is_some() =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                    let out = logs.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
                    return Err(format!("walletd exited before it started:\n{out}"));
                }
                Err(_) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let out = logs.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
                    return Err(format!("walletd did not start within 30 s:\n{out}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let addr = |k: &str| started.get(k).and_then(|v| v.as_str()).map(str::to_string);
        Ok(Walletd {
            child,
            logs,
            http: addr("http").ok_or("started line without http address")?,
            ws: addr("ws"),
            admin: addr("admin"),
            started,
            dir: self.dir,
        })
    }
}

/// A running walletd process. Killed (SIGKILL) on drop if still running.
pub struct Walletd {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    http: String,
    ws: Option<String>,
    admin: Option<String>,
    /// The `started` log line (JSON), which the start waited for.
    started: serde_json::Value,
    dir: tempfile::TempDir,
}

impl Walletd {
    /// `http://127.0.0.1:<port>` of the main listener.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// `ws://127.0.0.1:<port>` of the WebSocket-only listener, when one runs.
    pub fn ws_url(&self) -> Option<String> {
        self.ws.as_ref().map(|a| format!("ws://{a}"))
    }

    /// The process's `started` log line: its listeners' addresses, `startup_ms`, `worker_threads`, ...
    pub fn started_line(&self) -> &serde_json::Value {
        &self.started
    }

    /// `http://127.0.0.1:<port>` of the admin listener, when one runs.
    pub fn admin_url(&self) -> Option<String> {
        self.admin.as_ref().map(|a| format!("http://{a}"))
    }

    /// The data directory of this process.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by number (`libc::SIGTERM`, `libc::SIGKILL`, ...) with [`crate::send_signal`]; the pid is a
    /// child this handle owns and has not reaped, so it cannot name another process.
    pub fn signal(&self, signal: i32) {
        // Like kill(2) before: a process that already exited is not an error here (`wait_exit` reports it).
        let _ = crate::send_signal(self.child.id(), &signal.to_string());
    }

    /// Waits for the process to exit, up to `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// An access token for `user` in `tenant`, signed with this process's own auth key (`<data_dir>/signing-key.pem`,
    /// present when the auth role runs), exactly as the auth role would issue it.
    pub fn token_for(&self, user: &str, tenant: &str) -> String {
        self.token_with(serde_json::json!({"sub": user, "tenant_id": tenant}))
    }

    /// A token with the standard claims (`iss`, `aud` = `walletd`, `iat`, `exp` in 5 min) overlaid by `claims`.
    pub fn token_with(&self, claims: serde_json::Value) -> String {
        let key = walletd_jose::SigningKey::load_or_generate(&self.dir.path().join("signing-key.pem"))
            .expect("the auth role's signing key");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut full = serde_json::json!({"iss": "walletd", "aud": "walletd", "iat": now, "exp": now + 300});
        if let (Some(base), Some(extra)) = (full.as_object_mut(), claims.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        key.sign(&full).expect("sign")
    }

    /// Every line written so far to stdout and stderr.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits up to `within` for a log line containing `needle`; whether one came. Lines reach [`Walletd::logs`] from
    /// a reader thread a moment after walletd wrote them, so a test that reads the logs as soon as a response
    /// arrives can miss a line written before that response was sent.
    pub async fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.logs().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Walletd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The command the start-up benchmarks time (the suite's `startup` rows and `cargo bench --bench startup`):
/// `--mode=all` run in `dir` (whose `./data` holds the SQLite file and keys), every listener on a port the OS
/// chooses, JSON info logs on standard output (the `started` line carries the addresses), standard error
/// discarded.
pub fn start_up_command(bin: &std::path::Path, dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(bin);
    command
        .arg("--mode=all")
        .current_dir(dir)
        .env("WALLET_SERVER__HTTP_PORT", "0")
        .env("WALLET_SERVER__WS_PORT", "0")
        .env("WALLET_SERVER__ADMIN_PORT", "0")
        .env("WALLET_LOGGING__LEVEL", "info")
        .env("WALLET_LOGGING__FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    command
}
