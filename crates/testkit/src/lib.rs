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

/// Generates, for each named async function taking a [`TestDatabase`], one `#[tokio::test]` on SQLite (in module
/// `sqlite`) and one on PostgreSQL (in module `postgres`), so a suite runs unchanged against both databases.
///
/// ```ignore
/// walletd_testkit::on_both_databases!(round_trip, conflict);
/// async fn round_trip(db: TestDatabase) { /* ... */ }
/// ```
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::TestDatabase::sqlite()).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::TestDatabase::postgres().await).await; })*
        }
    };
}
