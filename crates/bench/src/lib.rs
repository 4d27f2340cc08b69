//! walletd's benchmark suite (docs/performance.md "Benchmark suite"): the real release binary next to a trivial
//! axum+sqlx baseline binary, driven by an external load generator (wrk), A/B rounds interleaved, one table with
//! ratios and the load average. `walletd-bench all` runs everything; `walletd-bench soak --minutes N` runs the
//! memory soak. Everything listens on 127.0.0.1 and the suite stops only the processes it started.

pub mod baseline;
pub mod cases;
pub mod flows;
pub mod report;
pub mod soak;
pub mod startup;
pub mod sys;
pub mod wrk;
