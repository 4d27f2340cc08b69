//! Starting the `walletd` binary under test; everything else the suites share lives in `walletd_testkit`.

use walletd_testkit::{Config, Walletd, WalletdBuilder};

/// A builder for the `walletd` binary of this package, or the one `WALLETD_TEST_BIN` names (to run a suite against
/// another build, e.g. checking that a regression test fails on an older binary).
pub fn walletd() -> WalletdBuilder {
    match std::env::var("WALLETD_TEST_BIN") {
        Ok(bin) if !bin.is_empty() => WalletdBuilder::new(bin),
        _ => WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd")),
    }
}

/// Starts `walletd` with `config`; panics with its output when it does not start.
pub async fn start(config: &Config) -> Walletd {
    walletd().with_config(config).start().await
}
