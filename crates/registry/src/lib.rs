//! # walletd-registry: the registry role
//!
//! SD-JWT VC Type Metadata for a `vct` from configured sources, local overrides, registered documents or an
//! on-demand fetch through the egress guard; `extends` chains merged with loop and depth limits; `vct#integrity`,
//! `extends#integrity` and `uri#integrity` (SRI) verified; images embedded as `data:` URIs; HTTP caching
//! headers honoured; a cache in memory or Redis with coalesced misses and stale serving. Also issuer metadata
//! with the tenant's trust verdict.

pub mod cache;
pub mod document;
mod error;
pub mod gate;
pub mod images;
mod issuer;
mod routes;
mod service;
pub mod sources;
pub mod sri;

pub use cache::Cache;
pub use error::RegistryError;
pub use gate::{FetchGate, Fetcher};
pub use issuer::IssuerMetadataResolver;
pub use routes::{RegistryState, registry_routes, route_table};
pub use service::{Registry, Served, freshness};
