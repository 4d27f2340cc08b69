//! The storage role's tables: client-encrypted blobs with versions, the per-user change sequence and tombstones,
//! quota counters, and the legacy credential records.
//!
//! Every write runs in one transaction that (1) bumps the user's change-sequence counter with an upsert that
//! RETURNs the new number, (2) applies the blob change as ONE conditional statement (the compare-and-swap: its
//! `WHERE` carries the expected version or digest, and no row coming back means the condition failed), and (3)
//! adjusts the quota counters, rolling back when a limit is exceeded. Step 1 locks the user's counter row (a row lock
//! on PostgreSQL, the database write lock on SQLite) until commit, so a user's writes commit in sequence order: a
//! reader that sees change `n` has seen every change below `n`, which is what lets the sync feed use the sequence
//! number as its cursor without skipping anything.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_millis};

/// Whose blobs: the tenant and user of the authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct BlobOwner<'a> {
    pub tenant_id: &'a str,
    pub user_id: &'a str,
}

/// The new content of a blob. The bytes are opaque; `digest` is computed by the caller (the compat API's ETag).
#[derive(Debug, Clone, Copy)]
pub struct BlobContent<'a> {
    pub data: &'a [u8],
    pub digest: &'a str,
    pub content_type: Option<&'a str>,
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Always (create or replace).
    Always,
    /// Only when a live blob exists with exactly this version.
    IfVersion(i64),
    /// Only when a live blob exists (`If-Match: *`).
    IfExists,
    /// Only when no live blob exists (`If-None-Match: *`).
    IfAbsent,
    /// Only when the live blob's digest is `digest`; with `absent_matches`, also when there is no live blob (the
    /// compat API's etag of empty private data matches "nothing stored yet").
    IfDigest { digest: String, absent_matches: bool },
}

/// Per-user limits checked inside the write transaction.
#[derive(Debug, Clone, Copy)]
pub struct BlobQuota {
    pub max_blobs: i64,
    pub max_bytes: i64,
}

/// Which quota a write would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// Number of live blobs.
    Count,
    /// Total bytes of live blobs.
    Bytes,
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written (or deleted): the new version, and whether a live blob was created (no live blob before).
    Written { version: i64, created: bool },
    /// The condition needs a live blob and there is none.
    Missing,
    /// The condition did not hold; the live blob's current version and digest.
    Mismatch { version: i64, digest: String },
    /// The write would exceed a quota; nothing changed.
    QuotaExceeded { kind: QuotaKind, limit: i64 },
}

/// One blob row (live, or a tombstone in the change feed). `data` is `None` when it was not asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRecord {
    pub id: String,
    pub version: i64,
    pub seq: i64,
    pub deleted: bool,
    pub size: i64,
    pub digest: String,
    pub content_type: Option<String>,
    pub updated_at: i64,
    pub data: Option<Vec<u8>>,
}

const META_COLUMNS: &str = "id, version, seq, deleted, size, digest, content_type, updated_at";

/// The statement of [`Store::blob_get`] (binds: tenant, user, blob id). Public so the plan test can EXPLAIN the
/// exact text; it must reach the row through the primary key whatever the table's statistics (migration 0006).
#[doc(hidden)]
pub fn blob_get_sql(with_data: bool) -> String {
    format!(
        "SELECT {META_COLUMNS}{} FROM storage_blobs WHERE tenant_id = $1 AND user_id = $2 AND id = $3 AND deleted = 0",
        if with_data { ", data" } else { "" }
    )
}

