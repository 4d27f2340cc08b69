//! The auth role: WebAuthn ceremonies through the web client's compat API, tokens, the key ring, tenants.

mod attestation;
mod jwks;
mod keyring;
mod lifecycle;
mod logs;
mod negative;
mod oidc_gate;
mod revocation;
mod service_api;
mod tenants;

use walletd_testkit::{Config, TestDatabase, Walletd};

/// `auth,storage` on `db`.
pub fn config(db: &TestDatabase) -> Config {
    Config::new().mode("auth,storage").database(db.url())
}

/// `auth,storage` on `db` with the `extra` YAML merged in.
pub async fn start(db: &TestDatabase, extra: &str) -> Walletd {
    start_with(db, extra, &[]).await
}

/// [`start`] with environment variables for the process.
pub async fn start_with(db: &TestDatabase, extra: &str, env: &[(&str, &str)]) -> Walletd {
    crate::support::walletd()
        .with_config(&config(db).yaml(extra))
        .envs(env)
        .start()
        .await
}
