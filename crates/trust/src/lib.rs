//! # walletd-trust: the AuthZEN trust client
//!
//! Asks a PDP (docs/api-v1.md "Trust") whether a key is bound to an entity in a role:
//! `POST {pdp_url}{trust.evaluation_path}` with `{"subject", "resource", "action", "context"}` and reads
//! `{"decision", "context": {"reason", "trust_metadata"}}`.
//!
//! - The PDP is the tenant's own (`trust_config.pdp_url`), else `trust.default_endpoint`; with neither, the
//!   verdict is "unknown" (`trusted: None`), never trusted.
//! - Fail closed: timeouts, non-2xx answers and bad JSON give `trusted: Some(false)` (see
//!   [`TrustClient::evaluate`]); [`TrustClient::try_evaluate`] reports the error instead.
//! - Verdicts are cached per tenant (TTL, then stale-while-revalidate for `trust.stale_ttl`).
//! - PDPs are operator configuration: the client does not use the egress guard and may reach private addresses.
#![warn(missing_docs)]

mod client;
mod config;
mod model;

pub use client::{TenantTrustSettings, TrustClient, TrustError};
pub use config::TrustConfig;
pub use model::{Action, EvaluationRequest, EvaluationResponse, Resource, Role, Subject, Verdict};
