//! The change feed for multi-device sync, and the purge of expired tombstones it depends on.

use super::*;

impl StorageService {
    /// A page of the change feed after `since` (empty or absent: from the beginning).
    pub async fn sync(&self, owner: &Owner, since: Option<&str>, limit: Option<u32>) -> Result<SyncPage, StorageError> {
        self.limits(owner).await?;
        let cfg = &self.inner.cfg;
        let (mut since, mut mark) = match since.filter(|c| !c.is_empty()) {
            None => (0, 0),
            Some(c) => decode_sync_cursor(c)?,
        };
        let limit = effective_limit(limit, cfg.sync_limit_default, cfg.sync_limit_max)?;
        let store = &self.inner.store;
        let mut reset_required = false;
        // At most two passes: the second one only after a reset, from the beginning.
        for _ in 0..2 {
            // A device already at the head (the usual poll) and a user who never wrote: the marks alone answer, one
            // primary-key read instead of the feed query plus the marks. Every change has a sequence number at most
            // the head it committed with, so none is after `since`; a write committing after this read is the next
            // poll's. Such a device is never behind a purge (purges stay at or below the head). A cursor beyond the
            // head (another store's history) goes on to the reset below. (docs/performance.md, "bearer GET".)
            // The marks are served from memory while fresh and no local write came after them (heads.rs says why
            // that is safe); a miss reads them and files them for the next poll.
            let (head, purged) = match self.inner.heads.lookup(&owner.tenant_id, &owner.user_id) {
                heads::Lookup::Hit(marks) => marks,
                heads::Lookup::Miss(ticket) => {
                    let marks = store.blob_seq_marks(owner.key()).await?;
                    self.inner.heads.file(ticket, marks);
                    marks
                }
            };
            if since == head {
                return Ok(SyncPage {
                    has_more: false,
                    cursor: encode_sync_cursor(since, purged.max(mark)),
                    reset_required,
                    changes: Vec::new(),
                });
            }
            let metas = store.blob_changes(owner.key(), since, None, limit + 1, false).await?;
            let take = within_budget(&metas, limit, cfg.max_page_data_bytes);
            let changes = if take > 0 {
                let upto = metas[take - 1].seq;
                store
                    .blob_changes(owner.key(), since, Some(upto), take as i64, true)
                    .await?
            } else {
                Vec::new()
            };
            // Read after the changes: a purge that removed a tombstone this page should have carried is visible.
            let (head, purged) = store.blob_seq_marks(owner.key()).await?;
            // A device is behind a purge when its position is below the newest purged tombstone, unless its cursor
            // already accounts for that purge (it is paging through a reset that started after it).
            let behind_purge = since < purged && mark < purged;
            if since > 0 && (behind_purge || since > head) {
                reset_required = true;
                (since, mark) = (0, 0);
                continue;
            }
            let cutoff = self.tombstone_cutoff();
            if changes.iter().any(|c| c.deleted && c.updated_at < cutoff) {
                store.blob_purge_tombstones(Some(owner.key()), cutoff).await?;
            }
            let cursor_seq = changes.last().map_or(since, |c| c.seq);
            return Ok(SyncPage {
                has_more: metas.len() > take,
                // The device is now consistent with every purge up to `purged`.
                cursor: encode_sync_cursor(cursor_seq, purged.max(mark)),
                reset_required,
                changes: changes
                    .into_iter()
                    .map(|r| Change {
                        id: r.id,
                        version: r.version,
                        deleted: r.deleted,
                        updated_at: r.updated_at,
                        content_type: r.content_type,
                        data: if r.deleted { None } else { r.data },
                    })
                    .collect(),
            });
        }
        // A reset pass starts at 0, which never needs another reset.
        Err(StorageError::BadRequest("the cursor cannot be served".into()))
    }

    /// Purges every user's tombstones older than `storage.tombstone_retention`; returns how many. Called
    /// periodically (backend worker, storage role timer) and opportunistically per user.
    pub async fn purge_expired_tombstones(&self) -> Result<u64, StorageError> {
        Ok(self
            .inner
            .store
            .blob_purge_tombstones(None, self.tombstone_cutoff())
            .await?)
    }

    pub(super) fn tombstone_cutoff(&self) -> i64 {
        let retention = i64::try_from(self.inner.cfg.tombstone_retention.as_millis()).unwrap_or(i64::MAX);
        now_millis().saturating_sub(retention)
    }

    // -- legacy credential records (features.legacy_credential_records) --
}
