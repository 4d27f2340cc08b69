//! Signals to processes by pid, and whether a pid still runs. The workspace forbids `unsafe`, so a signal is sent by
//! running `kill -<signal> <pid>` instead of calling kill(2).

use std::process::{Command, ExitStatus, Stdio};

/// Runs `kill -<signal> <pid>` (`signal` by name, `TERM`, or number, `15`); kill's own output is discarded. The
/// status says whether the signal was delivered; the error, that `kill` could not be run.
pub fn send_signal(pid: u32, signal: &str) -> std::io::Result<ExitStatus> {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
}

/// Whether `pid` is a live process: it has a `/proc` entry and is not a zombie (exited, not yet reaped).
pub fn process_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signalled_child_stops_running() {
        let mut child = Command::new("sleep").arg("30").spawn().expect("spawn sleep");
        assert!(process_running(child.id()));
        assert!(send_signal(child.id(), "TERM").expect("run kill").success());
        let _ = child.wait();
        assert!(!process_running(child.id()));
        // Nothing left to signal: kill says so.
        assert!(!send_signal(child.id(), "TERM").expect("run kill").success());
    }
}
