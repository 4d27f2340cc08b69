//! PostgreSQL's blob write as ONE statement (issue 18): the user's sequence row is locked and read, the blob is
//! written with the next sequence number, and the sequence and quota counters are updated, in one data-modifying
//! CTE that commits on its own. That is one round trip instead of five (BEGIN, sequence upsert, blob write,
//! counters, COMMIT) for the writes whose condition is an upsert (`Always`, `IfAbsent`, `IfDigest` matching an
//! absent blob); the `UPDATE`-only conditions keep the transaction of [`Store::blob_put`], whose statements each
//! see the rows committed before the user's lock was taken.
//!
//! Why it is still atomic and serialised per user: `u` takes the user row's lock (`FOR UPDATE`; under READ
//! COMMITTED a waiting writer re-reads the row once the holder commits, so it gets the newest `seq`), the upsert
//! `w` resolves its conflict on the newest committed blob row, and `upd` is the one modification of the user row.
//! A quota overrun makes `upd` write NULL into the NOT NULL counter it exceeds: the statement fails as a whole
//! (nothing is written) and the column in the error names the quota. A user without a sequence row (first write)
//! gets an empty `u`; the row is then created and the statement runs once more.

use sqlx::Row;

use crate::blobs::{BlobContent, BlobOwner, BlobQuota, QuotaKind, WriteCondition, WriteOutcome};
use crate::{Store, StoreError, now_millis};

/// The single statement for `cond`, or `None` when `cond` needs the transaction. Binds: tenant, user, blob id,
/// data, size, digest, content type, updated_at, max blobs, max bytes, then the expected digest for `IfDigest`.
/// Returns one row: the new sequence number (NULL: the user has no sequence row yet), the new version and the
/// previous liveness (both NULL: the condition did not hold). Public so the benchmark's baseline runs this text.
#[doc(hidden)]
pub fn blob_put_single_sql(cond: &WriteCondition) -> Option<String> {
    let guard = match cond {
        WriteCondition::Always => "",
        // A tombstone may be revived by a create-only write: it is not a live blob.
        WriteCondition::IfAbsent => " WHERE storage_blobs.deleted = 1",
        WriteCondition::IfDigest {
            absent_matches: true, ..
        } => " WHERE storage_blobs.deleted = 1 OR storage_blobs.digest = $11",
        WriteCondition::IfDigest {
            absent_matches: false, ..
        }
        | WriteCondition::IfVersion(_)
        | WriteCondition::IfExists => return None,
    };
    Some(format!(
        "WITH u AS (SELECT seq + 1 AS seq FROM storage_users WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE), \
         w AS (INSERT INTO storage_blobs (tenant_id, user_id, id, version, seq, deleted, data, size, digest, \
               content_type, updated_at, prev_size, prev_deleted) \
               SELECT $1, $2, $3, 1, u.seq, 0, $4, $5, $6, $7, $8, 0, 1 FROM u \
               ON CONFLICT (tenant_id, user_id, id) DO UPDATE SET prev_size = storage_blobs.size, \
               prev_deleted = storage_blobs.deleted, version = storage_blobs.version + 1, seq = excluded.seq, \
               deleted = 0, data = excluded.data, size = excluded.size, digest = excluded.digest, \
               content_type = excluded.content_type, updated_at = excluded.updated_at{guard} \
               RETURNING version, prev_size, prev_deleted), \
         d AS (SELECT version, prev_deleted, CASE WHEN prev_deleted = 1 THEN 1 ELSE 0 END AS dc, \
               CASE WHEN prev_deleted = 1 THEN $5 ELSE $5 - prev_size END AS db FROM w), \
         upd AS (UPDATE storage_users SET seq = u.seq, \
               blob_count = CASE WHEN d.dc > 0 AND storage_users.blob_count + d.dc > $9 THEN NULL \
                            ELSE storage_users.blob_count + d.dc END, \
               total_bytes = CASE WHEN d.db > 0 AND storage_users.total_bytes + d.db > $10 THEN NULL \
                             ELSE storage_users.total_bytes + d.db END \
               FROM u, d WHERE storage_users.tenant_id = $1 AND storage_users.user_id = $2 RETURNING storage_users.seq) \
         SELECT (SELECT seq FROM u), (SELECT version FROM d), (SELECT prev_deleted FROM d), (SELECT seq FROM upd)"
    ))
}

