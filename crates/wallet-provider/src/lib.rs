//! The wallet-provider role (docs/wallet-provider.md): it vouches for the wallet's keys and instances towards
//! issuers that follow HAIP.
//!
//! - Key attestations (OpenID4VCI 1.0 Appendix D, `key-attestation+jwt`) for the web client's route and a
//!   service route;
//! - Wallet Instance Attestations (`oauth-client-attestation+jwt`) after a single-use challenge and a proof of
//!   possession of the instance key;
//! - wallet instances per tenant, listed and revoked by operators (audit-logged);
//! - a Token Status List (`statuslist+jwt`) where a revoked instance's attestations are marked;
//! - the signing key in the database key ring or on a PKCS#11 token ([`signer`]).
//!
//! [`WalletProviderService`] holds the logic; [`service_routes`], [`compat_routes`] and [`admin_routes`] are thin
//! adapters onto it.

mod admin;
mod compat;
mod http;
pub mod limits;
mod routes;
mod service;
pub mod signer;
pub mod statuslist;
mod worker;

pub use admin::{admin_route_table, admin_routes};
pub use compat::{compat_route_table, compat_routes};
pub use http::{HttpError, WpState};
pub use routes::{STATUS_LIST_MEDIA_TYPE, route_table, service_routes};
pub use service::{
    Caller, Challenge, IssuedKeyAttestation, IssuedWia, KEY_ATTESTATION_TYP, KeyAttestationRequest, STATUS_LIST_TYP,
    Settings, StatusListToken, WIA_POP_TYP, WIA_TYP, WalletProviderService, WiaRequest, WpError,
};
pub use worker::{run_once, spawn_worker};

use axum::Router;

/// The service API and the compat routes over one service (the main listener).
pub fn routes(state: WpState) -> Router {
    service_routes(state.clone()).merge(compat_routes(state))
}
