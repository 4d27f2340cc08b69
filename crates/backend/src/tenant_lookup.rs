//! The caller's tenant, as stored: unknown -> 404, disabled -> 403.

use walletd_common::http::ApiError;
use walletd_common::tenant::Tenant;
use walletd_db::Store;

/// Loads the tenant named by a validated token.
pub async fn enabled_tenant(store: &Store, tenant_id: &str) -> Result<Tenant, ApiError> {
    let tenant = store.get_tenant(tenant_id).await.map_err(|e| {
        tracing::error!(error = %e, "tenant lookup failed");
        ApiError::unavailable("tenant lookup failed, try again")
    })?;
    match tenant {
        None => Err(ApiError::not_found(format!("unknown tenant `{tenant_id}`"))),
        Some(t) if !t.enabled => Err(ApiError::forbidden(format!("tenant `{tenant_id}` is disabled"))),
        Some(t) => Ok(t),
    }
}
