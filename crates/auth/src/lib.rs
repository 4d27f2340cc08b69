//! The auth role: WebAuthn passkeys (with PRF passed through), accounts, tenants, token issuance and the JWKS.
//! It alone holds signing keys and issues tokens; other roles only validate them.
//!
//! [`AuthService`] holds the logic; [`service_routes`] (the service API) and [`compat_routes`] (the web client's
//! `/user/*` API) are thin adapters onto it.

mod bodies;
mod compat;
mod error;
mod handle;
mod http;
mod keyring;
mod maintenance;
mod oidc_gate;
mod private_data;
mod routes;
mod service;
mod tagged;
mod tokens;
mod webauthn;

pub use compat::compat_routes;
pub use error::{AuthError, ErrorKind};
pub use handle::{UserHandle, tenant_hash, user_handle};
pub use http::AuthState;
pub use keyring::{KeyRing, KeyRingError, RingPurpose, RingSettings, jwks_routes};
pub use maintenance::spawn_maintenance;
pub use oidc_gate::{GATE_REQUIRED, OidcGateVerifier};
pub use private_data::{PrivateData, PrivateDataError, PrivateDataStore};
pub use routes::service_routes;
pub use service::{AccountInfo, AuthService, Ceremony, PasskeyInfo, RegistrationFinish, RegistrationStart, Session};
pub use tokens::{AccessToken, TokenIssuer, hash_refresh_token, new_refresh_token};

use std::sync::Arc;

use axum::Router;
use walletd_common::http::Authenticator;

/// Both auth routers (service API and compatibility API) over one service.
pub fn routes(service: Arc<AuthService>, authenticator: Authenticator) -> Router {
    let state = AuthState { service, authenticator };
    service_routes(state.clone()).merge(compat_routes(state))
}
