//! The web client's private data (the keystore blob, ETag compare-and-swap) and deleting a user's data.

use super::*;

impl StorageService {
    /// The keystore blob (reserved id `keystore`); an absent one is empty bytes with the etag of empty bytes.
    pub async fn get_private_data(&self, owner: &Owner) -> Result<PrivateData, StorageError> {
        self.limits(owner).await?;
        match self.inner.store.blob_get(owner.key(), KEYSTORE_ID, true).await? {
            Some(rec) => Ok(PrivateData {
                etag: quote(&rec.digest),
                bytes: rec.data.unwrap_or_default(),
            }),
            None => Ok(PrivateData {
                etag: quote(&digest(&[])),
                bytes: Vec::new(),
            }),
        }
    }

    /// The current quoted etag of the keystore, without reading its bytes (for 304 answers).
    pub async fn private_data_etag(&self, owner: &Owner) -> Result<String, StorageError> {
        self.limits(owner).await?;
        Ok(
            match self.inner.store.blob_get(owner.key(), KEYSTORE_ID, false).await? {
                Some(rec) => quote(&rec.digest),
                None => quote(&digest(&[])),
            },
        )
    }

    /// Atomic replace; `if_match` = the client's X-Private-Data-If-Match (a quoted etag); mismatch ->
    /// `StorageError::PreconditionFailed { current_etag }`. Returns the new etag.
    pub async fn put_private_data(
        &self,
        owner: &Owner,
        bytes: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<String, StorageError> {
        let limits = self.write_limits(owner).await?;
        check_size(bytes.len(), limits.max_blob_bytes)?;
        let empty = digest(&[]);
        let cond = match if_match.map(str::trim).filter(|s| !s.is_empty()) {
            None => WriteCondition::Always,
            Some(tag) => {
                let expected = unquote_etag(tag).to_string();
                WriteCondition::IfDigest {
                    absent_matches: expected == empty,
                    digest: expected,
                }
            }
        };
        let new_digest = digest(&bytes);
        let content = BlobContent {
            data: &bytes,
            digest: &new_digest,
            content_type: None,
        };
        let outcome = self
            .inner
            .store
            .blob_put(owner.key(), KEYSTORE_ID, content, &cond, limits.quota)
            .await;
        self.wrote(owner);
        match outcome? {
            WriteOutcome::Written { .. } => Ok(quote(&new_digest)),
            WriteOutcome::Missing => Err(StorageError::PreconditionFailed {
                current_etag: quote(&empty),
            }),
            WriteOutcome::Mismatch { digest, .. } => Err(StorageError::PreconditionFailed {
                current_etag: quote(&digest),
            }),
            WriteOutcome::QuotaExceeded { kind, limit } => Err(quota_error(kind, limit)),
        }
    }

    /// Removes every blob and tombstone of the user (account deletion).
    pub async fn delete_user(&self, owner: &Owner) -> Result<(), StorageError> {
        validate_owner(owner)?;
        let deleted = self.inner.store.blob_delete_user(owner.key()).await;
        self.wrote(owner);
        deleted?;
        Ok(())
    }
}
