//! Database access for walletd: one [`Store`] over SQLite (embedded default) and PostgreSQL (production), chosen
//! by the URL scheme.
//!
//! Both dialects share one query text per operation through sqlx's `Any` driver: queries use `$N` placeholders
//! (which SQLite accepts as numbered parameters) and only the types both dialects map identically (BIGINT integers,
//! TEXT, BLOB/BYTEA). Schemas differ only where they must, so migrations are kept per dialect under
//! `migrations/{sqlite,postgres}` and applied at start-up.

mod audit;
mod auth_state;
mod blob_write;
mod blobs;
mod connect;
mod http_error;
mod issuers;
mod memberships;
mod session_epochs;
mod signing_keys;
mod tenants;
mod users;
mod vctm;
mod wallet_provider;

pub use audit::AuditEntry;
pub use auth_state::{Challenge, Invite, RefreshOutcome};
pub use blob_write::{ENSURE_USER_SQL, blob_put_single_sql};
pub use blobs::{
    ADJUST_COUNTERS_SQL, BlobContent, BlobOwner, BlobQuota, BlobRecord, NEXT_SEQ_SQL, QuotaKind, WriteCondition,
    WriteOutcome, blob_get_sql, blob_write_sql,
};
pub use connect::{Dialect, Store};
pub use issuers::{EntityKind, IssuerRecord, IssuerWrite, TrustDue, TrustState, VerifierRecord, VerifierWrite};
pub use signing_keys::SigningKeyRow;
pub use tenants::TenantUpdate;
pub use users::{CredentialDeletion, User, WebauthnCredential};
pub use wallet_provider::{AttestationRecord, WalletInstance};

/// What can go wrong in the store. Messages name the operation, never row contents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row exists already (unique key).
    #[error("already exists: {0}")]
    Conflict(String),
    /// No such row.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation is not allowed on this row (e.g. deleting the default tenant).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// A stored value could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The configuration cannot be used to connect.
    #[error("invalid database configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Whether a unique-constraint violation caused this error.
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        match e {
            sqlx::Error::Database(db) => db.is_unique_violation(),
            _ => false,
        }
    }
}

/// Milliseconds since the Unix epoch: the one timestamp representation in every table.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
