//! Test harness for walletd, written once for every integration test and bench: fresh real databases, the real
//! `walletd` binary on free loopback ports with a typed configuration, a pausable TCP proxy, and the peers tests
//! talk to (an AuthZEN PDP, an OpenID provider, a VCTM upstream, the Node issuer and verifier, a virtual passkey authenticator).
//!
//! Features: `webauthn` (the virtual authenticator and the compat WebAuthn ceremonies), `holder` (a holder on the
//! engine's API v2). Crates whose tests need neither do not build passkey-rs or the wallet SDK.

mod config;
mod db;
mod http;
mod process;
mod proxy;
mod signal;

#[cfg(feature = "webauthn")]
pub mod attestation;
#[cfg(feature = "webauthn")]
pub mod authenticator;
#[cfg(feature = "webauthn")]
pub mod ceremony;
pub mod cpu;
pub mod engine;
#[cfg(feature = "holder")]
pub mod holder;
pub mod interop;
pub mod jwt;
pub mod oidc;
pub mod pdp;
pub mod sidebyside;
pub mod softhsm;
pub mod status_list;
pub mod topology;
pub mod vctm;

pub use config::{Config, Database, Egress, LOOPBACK_V4, LOOPBACK_V6, Registry, Trust};
pub use db::{TestDatabase, postgres_base_url};
pub use http::{
    HttpTarget, Resp, Target, admin, get, http_client, metrics_text, post, readyz_ok, send, send_json,
    status_line_starts,
};
pub use process::{QUIET_LOG_FILTER, Walletd, WalletdBuilder, start_up_command};
pub use proxy::TcpProxy;
pub use signal::{process_running, send_signal};

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
