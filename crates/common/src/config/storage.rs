//! Configuration of the storage role (`storage`): blob sizes, quotas, page sizes, tombstones.

use super::*;

/// Storage role (client-encrypted blobs) limits. Tenants may override the three quotas (`Tenant::storage_quota`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Largest single blob, in bytes (decoded, not base64).
    pub max_blob_bytes: u64,
    /// Most live blobs one user may hold (tombstones do not count).
    pub max_blobs_per_user: u64,
    /// Most bytes of live blobs one user may hold.
    pub max_bytes_per_user: u64,
    /// How long a deletion stays in the sync feed as a tombstone. A device whose cursor is older than a purged
    /// tombstone is told `reset_required`.
    #[serde(with = "humantime_serde")]
    pub tombstone_retention: Duration,
    /// Items per page of `GET /storage/credentials` when `limit` is not given.
    pub page_size_default: u32,
    /// Largest `limit` honoured by `GET /storage/credentials` (larger values are lowered to it).
    pub page_size_max: u32,
    /// Changes per page of `GET /storage/sync` when `limit` is not given.
    pub sync_limit_default: u32,
    /// Largest `limit` honoured by `GET /storage/sync`.
    pub sync_limit_max: u32,
    /// A page of the sync feed or of a listing with `include=data` stops adding blobs once their data reaches this
    /// many bytes (at least one change is always returned), so pages of large blobs stay bounded.
    pub max_page_data_bytes: u64,
    /// How long a user's sync marks (the feed's head and purge mark) read from the database answer `GET
    /// /storage/sync` polls of devices already at the head without asking the database again. Writes made by this
    /// process drop them at once; a write made by another process (another storage replica, an auth role in its own
    /// process writing the keystore) is seen by such a poll at most this late. 0 reads the marks on every poll.
    #[serde(with = "humantime_serde")]
    pub sync_head_ttl: Duration,
    /// Most users whose sync marks are kept (least recently used go first).
    pub sync_head_entries: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            max_blob_bytes: 1024 * 1024,
            max_blobs_per_user: 10_000,
            max_bytes_per_user: 100 * 1024 * 1024,
            tombstone_retention: Duration::from_secs(30 * 24 * 3600),
            page_size_default: 100,
            page_size_max: 1000,
            sync_limit_default: 100,
            sync_limit_max: 1000,
            max_page_data_bytes: 8 * 1024 * 1024,
            sync_head_ttl: Duration::from_secs(1),
            sync_head_entries: 100_000,
        }
    }
}

impl StorageConfig {
    /// Refuses settings that cannot work together.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.sync_head_ttl.is_zero() && self.sync_head_entries == 0 {
            return Err(ConfigError::Invalid {
                key: "storage.sync_head_entries".into(),
                message: "must be greater than 0 (or set storage.sync_head_ttl to 0s)".into(),
            });
        }
        Ok(())
    }
}
