//! What `/status` advertises in `capabilities`: the web client reads them to decide, among other things, whether to
//! use the engine's WebSocket. Each role names what it offers; a split deployment's edge routes `/status` to one
//! process (the backend), which also advertises the roles listed in `server.public_roles`, so the client sees what
//! the deployment serves, not what that one process runs.

use std::collections::BTreeSet;

use walletd_common::config::{Config, LegacyProxyMode};
use walletd_common::roles::{Role, RoleSet};

/// The capabilities one role offers under `cfg`.
pub fn of_role(role: Role, cfg: &Config) -> &'static [&'static str] {
    match role {
        Role::Auth => &["webauthn", "multi-tenancy"],
        Role::Storage => &["storage", "private-data"],
        // `sse`: API v2 over Server-Sent Events (docs/api-v2.md), for networks that break WebSockets.
        Role::Engine => &["sse", "websocket"],
        Role::Registry => &["vctm-registry"],
        // `proxy` advertises the full open proxy only: the metadata mode is not what old clients mean by it.
        Role::Backend if cfg.features.legacy_proxy == LegacyProxyMode::Full => &["proxy"],
        Role::Backend => &[],
        Role::WalletProvider => &["wallet-provider"],
    }
}

/// The capabilities `/status` reports: those of this process's roles and of `server.public_roles`, sorted.
pub fn advertised(roles: &RoleSet, cfg: &Config) -> BTreeSet<String> {
    roles
        .iter()
        .chain(cfg.server.public_roles.iter().flat_map(RoleSet::iter))
        .flat_map(|role| of_role(role, cfg).iter().map(|c| c.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_behind_the_edge_advertises_the_deployments_roles() {
        let mut cfg = Config::default();
        let backend: RoleSet = "backend".parse().unwrap();
        assert!(
            advertised(&backend, &cfg).is_empty(),
            "a lone backend offers nothing the client asks about"
        );
        cfg.server.public_roles = Some("auth,storage,engine,registry".parse().unwrap());
        let got: Vec<String> = advertised(&backend, &cfg).into_iter().collect();
        assert_eq!(
            got,
            [
                "multi-tenancy",
                "private-data",
                "sse",
                "storage",
                "vctm-registry",
                "webauthn",
                "websocket"
            ]
        );
        cfg.features.legacy_proxy = LegacyProxyMode::Full;
        assert!(advertised(&backend, &cfg).contains("proxy"));
    }
}
