//! # walletd-protocol: the API v2 WebSocket messages
//!
//! One definition of every frame of the engine's protocol (`docs` / spec `v2-websocket.md`), used by the engine,
//! the Rust holder and the fuzz targets. Client frames ignore unknown fields (the web client adds `timestamp`,
//! `tenantId`, `pre_authorized_code`); server frames always carry `timestamp`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod codes;
pub mod oid4vci;
pub mod oid4vp;
mod server;
mod time;

pub use client::{
    ClientMessage, CredentialNotification, FlowAction, FlowStart, Handshake, MAX_FLOW_ID_CHARS, MatchResponse,
    ParseError, Proof, Protocol, SignResponse, parse_client_frame,
};
pub use codes::ErrorCode;
pub use server::{
    ErrorBody, FlowComplete, IssuedCredential, ServerFrame, ServerMessage, SignAction, TopLevelError, capabilities,
};
pub use time::{format_unix_millis, rfc3339_now};

/// Features a full-profile client may declare in its handshake; anything else is dropped from the reply.
pub const KNOWN_FEATURES: &[&str] = &[
    "decline",
    "deferred",
    "match_request",
    "mdoc",
    "presentation_definition",
    "select_credential",
    "transaction_data",
];
