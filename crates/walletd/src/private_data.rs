//! Auth's private-data port answered by the storage role: the web client's keystore is the storage blob with the
//! reserved id `keystore`, written with the storage service's atomic compare-and-swap. The wiring lives here so
//! neither role crate depends on the other.

use async_trait::async_trait;
use walletd_auth::{PrivateData, PrivateDataError, PrivateDataStore};
use walletd_storage::{Owner, StorageError, StorageService};

/// [`PrivateDataStore`] over the storage service (same database, also when the storage role runs elsewhere).
pub struct StoragePrivateData(pub StorageService);

#[async_trait]
impl PrivateDataStore for StoragePrivateData {
    async fn get(&self, tenant_id: &str, user_id: &str) -> Result<PrivateData, PrivateDataError> {
        let pd = self
            .0
            .get_private_data(&Owner::new(tenant_id, user_id))
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
        self.0
            .put_private_data(&Owner::new(tenant_id, user_id), bytes, if_match)
            .await
            .map_err(from_storage)
    }

    async fn delete_user(&self, tenant_id: &str, user_id: &str) -> Result<(), PrivateDataError> {
        self.0
            .delete_user(&Owner::new(tenant_id, user_id))
            .await
            .map_err(from_storage)
    }
}

/// Storage errors in the port's terms: what the user can fix (size, quota, a disabled tenant) is `Refused` with a
/// message safe to show; database trouble is `Failed`.
fn from_storage(e: StorageError) -> PrivateDataError {
    match e {
        StorageError::PreconditionFailed { current_etag } => PrivateDataError::PreconditionFailed { current_etag },
        StorageError::BadRequest(_)
        | StorageError::BlobTooLarge { .. }
        | StorageError::QuotaExceeded(_)
        | StorageError::Tenant(_)
        | StorageError::RateLimited(_) => PrivateDataError::Refused(e.to_string()),
        other => PrivateDataError::Failed(other.to_string()),
    }
}
