//! walletd's storage role: client-encrypted blobs per user and tenant with atomic versions, a per-user change
//! feed with tombstones for multi-device sync, and quotas; plus the web client's private-data API.
//!
//! The server stores opaque bytes: nothing here parses, decrypts or logs blob contents. [`StorageService`] holds
//! every rule; [`routes`] (service API) and [`compat`] (the web client's routes and the legacy credential
//! records) are thin HTTP adapters onto it, and the auth role calls it directly for private data and account
//! deletion.

pub mod compat;
mod http;
pub mod routes;
pub mod service;

pub use compat::compat_routes;
pub use routes::routes;
pub use service::{
    Blob, Change, KEYSTORE_ID, ListPage, Owner, Precondition, PrivateData, StorageError, StorageService, SyncPage,
    Written, digest, is_valid_blob_id,
};
