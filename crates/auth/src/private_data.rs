//! The user's private data (the web client's encrypted keystore) lives in the storage role as the blob with the
//! reserved id `keystore`. The auth service reaches it through this port; the binary implements it over the
//! storage service (`crates/walletd/src/private_data.rs`), so this crate does not depend on the storage role.

use async_trait::async_trait;

/// A user's private data and its ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateData {
    pub bytes: Vec<u8>,
    /// Quoted, as sent in `X-Private-Data-ETag`.
    pub etag: String,
}

/// Why the private data could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateDataError {
    /// `If-Match` did not match; carries the current ETag.
    #[error("private data changed meanwhile")]
    PreconditionFailed { current_etag: String },
    /// Refused for a reason the caller can fix (quota, size); the message is safe to show.
    #[error("{0}")]
    Refused(String),
    /// The storage failed.
    #[error("private data storage failed: {0}")]
    Failed(String),
}

/// Access to users' private data.
#[async_trait]
pub trait PrivateDataStore: Send + Sync + 'static {
    /// The private data (empty bytes when the user has none yet).
    async fn get(&self, tenant_id: &str, user_id: &str) -> Result<PrivateData, PrivateDataError>;
    /// Replaces the private data, optionally only when its ETag is `if_match`; returns the new ETag.
    async fn put(
        &self,
        tenant_id: &str,
        user_id: &str,
        bytes: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<String, PrivateDataError>;
    /// Removes every blob of the user (account deletion).
    async fn delete_user(&self, tenant_id: &str, user_id: &str) -> Result<(), PrivateDataError>;
}
