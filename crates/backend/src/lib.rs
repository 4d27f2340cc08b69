//! The backend role. So far: the web client's trust passthrough (`/v1/evaluate`, `/v1/resolve`) and the legacy
//! v1 proxy (`/proxy`, off by default), both thin adapters onto the trust client and the egress guard.

mod compat_trust;
mod legacy_proxy;
mod tenant_lookup;

pub use compat_trust::{TrustRoutesState, trust_routes};
pub use legacy_proxy::{ProxyState, proxy_routes};
