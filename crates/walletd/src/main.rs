//! The walletd binary: parse the command line, load the configuration, run the chosen roles.

mod app;
mod capabilities;
mod checks;
mod cli;
mod private_data;
mod serve;
mod tenant_directory;
mod type_metadata;
mod wallet_provider;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc. Measured (docs/performance.md, sixth session): with glibc, a thread freeing
/// memory another worker allocated takes that arena's lock, and under load those waits became futex sleeps and
/// wake-ups (38 k futex calls in 3 s on the bearer sync path against 15 k with mimalloc); mimalloc frees across
/// threads without a lock. Built with `no_thp`: its transparent-huge-page advice doubled the resident set.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for bad command-line or configuration input (same as clap's usage errors).
const EXIT_USAGE: u8 = 2;
/// Exit code for a failure while starting or running (a database that cannot be reached, a port in use).
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match walletd_common::config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("walletd: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let plan = match app::Plan::new(config, cli.mode) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("walletd: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match cli.command {
        Some(cli::Command::Config {
            action: cli::ConfigAction::Check,
        }) => {
            print!("{}", plan.effective_config_yaml());
            ExitCode::SUCCESS
        }
        None => {
            walletd_common::telemetry::init_logging(&plan.config.logging);
            let runtime = match runtime(plan.config.server.worker_threads) {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("walletd: cannot start the async runtime: {e}");
                    return ExitCode::from(EXIT_FAILURE);
                }
            };
            match runtime.block_on(serve::run(plan)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "walletd stopped with an error");
                    eprintln!("walletd: {e:#}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
}

/// The process's multi-threaded runtime: `worker_threads` workers, `0` leaving tokio's default (one per core, or
/// `TOKIO_WORKER_THREADS`).
fn runtime(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if worker_threads > 0 {
        builder.worker_threads(worker_threads);
    }
    builder.build()
}
