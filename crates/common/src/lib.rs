//! Shared building blocks of walletd: configuration, roles, errors, JWT validation, signing keys, tenants,
//! HTTP plumbing and telemetry. Every role crate depends on this one; it depends on no role.

pub mod background;
pub mod config;
pub mod http;
pub mod issuer_metadata;
pub mod jwt;
pub mod limits;
pub mod mdoc_iacas;
pub mod oidc_gate;
pub mod redis;
pub mod revocation;
pub mod roles;
pub mod slot_cache;
pub mod telemetry;
pub mod tenant;
pub mod token_cache;

pub use config::Config;
pub use roles::{Role, RoleSet};
