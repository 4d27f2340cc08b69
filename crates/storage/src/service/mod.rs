//! The storage service: every rule of the storage role, over [`Store`], with no HTTP types. The service API
//! (`routes`), the compatibility API (`compat`) and the auth role all call it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use walletd_common::config::StorageConfig;
use walletd_common::limits::{LimitKind, Limited, RateLimiter};
use walletd_common::slot_cache::SlotCache;
use walletd_common::tenant::{Tenant, TenantRefusal, enabled_tenant};
use walletd_db::{
    BlobContent, BlobOwner, BlobQuota, BlobRecord, QuotaKind, Store, StoreError, WriteCondition, WriteOutcome,
    now_millis,
};

mod blobs;
mod heads;
mod legacy;
mod private_data;
mod sync;

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
    /// The blob API may not write or delete a reserved blob (the keystore goes through the private-data ETag path).
    #[error("the blob id `{0}` is reserved; use the private-data routes")]
    Reserved(&'static str),
    /// The database failed.
    #[error("storage database error: {0}")]
    Store(#[from] StoreError),
    /// The user spent the tenant's storage write budget (`rate_limits.storage_writes_per_user`).
    #[error("{0}")]
    RateLimited(Limited),
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
    /// The write budget: the process's shared limiter, or none for the auth role's keystore writes.
    rate: RateLimiter,
}

struct Inner {
    store: Store,
    cfg: StorageConfig,
    /// Tenant settings (quota overrides, enabled flag), cached for [`TENANT_CACHE_TTL`] so a request does not pay
    /// a tenant lookup. Existing tenants only: an unknown id is asked again, so a tenant created meanwhile is usable
    /// at once.
    tenants: SlotCache<String, Tenant>,
    /// Each user's sync marks, so a device at the head is answered from memory (`storage.sync_head_ttl`).
    heads: heads::SyncHeads,
}

/// The effective limits for one tenant.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_blob_bytes: u64,
    quota: BlobQuota,
}

/// How long a tenant's settings are served from memory (a disabled tenant's writes stop within this).
const TENANT_CACHE_TTL: Duration = Duration::from_secs(10);
/// How many tenants' settings are kept.
const TENANT_CACHE_ENTRIES: u64 = 10_000;

const CURSOR_SYNC: u8 = 1;
const CURSOR_LIST: u8 = 2;

impl StorageService {
    /// The service over `store` with the `storage.*` configuration and no write budget.
    pub fn new(store: Store, cfg: StorageConfig) -> Self {
        Self::with_limits(store, cfg, RateLimiter::unlimited())
    }

    /// The service counting writes against `rate` (the process's shared limiter).
    pub fn with_limits(store: Store, cfg: StorageConfig, rate: RateLimiter) -> Self {
        StorageService {
            inner: Arc::new(Inner {
                store,
                heads: heads::SyncHeads::new(cfg.sync_head_ttl, cfg.sync_head_entries),
                cfg,
                tenants: SlotCache::new(TENANT_CACHE_ENTRIES),
            }),
            rate,
        }
    }

    /// The same service (one store, one tenant cache, one set of sync marks) without a write budget: the auth
    /// role's keystore writes in the same process. Sharing matters for sync: a keystore write through this view
    /// drops the user's cached sync marks at once.
    pub fn without_write_budget(&self) -> Self {
        StorageService {
            inner: self.inner.clone(),
            rate: RateLimiter::unlimited(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &StorageConfig {
        &self.inner.cfg
    }

    /// Called after every write to the user's blobs, whatever its outcome: the cached sync marks are no longer
    /// trusted (`heads`).
    fn wrote(&self, owner: &Owner) {
        self.inner.heads.note_write(&owner.tenant_id, &owner.user_id);
    }

    /// Checks the tenant is usable (unknown and disabled tenants are refused) and returns its limits. The tenant's
    /// settings come from a short cache (existing tenants only: an unknown id is asked again, so a tenant created
    /// meanwhile is usable at once).
    async fn limits(&self, owner: &Owner) -> Result<Limits, StorageError> {
        validate_owner(owner)?;
        let tenant_id = owner.tenant_id.as_str();
        if let Some(limits) = self.inner.tenants.get_map(tenant_id, |t| self.limits_of(tenant_id, t)) {
            return limits;
        }
        let found = self
            .inner
            .store
            .get_tenant(tenant_id)
            .await
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        let tenant = enabled_tenant(tenant_id, found.as_ref()).map_err(StorageError::from);
        let limits = tenant.and_then(|t| self.limits_of(tenant_id, t));
        if let Some(t) = found {
            self.inner
                .tenants
                .insert(tenant_id.to_string(), t, Instant::now() + TENANT_CACHE_TTL);
        }
        limits
    }

    /// The limits of a known tenant, or its refusal when disabled.
    fn limits_of(&self, tenant_id: &str, tenant: &Tenant) -> Result<Limits, StorageError> {
        enabled_tenant(tenant_id, Some(tenant))?;
        let cfg = &self.inner.cfg;
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
}

impl StorageService {
    /// [`Self::limits`] for a write: also spends one request of the user's write budget.
    async fn write_limits(&self, owner: &Owner) -> Result<Limits, StorageError> {
        let limits = self.limits(owner).await?;
        self.rate
            .check(LimitKind::StorageWrites, Some(&owner.tenant_id), &owner.user_id)
            .await
            .map_err(StorageError::RateLimited)?;
        Ok(limits)
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
