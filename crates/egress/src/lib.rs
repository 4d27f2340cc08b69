//! # walletd-egress: the egress guard
//!
//! The one outbound HTTP client for every URL that comes from users, offers, request objects, metadata or
//! credentials (see `docs/egress.md`). Operator-configured endpoints (PDP, registry, database) do not use it.
//!
//! What a call goes through, in order, each step in its own module:
//! 1. [`policy`]: URL parse, scheme (`https`; `http` only with `allow_http`), no credentials in the URL, IP
//!    literals in every encoding ([`ip`]) checked against the block list and `egress.allowed_cidrs` holes;
//! 2. [`resolver`]: a host name is resolved ONCE, and every address is checked;
//! 3. `pin`: the checked addresses are the only answer the HTTP stack's resolver can give (no rebinding);
//! 4. [`redirect`]: redirects are followed by hand, each hop checked again from step 1;
//! 5. `body`: the (decompressed) body is read as a stream and cut at the call's maximum, the whole call under
//!    the total deadline.
//!
//! ```no_run
//! # async fn demo() -> Result<(), walletd_egress::EgressError> {
//! use walletd_egress::{EgressClient, EgressConfig, METADATA_MAX_BYTES};
//! let client = EgressClient::new(EgressConfig::default())?;
//! let resp = client.get("https://issuer.example/.well-known/openid-credential-issuer", METADATA_MAX_BYTES).await?;
//! let meta: serde_json::Value = resp.error_for_status()?.json().map_err(|_| walletd_egress::EgressError::InvalidUrl("bad json".into()))?;
//! # let _ = meta; Ok(()) }
//! ```
#![warn(missing_docs)]

mod body;
mod client;
mod config;
mod error;
pub mod ip;
mod pin;
pub mod policy;
pub mod redirect;
pub mod resolver;
pub mod tls;

pub use body::{CREDENTIAL_MAX_BYTES, METADATA_MAX_BYTES, REQUEST_OBJECT_MAX_BYTES};
pub use client::{EgressClient, EgressRequest, EgressResponse};
pub use config::{EgressConfig, MAX_REDIRECTS_LIMIT, default_user_agent};
pub use error::{BLOCKED_METRIC, EgressError, Embedding, RangeKind, Rule, TimeoutKind};
pub use policy::{Destination, Policy};
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, StatusCode};
pub use url::Url;
