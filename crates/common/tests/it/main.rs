//! walletd-common's integration tests as one binary: the configuration reference stays true, and JWKS-based
//! token validation against a real loopback server.

mod config_docs;
mod jwks_remote;
