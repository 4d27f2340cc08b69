//! The one mapping of [`StoreError`] to the HTTP error shape, used by every role's handlers. It lives here, not in
//! `walletd_common::http`, because `common` cannot name this crate's error (this crate depends on `common`).

use walletd_common::http::ApiError;

use crate::StoreError;

impl StoreError {
    /// Whether the database was unreachable or overloaded (the same request may succeed later): 503, not 500.
    pub fn is_transient(&self) -> bool {
        use sqlx::Error as E;
        matches!(
            self,
            StoreError::Database(E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::WorkerCrashed)
        )
    }
}

/// 409 duplicate, 404 unknown row, 403 not allowed, 503 database down (transient), 500 anything else. The cause of
/// a 5xx is logged here and never sent to the client.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(what) => ApiError::conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::Forbidden(why) => ApiError::forbidden(why),
            e if e.is_transient() => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::unavailable("the database is unavailable, try again")
            }
            e => {
                tracing::error!(error = %e, "database operation failed");
                ApiError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_one_status_each() {
        let status = |e: StoreError| ApiError::from(e).status.as_u16();
        assert_eq!(status(StoreError::Conflict("tenant".into())), 409);
        assert_eq!(status(StoreError::NotFound("tenant".into())), 404);
        assert_eq!(status(StoreError::Forbidden("default tenant".into())), 403);
        assert_eq!(status(StoreError::Database(sqlx::Error::PoolTimedOut)), 503);
        assert_eq!(status(StoreError::Database(sqlx::Error::PoolClosed)), 503);
        assert_eq!(status(StoreError::Corrupt("row".into())), 500);
        assert_eq!(status(StoreError::Database(sqlx::Error::RowNotFound)), 500);
    }
}