/// Creates the user's sequence row (at 0) when it is missing; the single statement needs it to lock.
#[doc(hidden)]
pub const ENSURE_USER_SQL: &str = "INSERT INTO storage_users (tenant_id, user_id, seq, blob_count, total_bytes, \
     purged_seq) VALUES ($1, $2, 0, 0, 0, 0) ON CONFLICT (tenant_id, user_id) DO NOTHING";

/// What one run of the single statement did.
enum Single {
    Done(WriteOutcome),
    /// The condition did not hold (nothing written).
    Failed,
    /// The user has no sequence row yet.
    NoUser,
}

impl Store {
    /// [`Store::blob_put`] on PostgreSQL for the conditions [`blob_put_single_sql`] covers; `None` otherwise.
    pub(crate) async fn blob_put_single(
        &self,
        owner: BlobOwner<'_>,
        id: &str,
        content: BlobContent<'_>,
        cond: &WriteCondition,
        quota: BlobQuota,
    ) -> Result<Option<WriteOutcome>, StoreError> {
        let Some(sql) = blob_put_single_sql(cond) else {
            return Ok(None);
        };
        for attempt in 0..2 {
            match self.run_single(&sql, owner, id, content, cond, quota).await? {
                Single::Done(outcome) => return Ok(Some(outcome)),
                Single::Failed => return self.failed_condition(owner, id).await.map(Some),
                Single::NoUser if attempt == 0 => {
                    sqlx::query(ENSURE_USER_SQL)
                        .bind(owner.tenant_id)
                        .bind(owner.user_id)
                        .execute(self.pool())
                        .await?;
                }
                Single::NoUser => break,
            }
        }
        Err(StoreError::Corrupt(
            "the user's storage sequence row vanished during a write".into(),
        ))
    }

    async fn run_single(
        &self,
        sql: &str,
        owner: BlobOwner<'_>,
        id: &str,
        content: BlobContent<'_>,
        cond: &WriteCondition,
        quota: BlobQuota,
    ) -> Result<Single, StoreError> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.tenant_id)
            .bind(owner.user_id)
            .bind(id)
            .bind(content.data)
            .bind(content.data.len() as i64)
            .bind(content.digest)
            .bind(content.content_type)
            .bind(now_millis())
            .bind(quota.max_blobs)
            .bind(quota.max_bytes);
        if let WriteCondition::IfDigest { digest, .. } = cond {
            q = q.bind(digest.as_str());
        }
        let row = match q.fetch_one(self.pool()).await {
            Ok(row) => row,
            Err(e) => {
                return match quota_column(&e) {
                    Some(QuotaKind::Count) => Ok(Single::Done(WriteOutcome::QuotaExceeded {
                        kind: QuotaKind::Count,
                        limit: quota.max_blobs,
                    })),
                    Some(QuotaKind::Bytes) => Ok(Single::Done(WriteOutcome::QuotaExceeded {
                        kind: QuotaKind::Bytes,
                        limit: quota.max_bytes,
                    })),
                    None => Err(e.into()),
                };
            }
        };
        let seq: Option<i64> = row.try_get(0)?;
        let version: Option<i64> = row.try_get(1)?;
        let prev_deleted: Option<i64> = row.try_get(2)?;
        Ok(match (seq, version, prev_deleted) {
            (None, _, _) => Single::NoUser,
            (Some(_), Some(version), Some(prev_deleted)) => Single::Done(WriteOutcome::Written {
                version,
                created: prev_deleted != 0,
            }),
            _ => Single::Failed,
        })
    }
}

/// The quota a failed single statement exceeded: a NOT NULL violation (23502) on a counter column.
fn quota_column(e: &sqlx::Error) -> Option<QuotaKind> {
    let sqlx::Error::Database(db) = e else { return None };
    if db.code().as_deref() != Some("23502") {
        return None;
    }
    let column = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .and_then(|p| p.column().map(str::to_string))
        .unwrap_or_else(|| db.message().to_string());
    if column.contains("blob_count") {
        Some(QuotaKind::Count)
    } else if column.contains("total_bytes") {
        Some(QuotaKind::Bytes)
    } else {
        None
    }
}
