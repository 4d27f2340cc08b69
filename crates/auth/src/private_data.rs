//! The user's private data (the web client's encrypted keystore) lives in the storage role as the blob with the
//! reserved id `keystore`. The auth service reaches it through this port; walletd wires the storage service in.

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

/// The storage role's service is the private-data store: the keystore blob, with its atomic compare-and-swap.
#[async_trait]
impl PrivateDataStore for walletd_storage::StorageService {
    async fn get(&self, tenant_id: &str, user_id: &str) -> Result<PrivateData, PrivateDataError> {
        let pd = self
            .get_private_data(&walletd_storage::Owner::new(tenant_id, user_id))
            .await
            .map_err(from_storage)?;
        Ok(PrivateData {
            bytes: pd.bytes,
            etag: pd.etag,
        })
    }

    async fn put(
        &self,
        tenant_id: &str,
        user_id: &str,
        bytes: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<String, PrivateDataError> {
        self.put_private_data(&walletd_storage::Owner::new(tenant_id, user_id), bytes, if_match)
            .await
            .map_err(from_storage)
    }

    async fn delete_user(&self, tenant_id: &str, user_id: &str) -> Result<(), PrivateDataError> {
        walletd_storage::StorageService::delete_user(self, &walletd_storage::Owner::new(tenant_id, user_id))
            .await
            .map_err(from_storage)
    }
}

fn from_storage(e: walletd_storage::StorageError) -> PrivateDataError {
    use walletd_storage::StorageError as S;
    match e {
        S::PreconditionFailed { current_etag } => PrivateDataError::PreconditionFailed { current_etag },
        S::BadRequest(_) | S::BlobTooLarge { .. } | S::QuotaExceeded(_) | S::TenantDisabled => {
            PrivateDataError::Refused(e.to_string())
        }
        other => PrivateDataError::Failed(other.to_string()),
    }
}
