//! What the side-by-side flow benchmarks (`benches/engine.rs`, `benches/presentation.rs`) share: the tally of one
//! side's timed flows, its figures, and the interleaving of the two sides.
//!
//! Why blocks: on the shared 2-core machine the load drifts within seconds (a parallel build links, a test
//! starts). One block of each side measures them in different seconds; several short blocks in ABBA order
//! (`WALLETD_BENCH_BLOCKS`) put both sides under the same drift, so their ratio moves less between runs.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::cpu::CpuSpent;

/// The flows one side ran: each successful flow's latency (ms), the failures, the time they took, and the CPU time
/// the processes involved spent meanwhile (when the bench measured it, [`crate::cpu::CpuMeter`]).
#[derive(Debug, Default)]
pub struct Tally {
    pub latencies_ms: Vec<f64>,
    pub failures: usize,
    pub elapsed: Duration,
    pub cpu: CpuSpent,
}

impl Tally {
    /// Waits for `tasks` (each returns its latencies in ms and its failure count), timed from `started`.
    pub async fn collect(tasks: Vec<tokio::task::JoinHandle<(Vec<f64>, usize)>>, started: Instant) -> Tally {
        let mut tally = Tally::default();
        for t in tasks {
            let (lat, failures) = t.await.unwrap_or_default();
            tally.latencies_ms.extend(lat);
            tally.failures += failures;
        }
        tally.elapsed = started.elapsed();
        tally
    }

    /// The tally with the CPU time its block cost.
    pub fn with_cpu(mut self, cpu: CpuSpent) -> Tally {
        self.cpu = cpu;
        self
    }

    /// Each measured process's CPU time per flow run (successful or not), e.g. `engine 0.450 ms, node 1.100 ms`.
    pub fn cpu_per_flow(&self) -> String {
        self.cpu.per_flow(self.latencies_ms.len() + self.failures)
    }

    /// The line the flow benches print after their ratio: each side's [`Tally::cpu_per_flow`].
    pub fn cpu_line(direct: &Tally, engine: &Tally) -> String {
        format!(
            "cpu per flow: direct {}; engine {}",
            direct.cpu_per_flow(),
            engine.cpu_per_flow()
        )
    }

    fn absorb(&mut self, other: Tally) {
        self.latencies_ms.extend(other.latencies_ms);
        self.failures += other.failures;
        self.elapsed += other.elapsed;
        self.cpu.add(&other.cpu);
    }

    /// Throughput over the measured time and latency percentiles.
    pub fn figures(&self) -> Figures {
        let mut lat = self.latencies_ms.clone();
        lat.sort_by(|a, b| a.total_cmp(b));
        let pick = |q: f64| {
            if lat.is_empty() {
                f64::NAN
            } else {
                lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1]
            }
        };
        Figures {
            rate: lat.len() as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
            p50: pick(0.5),
            p99: pick(0.99),
            failures: self.failures,
        }
    }
}

/// One side's figures.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Successful flows per second.
    pub rate: f64,
    /// Latency percentiles, ms.
    pub p50: f64,
    pub p99: f64,
    pub failures: usize,
}

impl Figures {
    /// The line the suite parses (`walletd_bench::flows::parse_side`).
    pub fn print(&self, label: &str) {
        println!(
            "{label} {:8.1} flows/s   p50 {:6.1} ms   p99 {:6.1} ms   failures {}",
            self.rate, self.p50, self.p99, self.failures
        );
    }
}

/// `WALLETD_BENCH_BLOCKS` (default 1, at most 20): how many blocks of each side a run alternates.
pub fn blocks_from_env() -> usize {
    std::env::var("WALLETD_BENCH_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .clamp(1, 20)
}

/// `WALLETD_BENCH_WARMUP` (default 200, at most 10 000): flows each side runs before anything is timed.
///
/// Why so many: the Node peers compile their hot paths as they run (V8's JIT), and the processes fill their pools
/// and caches. With two flows per side the side that went first ran about a third slower than the other, whichever
/// it was (2026-12-05, issuance at c=4: 0.64-0.68x with the engine side first, 1.07-1.25x with the direct side
/// first), so a round's ratio said more about the order than about the paths.
pub fn warmup_flows_from_env() -> usize {
    std::env::var("WALLETD_BENCH_WARMUP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200usize)
        .min(10_000)
}

/// `WALLETD_BENCH_ENGINE_FIRST=1`: the engine side opens the run (the suite alternates it by round).
pub fn engine_first_from_env() -> bool {
    std::env::var("WALLETD_BENCH_ENGINE_FIRST").as_deref() == Ok("1")
}

/// Runs `blocks` blocks of each side in ABBA order (the engine side first when `engine_first`) and sums each
/// side's tallies: `(engine, direct)`.
pub async fn interleaved<E, EF, D, DF>(
    blocks: usize,
    engine_first: bool,
    mut engine: E,
    mut direct: D,
) -> (Tally, Tally)
where
    E: FnMut() -> EF,
    EF: Future<Output = Tally>,
    D: FnMut() -> DF,
    DF: Future<Output = Tally>,
{
    let (mut e, mut d) = (Tally::default(), Tally::default());
    for block in 0..blocks.max(1) {
        // ABBA: the side that went second in one block goes first in the next, so a steady drift in load costs
        // both sides alike.
        if (block % 2 == 0) == engine_first {
            e.absorb(engine().await);
            d.absorb(direct().await);
        } else {
            d.absorb(direct().await);
            e.absorb(engine().await);
        }
    }
    (e, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn tally(lat: &[f64], ms: u64) -> Tally {
        Tally {
            latencies_ms: lat.to_vec(),
            failures: 0,
            elapsed: Duration::from_millis(ms),
            cpu: CpuSpent(vec![("engine", Duration::from_millis(ms / 10))]),
        }
    }

    #[tokio::test]
    async fn blocks_alternate_and_sum() {
        let order = Arc::new(Mutex::new(String::new()));
        let (oe, od) = (order.clone(), order.clone());
        let (e, d) = interleaved(
            4,
            false,
            move || {
                oe.lock().unwrap().push('E');
                async { tally(&[2.0, 4.0], 100) }
            },
            move || {
                od.lock().unwrap().push('D');
                async { tally(&[1.0], 50) }
            },
        )
        .await;
        assert_eq!(*order.lock().unwrap(), "DEEDDEED");
        assert_eq!(e.latencies_ms.len(), 8);
        assert_eq!(e.elapsed, Duration::from_millis(400));
        let f = e.figures();
        assert!((f.rate - 20.0).abs() < 1e-9, "8 flows in 0.4 s: {}", f.rate);
        assert_eq!((f.p50, f.p99), (2.0, 4.0));
        assert_eq!(d.figures().rate, 20.0);
        // CPU adds up over the blocks: 4 x 10 ms over 8 flows; 4 x 5 ms over 4.
        assert_eq!(e.cpu_per_flow(), "engine 5.000 ms");
        assert_eq!(d.cpu_per_flow(), "engine 5.000 ms");
        assert_eq!(
            Tally::cpu_line(&d, &e),
            "cpu per flow: direct engine 5.000 ms; engine engine 5.000 ms"
        );
    }
}
