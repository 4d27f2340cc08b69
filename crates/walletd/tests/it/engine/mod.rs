//! The engine role: API v2 sessions, OID4VCI and OID4VP flows against the Node peers of tests/interop.

mod local;
mod mdoc_issuance;
mod mdoc_presentation;
mod mdoc_trust;
mod oid4vci;
mod oid4vci_attestation_proof;
mod oid4vci_client_auth;
mod oid4vci_encryption;
mod oid4vci_gaps;
mod oid4vci_renewal;
mod oid4vci_trust_keys;
mod oid4vp;
mod oid4vp_features;
mod oid4vp_prefixes;
mod protocol;
mod sessions;
mod sse;
mod sse_hostile;
mod tenant_policy;
mod trace_logs;

use walletd_testkit::{Config, TestDatabase, Walletd, engine};

use crate::support::{start, walletd};

/// An engine-only walletd that can reach 127.0.0.1 over http; `extra_engine` adds `engine:` lines (indented two
/// spaces).
pub async fn engine(extra_engine: &str) -> Walletd {
    start(&engine::config_with(extra_engine)).await
}

/// [`engine`] with extra environment variables for the process (e.g. `RUST_LOG`).
pub async fn engine_with_env(extra_engine: &str, env: &[(&str, &str)]) -> Walletd {
    walletd()
        .with_config(&engine::config_with(extra_engine))
        .envs(env)
        .start()
        .await
}

/// [`engine`] that may also reach ::1 (names like `localhost` resolve to both; peers still listen on 127.0.0.1).
pub async fn engine_loopback(extra_engine: &str) -> Walletd {
    start(&engine::config_with(extra_engine).egress_allow_cidr(walletd_testkit::LOOPBACK_V6)).await
}

/// An engine WITHOUT the 127.0.0.1 hole (and walletd's default outbound timeout).
pub async fn engine_no_hole() -> Walletd {
    start(
        &Config::new()
            .mode("engine")
            .jwt_secret(engine::SECRET)
            .egress_allow_http(),
    )
    .await
}

/// An engine-only walletd whose global PDP is `pdp_url` (2 s timeout); `extra_engine` adds `engine:` lines.
pub async fn engine_with_pdp(pdp_url: &str, extra_engine: &str) -> Walletd {
    start(
        &engine::config_with(extra_engine)
            .trust_endpoint(pdp_url)
            .trust_timeout("2s"),
    )
    .await
}

/// Every role (`--mode=all`) on `db` with `admin_token`, able to reach the local issuer. No `jwt.secret`: tokens
/// are the auth role's own (ES256, its key ring).
pub fn all_mode_config(db: &TestDatabase, admin_token: &str) -> Config {
    Config::new()
        .mode("all")
        .database(db.url())
        .admin_token(admin_token)
        .egress_loopback()
        .set("engine.outbound_timeout", "3s")
}

/// A process with [`all_mode_config`].
pub async fn all_mode(db: &TestDatabase, admin_token: &str) -> Walletd {
    start(&all_mode_config(db, admin_token)).await
}
