//! Legacy credential records of the compat API (`features.legacy_credential_records`), kept as blobs.

use super::*;

impl StorageService {
    /// Creates or replaces a legacy record (`kind` `vc` or `vp`) under its identifier.
    pub async fn legacy_put(
        &self,
        owner: &Owner,
        kind: &str,
        record_id: &str,
        body: &serde_json::Value,
    ) -> Result<(), StorageError> {
        let limits = self.write_limits(owner).await?;
        if record_id.is_empty() || record_id.len() > 1024 {
            return Err(StorageError::BadRequest(
                "the record identifier must be 1..1024 bytes".into(),
            ));
        }
        let text = body.to_string();
        check_size(text.len(), limits.max_blob_bytes)?;
        self.inner
            .store
            .legacy_record_put(owner.key(), kind, record_id, &text)
            .await?;
        Ok(())
    }

    /// One legacy record.
    pub async fn legacy_get(
        &self,
        owner: &Owner,
        kind: &str,
        record_id: &str,
    ) -> Result<serde_json::Value, StorageError> {
        self.limits(owner).await?;
        let text = self
            .inner
            .store
            .legacy_record_get(owner.key(), kind, record_id)
            .await?
            .ok_or(StorageError::NotFound)?;
        serde_json::from_str(&text).map_err(|_| StorageError::Store(StoreError::Corrupt("legacy record".into())))
    }

    /// The caller's legacy records of a kind (at most `storage.max_blobs_per_user`).
    pub async fn legacy_list(&self, owner: &Owner, kind: &str) -> Result<Vec<serde_json::Value>, StorageError> {
        let limits = self.limits(owner).await?;
        let rows = self
            .inner
            .store
            .legacy_record_list(owner.key(), kind, limits.quota.max_blobs)
            .await?;
        Ok(rows.iter().filter_map(|t| serde_json::from_str(t).ok()).collect())
    }

    /// Deletes a legacy record.
    pub async fn legacy_delete(&self, owner: &Owner, kind: &str, record_id: &str) -> Result<(), StorageError> {
        self.write_limits(owner).await?;
        if self
            .inner
            .store
            .legacy_record_delete(owner.key(), kind, record_id)
            .await?
        {
            Ok(())
        } else {
            Err(StorageError::NotFound)
        }
    }
}
