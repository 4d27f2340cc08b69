//! The caller's tenant, as stored, through the one check every role shares (`require_enabled_tenant`).

use walletd_common::http::{ApiError, require_enabled_tenant};
use walletd_common::tenant::Tenant;
use walletd_db::Store;

/// Loads the tenant named by a validated token: unknown -> 404, disabled -> 403, database down -> 503.
pub async fn enabled_tenant(store: &Store, tenant_id: &str) -> Result<Tenant, ApiError> {
    require_enabled_tenant(tenant_id, store.get_tenant(tenant_id).await?)
}
