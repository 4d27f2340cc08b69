//! The storage service: every rule of the storage role, over [`Store`], with no HTTP types. The service API
//! (`routes`), the compatibility API (`compat`) and the auth role all call it.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use walletd_common::config::StorageConfig;
use walletd_common::tenant::{Tenant, TenantRefusal, enabled_tenant};
use walletd_db::{
    BlobContent, BlobOwner, BlobQuota, BlobRecord, QuotaKind, Store, StoreError, WriteCondition, WriteOutcome,
    now_millis,
};

/// The reserved blob id of the web client's keystore (the compat API's "private data").
pub const KEYSTORE_ID: &str = "keystore";

/// Whose data: the tenant and user of the authenticated caller (from the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub tenant_id: String,
    pub user_id: String,
}

impl Owner {
    /// An owner from its two ids.
    pub fn new(tenant_id: impl Into<String>, user_id: impl Into<String>) -> Self {
        Owner {
            tenant_id: tenant_id.into(),
            user_id: user_id.into(),
        }
    }

    fn key(&self) -> BlobOwner<'_> {
        BlobOwner {
            tenant_id: &self.tenant_id,
            user_id: &self.user_id,
        }
    }
}

/// The keystore blob as the compat API sees it: bytes and a quoted hash ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateData {
    pub bytes: Vec<u8>,
    /// `"<base64url sha256 of bytes>"`, quotes included.
    pub etag: String,
}

/// Why a storage operation failed. Maps onto HTTP in [`StorageError::into_api_error`]. Messages never carry blob
/// contents.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Malformed input (id, cursor, base64, header, limit).
    #[error("{0}")]
    BadRequest(String),
    /// No such live blob for this owner (also what another user's or tenant's blob looks like).
    #[error("no such blob")]
    NotFound,
    /// A compat-API precondition (`X-Private-Data-If-Match`) did not hold; the current quoted etag.
    #[error("the private data has changed")]
    PreconditionFailed { current_etag: String },
    /// A service-API precondition (`If-Match`, `If-None-Match: *`) did not hold; the current version.
    #[error("the blob is at version {current_version}")]
    VersionMismatch { current_version: i64 },
    /// A single blob is larger than allowed.
    #[error("blob of {size} bytes exceeds the limit of {limit} bytes")]
    BlobTooLarge { size: u64, limit: u64 },
    /// The write would exceed a per-user quota.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The caller's tenant is unknown or disabled.
    #[error("{0}")]
    Tenant(#[from] TenantRefusal),
    /// The database could not be asked (e.g. while loading tenant settings).
    #[error("storage database unavailable: {0}")]
    Unavailable(String),
    /// The database failed.
    #[error("storage database error: {0}")]
    Store(#[from] StoreError),
}

/// The service-API precondition of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// None: create or replace.
    None,
    /// `If-Match: "<version>"`.
    Version(i64),
    /// `If-Match: *`: the blob must exist.
    Exists,
    /// `If-None-Match: *`: the blob must not exist.
    Absent,
}

/// One live blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub id: String,
    pub version: i64,
    pub content_type: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
    pub size: i64,
    /// `None` in listings without `include=data`.
    pub data: Option<Vec<u8>>,
}

/// Result of a successful write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub version: i64,
    /// Whether the blob did not exist before (201 rather than 200).
    pub created: bool,
}

/// A page of `GET /storage/credentials`.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Blob>,
    /// Cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub version: i64,
    pub deleted: bool,
    pub updated_at: i64,
    pub content_type: Option<String>,
    /// The bytes of a live blob; `None` for a tombstone.
    pub data: Option<Vec<u8>>,
}

/// A page of the change feed.
#[derive(Debug, Clone)]
pub struct SyncPage {
    pub changes: Vec<Change>,
    /// Where the next request continues (pass as `since`).
    pub cursor: String,
    pub has_more: bool,
    /// The device's cursor predates purged tombstones (or this store's history): it must drop its local copy and
    /// apply this page, which then starts from the beginning, as a fresh sync.
    pub reset_required: bool,
}

/// The storage role's service. Cheap to clone.
#[derive(Clone)]
pub struct StorageService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    cfg: StorageConfig,
    /// Tenant settings (quota overrides, enabled flag), cached briefly so a write does not pay a tenant lookup.
    /// Existing tenants only: an unknown id is asked again, so a tenant created meanwhile is usable at once.
    tenants: moka::future::Cache<String, Arc<Tenant>>,
}

/// The effective limits for one tenant.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_blob_bytes: u64,
    quota: BlobQuota,
}

const CURSOR_SYNC: u8 = 1;
const CURSOR_LIST: u8 = 2;

