//! What the suites share: the CLI as a process on a wallet directory, the cloud behind a counting proxy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use walletd_testkit::{Config, TestDatabase, Walletd, WalletdBuilder};

/// The origin the wallet's passkey uses (one of walletd's default `webauthn.rp_origins`).
pub const ORIGIN: &str = "http://localhost:8080";
pub const PASSPHRASE: &str = "correct horse battery staple";

/// A wallet directory with its device configuration and passphrase file.
pub struct WalletDir {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub passphrase: PathBuf,
}

/// The result of one CLI run.
pub struct Run {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {} json {} stderr {}", self.code, self.json, self.stderr)
    }
}

impl WalletDir {
    /// A new directory whose device configuration lets the embedded engine reach peers on 127.0.0.1 over http and
    /// names the cloud at `cloud` (if any); `extra` is more YAML.
    pub fn new(cloud: Option<&str>, extra: &str) -> WalletDir {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("device.yaml");
        let mut yaml = String::from(
            "egress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\n  total_timeout: 10s\n\
             store:\n  kdf:\n    m_cost_kib: 1024\n    t_cost: 1\n    p_cost: 1\n",
        );
        if let Some(url) = cloud {
            yaml.push_str(&format!("cloud:\n  url: {url}/\n  origin: {ORIGIN}\n  timeout: 3s\n"));
        }
        yaml.push_str(extra);
        std::fs::write(&config, yaml).unwrap();
        let passphrase = dir.path().join("passphrase");
        std::fs::write(&passphrase, format!("{PASSPHRASE}\n")).unwrap();
        WalletDir {
            dir,
            config,
            passphrase,
        }
    }

    /// The store directory.
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("w")
    }

    /// Runs `walletd-wallet --json <args>` with this directory, configuration and passphrase file.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], None)
    }

    /// Starts `walletd-wallet --json <args>` with piped stdin, stdout and stderr, for a test that answers prompts
    /// as they come ([`Interactive`]).
    pub fn spawn(&self, args: &[&str]) -> Interactive {
        let mut cmd = self.command(args, &[]);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read;
            // Prompts end without a newline: forward whatever arrives.
            let mut r = stderr;
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(String::from_utf8_lossy(&buf[..n]).into_owned()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Interactive {
            child,
            lines: rx,
            seen: String::new(),
        }
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_walletd-wallet"));
        cmd.arg("--json")
            .arg("--dir")
            .arg(self.store())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("WALLETD_WALLET_PASSPHRASE")
            .env_remove("WALLETD_WALLET_ENGINE_TOKEN");
        if !env.iter().any(|(k, _)| *k == "WALLETD_WALLET_PASSPHRASE") {
            cmd.arg("--passphrase-file").arg(&self.passphrase);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// [`WalletDir::run`] with environment variables and stdin.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut cmd = self.command(args, env);
        let out = match stdin {
            Some(input) => {
                use std::io::Write;
                cmd.stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                let mut child = cmd.spawn().unwrap();
                child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
                child.wait_with_output().unwrap()
            }
            None => cmd.stdin(std::process::Stdio::null()).output().unwrap(),
        };
        run_of(out)
    }
}

/// A CLI process whose prompts (on stderr) a test answers (on stdin).
pub struct Interactive {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Interactive {
    /// Reads stderr until it contains `needle` (at most 60 s); returns everything read after the previous match.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(_) => panic!("no {needle:?} on stderr; saw: {}", self.seen),
            }
        }
        std::mem::take(&mut self.seen)
    }

    /// Writes one line to stdin.
    pub fn answer(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes stdin and waits for the process.
    pub fn finish(mut self) -> Run {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output().unwrap();
        let mut run = run_of(out);
        run.stderr = std::mem::take(&mut self.seen);
        while let Ok(chunk) = self.lines.recv_timeout(std::time::Duration::from_secs(5)) {
            run.stderr.push_str(&chunk);
        }
        run
    }
}

fn run_of(out: Output) -> Run {
    let stdout = String::from_utf8_lossy(&out.stdout);
    Run {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `walletd` binary of this workspace (built beside this test's binary by `cargo nextest run --workspace` or
/// `cargo build -p walletd`).
pub fn walletd_bin() -> PathBuf {
    if let Ok(b) = std::env::var("WALLETD_TEST_BIN")
        && !b.is_empty()
    {
        return PathBuf::from(b);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = dir.join("walletd");
    assert!(
        bin.exists(),
        "build walletd first: cargo build -p walletd (looked for {})",
        bin.display()
    );
    bin
}

/// A TCP forwarder on 127.0.0.1 that counts the connections it accepts and can be switched off (connections are
/// refused while it is down).
pub struct CountingProxy {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(target: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let (count, off) = (connections.clone(), down.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                if off.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        CountingProxy {
            addr,
            connections,
            down,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Cuts new connections (the cloud is "down") or lets them through again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The cloud: `walletd --mode=auth,storage` on a fresh PostgreSQL schema, behind a counting proxy.
pub struct Cloud {
    pub db: TestDatabase,
    /// The process (kept alive as long as the cloud).
    pub walletd: Walletd,
    pub proxy: CountingProxy,
}

impl Cloud {
    pub async fn start() -> Cloud {
        Self::start_with(Config::new().mode("auth,storage")).await
    }

    /// The cloud with the engine role too (`--mode=auth,storage,engine`), allowed to reach peers on 127.0.0.1.
    pub async fn start_with_engine() -> Cloud {
        Self::start_with(Config::new().mode("auth,storage,engine").egress_loopback()).await
    }

    /// `walletd` with `cfg` on a fresh database.
    pub async fn start_with(cfg: Config) -> Cloud {
        let db = TestDatabase::postgres().await;
        let cfg = cfg.database(db.url());
        let walletd = WalletdBuilder::new(walletd_bin()).with_config(&cfg).start().await;
        let target: SocketAddr = walletd.http_url().trim_start_matches("http://").parse().unwrap();
        let proxy = CountingProxy::start(target).await;
        Cloud { db, walletd, proxy }
    }

    /// Every row of every table of the cloud's schema, as text (bytea as hex).
    pub async fn dump(&self) -> String {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::PgConnection::connect(self.db.url()).await.unwrap();
        let tables: Vec<String> =
            sqlx::query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
        assert!(tables.iter().any(|t| t == "storage_blobs"), "{tables:?}");
        let mut out = String::new();
        for t in tables {
            // Table names come from the catalogue of our own schema.
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT t::text FROM \"{t}\" t")))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            for r in rows {
                out.push_str(&r.get::<String, _>(0));
                out.push('\n');
            }
        }
        out
    }
}

/// Whether `haystack` holds `needle` as text, hex (bytea) or base64/base64url.
pub fn contains_any_encoding(haystack: &str, needle: &str) -> bool {
    let hex: String = needle.bytes().map(|b| format!("{b:02x}")).collect();
    let b64 = walletd_jose::b64(needle.as_bytes());
    haystack.contains(needle) || haystack.contains(&hex) || haystack.contains(b64.trim_end_matches('='))
}
