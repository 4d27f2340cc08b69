//! Starting the `walletd` binary under test; everything else the suites share lives in `walletd_testkit`.

use walletd_testkit::{Config, Walletd, WalletdBuilder};

/// A builder for the `walletd` binary of this package.
pub fn walletd() -> WalletdBuilder {
    WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
}

/// Starts `walletd` with `config`; panics with its output when it does not start.
pub async fn start(config: &Config) -> Walletd {
    walletd().with_config(config).start().await
}