/// The compare-and-swap statement of [`Store::blob_put`] for `cond` (binds: tenant, user, blob id, data, size,
/// digest, content type, updated_at, seq, then the expected digest or version when `cond` has one). It RETURNs the
/// new version, the previous size and whether there was no live blob before; no row means the condition failed.
/// Public so the benchmark's baseline handler runs exactly this text.
#[doc(hidden)]
pub fn blob_write_sql(cond: &WriteCondition) -> String {
    // The SET list keeps the previous size and liveness so RETURNING can report them. In the upsert's DO UPDATE
    // the old row must be named by the table (`excluded` is the new one); a plain UPDATE names it unqualified.
    const SET_UPSERT: &str = "prev_size = storage_blobs.size, prev_deleted = storage_blobs.deleted, \
                              version = storage_blobs.version + 1, seq = $9, deleted = 0, data = $4, size = $5, \
                              digest = $6, content_type = $7, updated_at = $8";
    const SET_UPDATE: &str = "prev_size = size, prev_deleted = deleted, version = version + 1, seq = $9, \
                              deleted = 0, data = $4, size = $5, digest = $6, content_type = $7, updated_at = $8";
    const UPSERT: &str = "INSERT INTO storage_blobs (tenant_id, user_id, id, version, seq, deleted, data, size, \
                          digest, content_type, updated_at, prev_size, prev_deleted) \
                          VALUES ($1, $2, $3, 1, $9, 0, $4, $5, $6, $7, $8, 0, 1) \
                          ON CONFLICT (tenant_id, user_id, id) DO UPDATE SET";
    const UPDATE_LIVE: &str = "WHERE tenant_id = $1 AND user_id = $2 AND id = $3 AND deleted = 0";
    const RETURNING: &str = "RETURNING version, prev_size, prev_deleted";
    match cond {
        WriteCondition::Always => format!("{UPSERT} {SET_UPSERT} {RETURNING}"),
        // A tombstone may be revived by a create-only write: it is not a live blob.
        WriteCondition::IfAbsent => format!("{UPSERT} {SET_UPSERT} WHERE storage_blobs.deleted = 1 {RETURNING}"),
        WriteCondition::IfDigest {
            absent_matches: true, ..
        } => format!("{UPSERT} {SET_UPSERT} WHERE storage_blobs.deleted = 1 OR storage_blobs.digest = $10 {RETURNING}"),
        WriteCondition::IfDigest {
            absent_matches: false, ..
        } => format!("UPDATE storage_blobs SET {SET_UPDATE} {UPDATE_LIVE} AND digest = $10 {RETURNING}"),
        WriteCondition::IfVersion(_) => {
            format!("UPDATE storage_blobs SET {SET_UPDATE} {UPDATE_LIVE} AND version = $10 {RETURNING}")
        }
        WriteCondition::IfExists => format!("UPDATE storage_blobs SET {SET_UPDATE} {UPDATE_LIVE} {RETURNING}"),
    }
}

/// The statement that allocates a user's next change-sequence number (binds: tenant, user; RETURNs the number).
#[doc(hidden)]
pub const NEXT_SEQ_SQL: &str = "INSERT INTO storage_users (tenant_id, user_id, seq, blob_count, total_bytes, purged_seq) \
     VALUES ($1, $2, 1, 0, 0, 0) ON CONFLICT (tenant_id, user_id) DO UPDATE SET seq = storage_users.seq + 1 RETURNING seq";

/// The statement that applies quota counter deltas (binds: tenant, user, count delta, bytes delta; RETURNs the new
/// counters).
#[doc(hidden)]
pub const ADJUST_COUNTERS_SQL: &str = "UPDATE storage_users SET blob_count = blob_count + $3, total_bytes = total_bytes + $4 \
     WHERE tenant_id = $1 AND user_id = $2 RETURNING blob_count, total_bytes";

