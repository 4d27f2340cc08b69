//! The backend role: the admin API (tenants, issuers, verifiers, invites, memberships, audit log) on the admin
//! listener, the web client's reads of registered issuers/verifiers, background workers (trust refresh, cleanup,
//! key-rotation hook), the OpenAPI document, and the web client's trust passthrough and `/proxy` (metadata-only by default, or the legacy open proxy).

mod admin;
mod compat;
mod compat_iaca;
mod compat_trust;
mod legacy_proxy;
pub mod metadata_proxy;
mod openapi;
mod service;
mod tenant_lookup;
pub mod workers;

pub use admin::{AUDIT_ACTOR_HEADER, AdminState, admin_route_table, admin_routes};
pub use compat::{CompatState, compat_route_table, compat_routes};
pub use compat_iaca::IacaSettings;
pub use compat_trust::{TrustRoutesState, trust_routes};
pub use legacy_proxy::{ProxyState, proxy_routes};
pub use metadata_proxy::{MetadataProxy, MetadataProxySettings};
pub use openapi::{OPENAPI_JSON, openapi_routes};
pub use service::{
    AdminError, AdminService, AuditQuery, IssuerChanges, NewInvite, NewTenant, TenantPatch, VerifierChanges,
};
pub use workers::{Clock, ManualClock, SystemClock, WorkerSettings, Workers};
