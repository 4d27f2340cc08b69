//! `walletd-bench serve` is ended by hand (Ctrl-C, `kill`): the walletd it started must end with it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use walletd_testkit::{process_running, send_signal};

/// Waits up to `limit` for `child` to exit.
fn exited_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn signal(pid: u32, sig: &str) {
    let ok = send_signal(pid, sig).is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {pid}");
}

#[test]
fn sigterm_to_serve_stops_its_walletd() {
    let bench = Path::new(env!("CARGO_BIN_EXE_walletd-bench"));
    let walletd = bench.with_file_name("walletd");
    assert!(
        walletd.exists(),
        "build walletd first: cargo build -p walletd (looked for {})",
        walletd.display()
    );
    let mut child = Command::new(bench)
        .args(["serve", "--db", "registry", "--serve-secs", "120", "--no-build"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn walletd-bench");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // The bench prints the walletd's pid once that walletd answers.
    let until = Instant::now() + Duration::from_secs(60);
    let mut walletd_pid = None;
    while walletd_pid.is_none() && Instant::now() < until {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            walletd_pid = line.strip_prefix("WALLETD_PID=").and_then(|p| p.parse::<u32>().ok());
        }
    }
    let Some(walletd_pid) = walletd_pid else {
        let _ = child.kill();
        panic!("walletd-bench serve printed no WALLETD_PID within 60 s");
    };
    assert!(process_running(walletd_pid), "the walletd it names runs");

    signal(child.id(), "TERM");
    let status = exited_within(&mut child, Duration::from_secs(30));
    let walletd_left = process_running(walletd_pid);
    if walletd_left {
        signal(walletd_pid, "KILL");
    }
    if status.is_none() {
        let _ = child.kill();
    }
    let status = status.expect("walletd-bench serve ends within 30 s of SIGTERM");
    assert!(!walletd_left, "walletd {walletd_pid} outlived walletd-bench serve");
    assert!(
        status.success(),
        "walletd-bench serve exits 0 after SIGTERM, got {status}"
    );
    let said: Vec<String> = lines.try_iter().collect();
    assert!(
        said.iter().any(|l| l == "# terminated: stopping"),
        "it says why it stops: {said:?}"
    );
}