impl Store {
    /// A live blob, with its data when `with_data`.
    pub async fn blob_get(
        &self,
        owner: BlobOwner<'_>,
        id: &str,
        with_data: bool,
    ) -> Result<Option<BlobRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(blob_get_sql(with_data)))
            .bind(owner.tenant_id)
            .bind(owner.user_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| record_from_row(&r, with_data)).transpose()
    }

    /// Creates or replaces a blob when `cond` holds, as one compare-and-swap statement, allocating the next change
    /// sequence number and enforcing `quota` in the same transaction. On PostgreSQL the upsert conditions run as
    /// one statement (`blob_write`).
    pub async fn blob_put(
        &self,
        owner: BlobOwner<'_>,
        id: &str,
        content: BlobContent<'_>,
        cond: &WriteCondition,
        quota: BlobQuota,
    ) -> Result<WriteOutcome, StoreError> {
        if self.dialect() == crate::Dialect::Postgres
            && let Some(outcome) = self.blob_put_single(owner, id, content, cond, quota).await?
        {
            return Ok(outcome);
        }
        let now = now_millis();
        let size = content.data.len() as i64;
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let seq = next_seq(&mut tx, owner).await?;

        let sql = blob_write_sql(cond);
        let extra = match cond {
            WriteCondition::IfDigest { digest, .. } => Some(Extra::Text(digest.clone())),
            WriteCondition::IfVersion(v) => Some(Extra::Int(*v)),
            WriteCondition::Always | WriteCondition::IfAbsent | WriteCondition::IfExists => None,
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.tenant_id)
            .bind(owner.user_id)
            .bind(id)
            .bind(content.data)
            .bind(size)
            .bind(content.digest)
            .bind(content.content_type)
            .bind(now)
            .bind(seq);
        q = match extra {
            Some(Extra::Text(t)) => q.bind(t),
            Some(Extra::Int(i)) => q.bind(i),
            None => q,
        };
        let Some(row) = q.fetch_optional(&mut *tx).await? else {
            tx.rollback().await?;
            return self.failed_condition(owner, id).await;
        };
        let version: i64 = row.try_get(0)?;
        let prev_size: i64 = row.try_get(1)?;
        let was_deleted = row.try_get::<i64, _>(2)? != 0;
        let (d_count, d_bytes) = if was_deleted { (1, size) } else { (0, size - prev_size) };
        if let Some(exceeded) = adjust_counters(&mut tx, owner, d_count, d_bytes, Some(quota)).await? {
            tx.rollback().await?;
            return Ok(exceeded);
        }
        tx.commit().await?;
        Ok(WriteOutcome::Written {
            version,
            created: was_deleted,
        })
    }

    /// Deletes a live blob (leaving a tombstone with the next version for the sync feed), when `expected_version`
    /// is `None` or equal to the current version.
    pub async fn blob_delete(
        &self,
        owner: BlobOwner<'_>,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<WriteOutcome, StoreError> {
        let now = now_millis();
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let seq = next_seq(&mut tx, owner).await?;
        let sql = format!(
            "UPDATE storage_blobs SET prev_size = size, prev_deleted = deleted, version = version + 1, seq = $4, \
             deleted = 1, data = $5, size = 0, digest = '', content_type = NULL, updated_at = $6 \
             WHERE tenant_id = $1 AND user_id = $2 AND id = $3 AND deleted = 0{} RETURNING version, prev_size",
            if expected_version.is_some() {
                " AND version = $7"
            } else {
                ""
            }
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.tenant_id)
            .bind(owner.user_id)
            .bind(id)
            .bind(seq)
            .bind(Vec::<u8>::new())
            .bind(now);
        if let Some(v) = expected_version {
            q = q.bind(v);
        }
        let Some(row) = q.fetch_optional(&mut *tx).await? else {
            tx.rollback().await?;
            return self.failed_condition(owner, id).await;
        };
        let version: i64 = row.try_get(0)?;
        let prev_size: i64 = row.try_get(1)?;
        adjust_counters(&mut tx, owner, -1, -prev_size, None).await?;
        tx.commit().await?;
        Ok(WriteOutcome::Written {
            version,
            created: false,
        })
    }

    /// After a conditional statement matched no row: why (for the 404/412 answer). The write has already been
    /// rolled back; this read only describes the state that made it fail.
    pub(crate) async fn failed_condition(&self, owner: BlobOwner<'_>, id: &str) -> Result<WriteOutcome, StoreError> {
        Ok(match self.blob_get(owner, id, false).await? {
            Some(cur) => WriteOutcome::Mismatch {
                version: cur.version,
                digest: cur.digest,
            },
            None => WriteOutcome::Missing,
        })
    }

    /// Live blobs ordered by id, after `after` (exclusive), at most `limit`.
    pub async fn blob_list(
        &self,
        owner: BlobOwner<'_>,
        after: &str,
        upto: Option<&str>,
        limit: i64,
        with_data: bool,
    ) -> Result<Vec<BlobRecord>, StoreError> {
        let sql = format!(
            "SELECT {META_COLUMNS}{} FROM storage_blobs WHERE tenant_id = $1 AND user_id = $2 AND deleted = 0 \
             AND id > $3{} ORDER BY id LIMIT $4",
            if with_data { ", data" } else { "" },
            if upto.is_some() { " AND id <= $5" } else { "" }
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.tenant_id)
            .bind(owner.user_id)
            .bind(after)
            .bind(limit);
        if let Some(u) = upto {
            q = q.bind(u);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(|r| record_from_row(r, with_data)).collect()
    }

    /// Changes (live blobs and tombstones) with `since < seq`, ordered by `seq`, at most `limit`; with `upto`,
    /// only `seq <= upto`.
    pub async fn blob_changes(
        &self,
        owner: BlobOwner<'_>,
        since: i64,
        upto: Option<i64>,
        limit: i64,
        with_data: bool,
    ) -> Result<Vec<BlobRecord>, StoreError> {
        let sql = format!(
            // `seq > 0` (always true) is what lets the planner use the partial change-feed index (migration 0006).
            "SELECT {META_COLUMNS}{} FROM storage_blobs WHERE tenant_id = $1 AND user_id = $2 AND seq > 0 AND seq > $3{} \
             ORDER BY seq LIMIT $4",
            if with_data { ", data" } else { "" },
            if upto.is_some() { " AND seq <= $5" } else { "" }
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.tenant_id)
            .bind(owner.user_id)
            .bind(since)
            .bind(limit);
        if let Some(u) = upto {
            q = q.bind(u);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(|r| record_from_row(r, with_data)).collect()
    }

    /// The user's sequence head and purge mark: `(head_seq, purged_seq)`, zeros for a user who never wrote.
    /// Read after the changes of a sync page, so a purge that removed a tombstone the page should have had is
    /// visible here (and the caller tells the device to reset).
    pub async fn blob_seq_marks(&self, owner: BlobOwner<'_>) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query("SELECT seq, purged_seq FROM storage_users WHERE tenant_id = $1 AND user_id = $2")
            .bind(owner.tenant_id)
            .bind(owner.user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (0, 0),
        })
    }

    /// Purges tombstones last written before `cutoff_millis` (every user when `owner` is `None`), raising each
    /// affected user's purge mark first, in one transaction. Returns how many tombstones were removed.
    pub async fn blob_purge_tombstones(
        &self,
        owner: Option<BlobOwner<'_>>,
        cutoff_millis: i64,
    ) -> Result<u64, StoreError> {
        let old = "SELECT MAX(b.seq) FROM storage_blobs b WHERE b.tenant_id = storage_users.tenant_id \
                   AND b.user_id = storage_users.user_id AND b.deleted = 1 AND b.updated_at < $1";
        let (user_filter, blob_filter) = match owner {
            Some(_) => (
                " AND storage_users.tenant_id = $2 AND storage_users.user_id = $3",
                " AND tenant_id = $2 AND user_id = $3",
            ),
            None => ("", ""),
        };
        // CASE rather than GREATEST/MAX(a, b): the two dialects spell the scalar maximum differently.
        let mark = format!(
            "UPDATE storage_users SET purged_seq = CASE WHEN ({old}) > purged_seq THEN ({old}) ELSE purged_seq END \
             WHERE EXISTS ({old}){user_filter}"
        );
        let purge = format!("DELETE FROM storage_blobs WHERE deleted = 1 AND updated_at < $1{blob_filter}");
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let mut q1 = sqlx::query(sqlx::AssertSqlSafe(mark)).bind(cutoff_millis);
        let mut q2 = sqlx::query(sqlx::AssertSqlSafe(purge)).bind(cutoff_millis);
        if let Some(o) = owner {
            q1 = q1.bind(o.tenant_id).bind(o.user_id);
            q2 = q2.bind(o.tenant_id).bind(o.user_id);
        }
        q1.execute(&mut *tx).await?;
        let removed = q2.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(removed)
    }

    /// Removes every blob, tombstone, counter and legacy record of a user (account deletion).
    pub async fn blob_delete_user(&self, owner: BlobOwner<'_>) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        for table in ["storage_users", "storage_blobs", "storage_legacy_records"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND user_id = $2"
            )))
            .bind(owner.tenant_id)
            .bind(owner.user_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates or replaces a legacy credential record (`kind` is `vc` or `vp`); `body` is its JSON text.
    pub async fn legacy_record_put(
        &self,
        owner: BlobOwner<'_>,
        kind: &str,
        record_id: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO storage_legacy_records (tenant_id, user_id, kind, record_id, body, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, user_id, kind, record_id) \
             DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(owner.tenant_id)
        .bind(owner.user_id)
        .bind(kind)
        .bind(record_id)
        .bind(body)
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One legacy record's JSON text.
    pub async fn legacy_record_get(
        &self,
        owner: BlobOwner<'_>,
        kind: &str,
        record_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT body FROM storage_legacy_records WHERE tenant_id = $1 AND user_id = $2 AND kind = $3 \
             AND record_id = $4",
        )
        .bind(owner.tenant_id)
        .bind(owner.user_id)
        .bind(kind)
        .bind(record_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every legacy record of a kind, oldest first, at most `limit`.
    pub async fn legacy_record_list(
        &self,
        owner: BlobOwner<'_>,
        kind: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT body FROM storage_legacy_records WHERE tenant_id = $1 AND user_id = $2 AND kind = $3 \
             ORDER BY updated_at, record_id LIMIT $4",
        )
        .bind(owner.tenant_id)
        .bind(owner.user_id)
        .bind(kind)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Deletes a legacy record; whether it existed.
    pub async fn legacy_record_delete(
        &self,
        owner: BlobOwner<'_>,
        kind: &str,
        record_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM storage_legacy_records WHERE tenant_id = $1 AND user_id = $2 AND kind = $3 \
             AND record_id = $4",
        )
        .bind(owner.tenant_id)
        .bind(owner.user_id)
        .bind(kind)
        .bind(record_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

enum Extra {
    Text(String),
    Int(i64),
}

/// Allocates the user's next change-sequence number: one upsert that creates the counter row at 1 or increments
/// it, RETURNing the value. It also holds the user's row lock until the transaction ends (see the module docs).
async fn next_seq(tx: &mut sqlx::Transaction<'_, sqlx::Any>, owner: BlobOwner<'_>) -> Result<i64, StoreError> {
    let seq: i64 = sqlx::query_scalar(NEXT_SEQ_SQL)
        .bind(owner.tenant_id)
        .bind(owner.user_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(seq)
}

/// Applies quota counter deltas; with `quota`, reports the exceeded limit (the caller rolls back) when a delta
/// that grows a counter takes it past its limit. Shrinking is always allowed, even above a lowered limit.
async fn adjust_counters(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: BlobOwner<'_>,
    d_count: i64,
    d_bytes: i64,
    quota: Option<BlobQuota>,
) -> Result<Option<WriteOutcome>, StoreError> {
    let row = sqlx::query(ADJUST_COUNTERS_SQL)
        .bind(owner.tenant_id)
        .bind(owner.user_id)
        .bind(d_count)
        .bind(d_bytes)
        .fetch_one(&mut **tx)
        .await?;
    let count: i64 = row.try_get(0)?;
    let bytes: i64 = row.try_get(1)?;
    let Some(q) = quota else { return Ok(None) };
    if d_count > 0 && count > q.max_blobs {
        return Ok(Some(WriteOutcome::QuotaExceeded {
            kind: QuotaKind::Count,
            limit: q.max_blobs,
        }));
    }
    if d_bytes > 0 && bytes > q.max_bytes {
        return Ok(Some(WriteOutcome::QuotaExceeded {
            kind: QuotaKind::Bytes,
            limit: q.max_bytes,
        }));
    }
    Ok(None)
}

fn record_from_row(row: &AnyRow, with_data: bool) -> Result<BlobRecord, StoreError> {
    Ok(BlobRecord {
        id: row.try_get(0)?,
        version: row.try_get(1)?,
        seq: row.try_get(2)?,
        deleted: row.try_get::<i64, _>(3)? != 0,
        size: row.try_get(4)?,
        digest: row.try_get(5)?,
        content_type: row.try_get(6)?,
        updated_at: row.try_get(7)?,
        data: if with_data { Some(row.try_get(8)?) } else { None },
    })
}
