//! The roles one walletd process can run, and the `--mode` syntax that names them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One role of walletd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// WebAuthn passkeys, accounts, token issuance, JWKS.
    Auth,
    /// Client-encrypted blobs and multi-device sync.
    Storage,
    /// The API v2 WebSocket engine (stateless).
    Engine,
    /// VCTM type metadata, issuer metadata and trust cache.
    Registry,
    /// Admin API, tenants, background workers.
    Backend,
    /// Key attestations, wallet instance attestations, the token status list, wallet instances.
    #[serde(rename = "wallet-provider")]
    WalletProvider,
}

impl Role {
    /// Every role, in the order `--mode=all` lists them.
    pub const ALL: [Role; 6] = [
        Role::Auth,
        Role::Storage,
        Role::Engine,
        Role::Registry,
        Role::Backend,
        Role::WalletProvider,
    ];

    /// The role's name as written in `--mode`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Auth => "auth",
            Role::Storage => "storage",
            Role::Engine => "engine",
            Role::Registry => "registry",
            Role::Backend => "backend",
            Role::WalletProvider => "wallet-provider",
        }
    }

    /// Whether the role keeps state in the relational database. The registry does: `POST /vctm` registrations and
    /// the tenants it enforces (unknown `X-Tenant-ID` refused, the tenant's own PDP) live there.
    pub fn needs_database(self) -> bool {
        matches!(
            self,
            Role::Auth | Role::Storage | Role::Registry | Role::Backend | Role::WalletProvider
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A non-empty set of roles, parsed from `all` or a comma-separated list such as `auth,storage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSet(BTreeSet<Role>);

/// `--mode` named something that is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role `{0}`; valid roles: all, auth, storage, engine, registry, backend, wallet-provider (comma-separated to combine)"
)]
pub struct UnknownRole(pub String);

impl RoleSet {
    /// Every role.
    pub fn all() -> Self {
        RoleSet(Role::ALL.into_iter().collect())
    }

    /// Whether the set includes `role`.
    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// The roles, sorted.
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// The role names, sorted, as `/status` reports them.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.iter().map(Role::name).collect();
        names.sort_unstable();
        names
    }

    /// Whether any role in the set needs the relational database.
    pub fn needs_database(&self) -> bool {
        self.iter().any(Role::needs_database)
    }
}

impl FromStr for RoleSet {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = BTreeSet::new();
        for part in s.split(',').map(str::trim) {
            match part {
                "all" => set.extend(Role::ALL),
                "auth" => {
                    set.insert(Role::Auth);
                }
                "storage" => {
                    set.insert(Role::Storage);
                }
                "engine" => {
                    set.insert(Role::Engine);
                }
                "registry" => {
                    set.insert(Role::Registry);
                }
                "backend" => {
                    set.insert(Role::Backend);
                }
                "wallet-provider" => {
                    set.insert(Role::WalletProvider);
                }
                other => return Err(UnknownRole(other.to_string())),
            }
        }
        Ok(RoleSet(set))
    }
}

impl fmt::Display for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// In configuration a role set is written as on the command line (`"auth,storage"`, `"all"`).
impl Serialize for RoleSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RoleSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_combined_and_all() {
        assert_eq!("engine".parse::<RoleSet>().unwrap().names(), vec!["engine"]);
        assert_eq!(
            "storage, auth".parse::<RoleSet>().unwrap().names(),
            vec!["auth", "storage"]
        );
        assert_eq!("all".parse::<RoleSet>().unwrap(), RoleSet::all());
        assert_eq!("auth,all".parse::<RoleSet>().unwrap(), RoleSet::all());
        assert_eq!(
            "wallet-provider,auth".parse::<RoleSet>().unwrap().names(),
            vec!["auth", "wallet-provider"]
        );
        assert!(RoleSet::all().contains(Role::WalletProvider));
    }

    #[test]
    fn rejects_unknown_and_empty_parts() {
        let e = "auth,wizard".parse::<RoleSet>().unwrap_err();
        assert_eq!(e, UnknownRole("wizard".into()));
        assert!(
            e.to_string()
                .contains("valid roles: all, auth, storage, engine, registry, backend, wallet-provider")
        );
        assert!("".parse::<RoleSet>().is_err());
        assert!("auth,".parse::<RoleSet>().is_err());
    }

    #[test]
    fn database_need_follows_roles() {
        assert!(!"engine".parse::<RoleSet>().unwrap().needs_database());
        assert!("registry".parse::<RoleSet>().unwrap().needs_database());
        assert!("engine,storage".parse::<RoleSet>().unwrap().needs_database());
    }
}
