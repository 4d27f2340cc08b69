//! Test harness for walletd: fresh real databases, the real `walletd` binary on free loopback ports, and a
//! pausable TCP proxy to simulate a dependency going away. Used by integration tests and benchmarks only.

mod db;
mod process;
mod proxy;

pub use db::{TestDatabase, postgres_base_url};
pub use process::{Walletd, WalletdBuilder};
pub use proxy::TcpProxy;

/// A reqwest client for talking to a local walletd (no proxy, short timeouts).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("static client settings")
}
