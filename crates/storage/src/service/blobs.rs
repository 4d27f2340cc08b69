//! Blobs of one owner: read, write with preconditions and quotas, delete (leaving a tombstone), list.

use super::*;

impl StorageService {
    /// One live blob with its data.
    pub async fn get(&self, owner: &Owner, id: &str) -> Result<Blob, StorageError> {
        validate_id(id)?;
        self.limits(owner).await?;
        let rec = self
            .inner
            .store
            .blob_get(owner.key(), id, true)
            .await?
            .ok_or(StorageError::NotFound)?;
        Ok(blob_from(rec))
    }

    /// Creates or replaces a blob under `pre`, atomically.
    pub async fn put(
        &self,
        owner: &Owner,
        id: &str,
        data: Vec<u8>,
        content_type: Option<String>,
        pre: Precondition,
    ) -> Result<Written, StorageError> {
        validate_id(id)?;
        refuse_reserved(id)?;
        if let Some(ct) = &content_type {
            validate_content_type(ct)?;
        }
        let limits = self.write_limits(owner).await?;
        check_size(data.len(), limits.max_blob_bytes)?;
        let cond = match pre {
            Precondition::None => WriteCondition::Always,
            Precondition::Version(v) => WriteCondition::IfVersion(v),
            Precondition::Exists => WriteCondition::IfExists,
            Precondition::Absent => WriteCondition::IfAbsent,
        };
        let digest = digest(&data);
        let content = BlobContent {
            data: &data,
            digest: &digest,
            content_type: content_type.as_deref(),
        };
        let outcome = self
            .inner
            .store
            .blob_put(owner.key(), id, content, &cond, limits.quota)
            .await;
        self.wrote(owner);
        match outcome? {
            WriteOutcome::Written { version, created } => Ok(Written { version, created }),
            WriteOutcome::Missing => Err(StorageError::NotFound),
            WriteOutcome::Mismatch { version, .. } => Err(StorageError::VersionMismatch {
                current_version: version,
            }),
            WriteOutcome::QuotaExceeded { kind, limit } => Err(quota_error(kind, limit)),
        }
    }

    /// Deletes a blob, leaving a tombstone in the change feed. `expected` is the `If-Match` version, if any.
    pub async fn delete(&self, owner: &Owner, id: &str, expected: Option<i64>) -> Result<i64, StorageError> {
        validate_id(id)?;
        refuse_reserved(id)?;
        self.write_limits(owner).await?;
        let outcome = self.inner.store.blob_delete(owner.key(), id, expected).await;
        self.wrote(owner);
        let outcome = outcome?;
        // Deletions are rare and already write: a good moment to drop this user's expired tombstones.
        if matches!(outcome, WriteOutcome::Written { .. })
            && let Err(e) = self
                .inner
                .store
                .blob_purge_tombstones(Some(owner.key()), self.tombstone_cutoff())
                .await
        {
            tracing::warn!(error = %e, "purging expired tombstones failed");
        }
        match outcome {
            WriteOutcome::Written { version, .. } => Ok(version),
            WriteOutcome::Mismatch { version, .. } => Err(StorageError::VersionMismatch {
                current_version: version,
            }),
            WriteOutcome::Missing | WriteOutcome::QuotaExceeded { .. } => Err(StorageError::NotFound),
        }
    }

    /// A page of the caller's live blobs ordered by id; data only with `include_data`.
    pub async fn list(
        &self,
        owner: &Owner,
        cursor: Option<&str>,
        limit: Option<u32>,
        include_data: bool,
    ) -> Result<ListPage, StorageError> {
        self.limits(owner).await?;
        let cfg = &self.inner.cfg;
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => String::new(),
            Some(c) => decode_list_cursor(c)?,
        };
        let limit = effective_limit(limit, cfg.page_size_default, cfg.page_size_max)?;
        let store = &self.inner.store;
        let metas = store.blob_list(owner.key(), &after, None, limit + 1, false).await?;
        let take = if include_data {
            within_budget(&metas, limit, cfg.max_page_data_bytes)
        } else {
            metas.len().min(limit as usize)
        };
        let more = metas.len() > take;
        let items: Vec<BlobRecord> = if include_data && take > 0 {
            let upto = metas[take - 1].id.as_str();
            store
                .blob_list(owner.key(), &after, Some(upto), take as i64, true)
                .await?
        } else {
            metas.into_iter().take(take).collect()
        };
        let next_cursor = match items.last() {
            Some(last) if more => Some(encode_cursor(CURSOR_LIST, last.id.as_bytes())),
            _ => None,
        };
        Ok(ListPage {
            items: items.into_iter().map(blob_from).collect(),
            next_cursor,
        })
    }
}

/// The keystore is written only through the private-data path (its ETag compare-and-swap): the blob API writing it
/// would let a client (or a stolen storage-scoped token) replace the keys every other device unlocks from.
fn refuse_reserved(id: &str) -> Result<(), StorageError> {
    if id == KEYSTORE_ID {
        return Err(StorageError::Reserved(KEYSTORE_ID));
    }
    Ok(())
}
