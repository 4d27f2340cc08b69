//! # walletd-protocol: the wire types shared by the roles and their clients
//!
//! One definition of every frame of the engine's protocol (docs/api-v2.md), used by the engine,
//! the Rust holder and the fuzz targets. Client frames ignore unknown fields (the web client adds `timestamp`,
//! `tenantId`, `pre_authorized_code`); server frames always carry `timestamp`.
//!
//! - [`ClientMessage`] / [`parse_client_frame`]: what a client sends; [`ServerFrame`] / [`ServerMessage`]: what the
//!   engine sends; [`ErrorCode`]: the codes of `error` and `flow_error`.
//! - [`HttpErrorCode`]: the `error` codes of the REST API (docs/api-v1.md), which `walletd_common::http::ApiError`
//!   answers with.
//! - [`api_v2_schema`]: the JSON Schema of API v2, derived from these types with `schemars`. The derive is always
//!   on (no cargo feature): the schema is part of the contract, `schemars` is small and only adds trait impls, and a
//!   feature would let the checked-in `docs/api-v2.schema.json` drift in builds that leave it off. The crate's
//!   `schema` test fails when the checked-in file is stale; `WALLETD_BLESS=1 cargo test -p walletd-protocol --test
//!   schema` rewrites it.
#![warn(missing_docs)]

pub mod b64u_tag;
mod client;
mod codes;
mod http_codes;
pub mod mdoc;
pub mod oid4vci;
pub mod oid4vp;
mod schema;
mod server;
mod sign_params;
mod time;

pub use client::{
    ClientMessage, CredentialNotification, FlowAction, FlowStart, Handshake, MAX_FLOW_ID_CHARS, MatchResponse,
    ParseError, Proof, Protocol, SelectCredential, SignResponse, parse_client_frame,
};
pub use codes::ErrorCode;
pub use http_codes::HttpErrorCode;
pub use schema::{CLIENT_FRAME_DEF, SERVER_FRAME_DEF, api_v2_schema, api_v2_schema_text};
pub use server::{
    ErrorBody, FlowComplete, IssuedCredential, ServerFrame, ServerMessage, SignAction, TopLevelError, capabilities,
};
pub use sign_params::{MdocDeviceAuthRequest, MdocDocumentToSign, MdocHandover, SignPresentationParams};
pub use time::{format_unix_millis, rfc3339_now};

/// Features a full-profile client may declare in its handshake; anything else is dropped from the reply.
pub const KNOWN_FEATURES: &[&str] = &[
    "decline",
    "deferred",
    "match_request",
    "mdoc",
    "presentation_definition",
    "provider_attestations",
    "select_credential",
    "transaction_data",
];