impl StorageService {
    /// The service over `store` with the `storage.*` configuration.
    pub fn new(store: Store, cfg: StorageConfig) -> Self {
        StorageService {
            inner: Arc::new(Inner {
                store,
                cfg,
                tenants: moka::future::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(Duration::from_secs(10))
                    .build(),
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &StorageConfig {
        &self.inner.cfg
    }

    /// The caller's tenant when it exists and is enabled (the check every role shares).
    async fn tenant(&self, tenant_id: &str) -> Result<Arc<Tenant>, StorageError> {
        let found = match self.inner.tenants.get(tenant_id).await {
            Some(t) => Some(t),
            None => {
                let t = self
                    .inner
                    .store
                    .get_tenant(tenant_id)
                    .await
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?
                    .map(Arc::new);
                if let Some(t) = &t {
                    self.inner.tenants.insert(tenant_id.to_string(), t.clone()).await;
                }
                t
            }
        };
        Ok(enabled_tenant(tenant_id, found)?)
    }

    /// Checks the tenant is usable (unknown and disabled tenants are refused) and returns its limits.
    async fn limits(&self, owner: &Owner) -> Result<Limits, StorageError> {
        validate_owner(owner)?;
        let cfg = &self.inner.cfg;
        let tenant = self.tenant(&owner.tenant_id).await?;
        let over = tenant.storage_quota.clone().unwrap_or_default();
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(Limits {
            max_blob_bytes: over.max_blob_bytes.unwrap_or(cfg.max_blob_bytes),
            quota: BlobQuota {
                max_blobs: clamp(over.max_blobs_per_user.unwrap_or(cfg.max_blobs_per_user)),
                max_bytes: clamp(over.max_bytes_per_user.unwrap_or(cfg.max_bytes_per_user)),
            },
        })
    }

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
        if let Some(ct) = &content_type {
            validate_content_type(ct)?;
        }
        let limits = self.limits(owner).await?;
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
        match self
            .inner
            .store
            .blob_put(owner.key(), id, content, &cond, limits.quota)
            .await?
        {
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
        self.limits(owner).await?;
        let outcome = self.inner.store.blob_delete(owner.key(), id, expected).await?;
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
        let limits = self.limits(owner).await?;
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
        match self
            .inner
            .store
            .blob_put(owner.key(), KEYSTORE_ID, content, &cond, limits.quota)
            .await?
        {
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
        self.inner.store.blob_delete_user(owner.key()).await?;
        Ok(())
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

    fn tombstone_cutoff(&self) -> i64 {
        let retention = i64::try_from(self.inner.cfg.tombstone_retention.as_millis()).unwrap_or(i64::MAX);
        now_millis().saturating_sub(retention)
    }

    // -- legacy credential records (features.legacy_credential_records) --

    /// Creates or replaces a legacy record (`kind` `vc` or `vp`) under its identifier.
    pub async fn legacy_put(
        &self,
        owner: &Owner,
        kind: &str,
        record_id: &str,
        body: &serde_json::Value,
    ) -> Result<(), StorageError> {
        let limits = self.limits(owner).await?;
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
        self.limits(owner).await?;
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

fn quota_error(kind: QuotaKind, limit: i64) -> StorageError {
    StorageError::QuotaExceeded(match kind {
        QuotaKind::Count => format!("storage quota exceeded: at most {limit} blobs per user"),
        QuotaKind::Bytes => format!("storage quota exceeded: at most {limit} bytes of blobs per user"),
    })
}

fn check_size(size: usize, limit: u64) -> Result<(), StorageError> {
    if size as u64 > limit {
        return Err(StorageError::BlobTooLarge {
            size: size as u64,
            limit,
        });
    }
    Ok(())
}

/// Blob ids are client-chosen: `[A-Za-z0-9._-]{1,128}`.
pub fn is_valid_blob_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn validate_id(id: &str) -> Result<(), StorageError> {
    if is_valid_blob_id(id) {
        Ok(())
    } else {
        Err(StorageError::BadRequest(
            "blob ids are 1 to 128 characters of A-Z a-z 0-9 . _ -".into(),
        ))
    }
}

fn validate_owner(owner: &Owner) -> Result<(), StorageError> {
    if owner.tenant_id.is_empty() || owner.user_id.is_empty() || owner.user_id.len() > 256 {
        return Err(StorageError::BadRequest("the token names no usable user".into()));
    }
    Ok(())
}

fn validate_content_type(ct: &str) -> Result<(), StorageError> {
    if ct.is_empty() || ct.len() > 255 || !ct.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(StorageError::BadRequest(
            "content_type must be 1 to 255 printable ASCII characters".into(),
        ));
    }
    Ok(())
}

fn effective_limit(asked: Option<u32>, default: u32, max: u32) -> Result<i64, StorageError> {
    match asked {
        Some(0) => Err(StorageError::BadRequest("limit must be at least 1".into())),
        Some(n) => Ok(i64::from(n.min(max.max(1)))),
        None => Ok(i64::from(default.clamp(1, max.max(1)))),
    }
}

/// How many of `metas` (at most `limit`) fit in `budget` bytes of data; at least one, so a page always advances.
fn within_budget(metas: &[BlobRecord], limit: i64, budget: u64) -> usize {
    let mut used: u64 = 0;
    let mut n = 0;
    for m in metas.iter().take(limit as usize) {
        let size = m.size.max(0) as u64;
        if n > 0 && used + size > budget {
            break;
        }
        used += size;
        n += 1;
    }
    n
}

fn blob_from(rec: BlobRecord) -> Blob {
    Blob {
        id: rec.id,
        version: rec.version,
        content_type: rec.content_type,
        updated_at: rec.updated_at,
        size: rec.size,
        data: rec.data,
    }
}

/// Unquoted base64url SHA-256 of the bytes: the keystore's etag (without quotes) and every blob's digest.
pub fn digest(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

fn quote(tag: &str) -> String {
    format!("\"{tag}\"")
}

/// `W/"x"`, `"x"` or `x` -> `x`.
fn unquote_etag(tag: &str) -> &str {
    let t = tag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(t)
}

/// Cursors are opaque to clients: a kind byte plus the position, base64url. The kind byte makes a listing cursor
/// useless as a sync cursor and the other way round.
fn encode_cursor(kind: u8, body: &[u8]) -> String {
    let mut raw = Vec::with_capacity(body.len() + 1);
    raw.push(kind);
    raw.extend_from_slice(body);
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(kind: u8, cursor: &str) -> Option<Vec<u8>> {
    if cursor.len() > 256 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    match raw.split_first() {
        Some((k, rest)) if *k == kind => Some(rest.to_vec()),
        _ => None,
    }
}

/// A sync cursor: the last sequence number the device has and the purge mark it is consistent with.
fn encode_sync_cursor(seq: i64, purge_mark: i64) -> String {
    let mut body = [0u8; 16];
    body[..8].copy_from_slice(&seq.to_be_bytes());
    body[8..].copy_from_slice(&purge_mark.to_be_bytes());
    encode_cursor(CURSOR_SYNC, &body)
}

fn decode_sync_cursor(cursor: &str) -> Result<(i64, i64), StorageError> {
    decode_cursor(CURSOR_SYNC, cursor)
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .map(|b| {
            let (seq, mark) = b.split_at(8);
            let n = |x: &[u8]| i64::from_be_bytes(x.try_into().unwrap_or_default());
            (n(seq), n(mark))
        })
        .filter(|(seq, mark)| *seq >= 0 && *mark >= 0)
        .ok_or_else(|| StorageError::BadRequest("malformed sync cursor".into()))
}

fn decode_list_cursor(cursor: &str) -> Result<String, StorageError> {
    decode_cursor(CURSOR_LIST, cursor)
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|id| is_valid_blob_id(id))
        .ok_or_else(|| StorageError::BadRequest("malformed list cursor".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "keystore", "A.b_c-9", &"x".repeat(128)] {
            assert!(is_valid_blob_id(ok), "{ok}");
        }
        for bad in ["", "a/b", "a b", "é", "a%2F", &"x".repeat(129)] {
            assert!(!is_valid_blob_id(bad), "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_sync_cursor(42, 7);
        assert_eq!(decode_sync_cursor(&c).unwrap(), (42, 7));
        assert!(decode_list_cursor(&c).is_err(), "a sync cursor is not a list cursor");
        let l = encode_cursor(CURSOR_LIST, b"abc");
        assert_eq!(decode_list_cursor(&l).unwrap(), "abc");
        assert!(decode_sync_cursor(&l).is_err());
        for bad in ["!!!", "AQ", "zzzzzzzzzzzzzzzz", &"A".repeat(300)] {
            assert!(decode_sync_cursor(bad).is_err(), "{bad}");
        }
        let negative = encode_sync_cursor(-1, 0);
        assert!(decode_sync_cursor(&negative).is_err());
    }

    #[test]
    fn etags_unquote() {
        assert_eq!(unquote_etag("\"abc\""), "abc");
        assert_eq!(unquote_etag("W/\"abc\""), "abc");
        assert_eq!(unquote_etag("abc"), "abc");
    }
}
