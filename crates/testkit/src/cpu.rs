//! CPU time spent by whole processes over a timed block, for the side-by-side benchmarks: which process pays for a
//! flow (the engine, the Node peer, the holder) says more about an overhead than the throughput ratio alone.
//!
//! Read from `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on CPU, per thread) rather than `/proc/<pid>/stat`
//! (clock ticks of 10 ms, too coarse for a block of a few seconds). Threads that exit during a block take their
//! time with them; the processes measured here keep their threads (tokio workers, V8's threads).

use std::time::Duration;

/// CPU time of every live thread of `pid`, or `None` when the process is gone or /proc cannot be read.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut ns = 0u64;
    for task in tasks.flatten() {
        // A thread may exit between the listing and the read: it simply counts no more.
        if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat"))
            && let Some(on_cpu) = text.split_whitespace().next().and_then(|v| v.parse::<u64>().ok())
        {
            ns += on_cpu;
        }
    }
    Some(Duration::from_nanos(ns))
}

/// The CPU time each named process spent, in the order they were named.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CpuSpent(pub Vec<(&'static str, Duration)>);

impl CpuSpent {
    /// Adds `other` process by process (a process `self` has not seen is appended).
    pub fn add(&mut self, other: &CpuSpent) {
        for (name, spent) in &other.0 {
            match self.0.iter_mut().find(|(n, _)| n == name) {
                Some((_, total)) => *total += *spent,
                None => self.0.push((name, *spent)),
            }
        }
    }

    /// `name a.aaa ms, name b.bbb ms, ...` per flow over `flows` flows (empty when nothing was measured).
    pub fn per_flow(&self, flows: usize) -> String {
        let flows = flows.max(1) as f64;
        self.0
            .iter()
            .map(|(name, spent)| format!("{name} {:.3} ms", spent.as_secs_f64() * 1000.0 / flows))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A block's start: the CPU time of each named process when it began.
pub struct CpuMeter {
    start: Vec<(&'static str, u32, Duration)>,
}

impl CpuMeter {
    /// Reads each `(name, pid)` now. A process that cannot be read is left out.
    pub fn start(processes: &[(&'static str, u32)]) -> CpuMeter {
        CpuMeter {
            start: processes
                .iter()
                .filter_map(|&(name, pid)| Some((name, pid, process_cpu(pid)?)))
                .collect(),
        }
    }

    /// What each process spent since [`CpuMeter::start`].
    pub fn stop(&self) -> CpuSpent {
        CpuSpent(
            self.start
                .iter()
                .filter_map(|&(name, pid, at)| Some((name, process_cpu(pid)?.saturating_sub(at))))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_busy_thread_is_counted() {
        // (No upper bound: other tests may run on other threads of this process.)
        let me = std::process::id();
        let meter = CpuMeter::start(&[("self", me)]);
        let until = Instant::now() + Duration::from_millis(60);
        let mut spin = 0u64;
        while Instant::now() < until {
            spin = spin.wrapping_add(1);
        }
        assert!(spin > 0);
        let busy = meter.stop().0[0].1;
        // The spin ran ~60 ms of wall time; on a loaded machine it gets less of it on CPU, but not nothing.
        assert!(busy >= Duration::from_millis(10), "spinning cost only {busy:?}");
    }

    #[test]
    fn a_process_that_is_gone_is_left_out() {
        let meter = CpuMeter::start(&[("none", u32::MAX)]);
        assert_eq!(meter.stop(), CpuSpent::default());
    }

    #[test]
    fn blocks_add_up_per_process() {
        let ms = Duration::from_millis;
        let mut total = CpuSpent(vec![("engine", ms(10))]);
        total.add(&CpuSpent(vec![("engine", ms(5)), ("node", ms(8))]));
        assert_eq!(total, CpuSpent(vec![("engine", ms(15)), ("node", ms(8))]));
        assert_eq!(total.per_flow(10), "engine 1.500 ms, node 0.800 ms");
    }
}
