//! The caller's tenant as every role answers it: unknown -> 404 `tenant_not_found`, disabled -> 403
//! `tenant_disabled`.

use axum::http::StatusCode;

use super::ApiError;
use crate::tenant::{Tenant, TenantRefusal, enabled_tenant};

impl From<TenantRefusal> for ApiError {
    fn from(r: TenantRefusal) -> ApiError {
        match r {
            TenantRefusal::Unknown(_) => ApiError::new(StatusCode::NOT_FOUND, "tenant_not_found", r.to_string()),
            TenantRefusal::Disabled(_) => ApiError::new(StatusCode::FORBIDDEN, "tenant_disabled", r.to_string()),
        }
    }
}

/// The tenant `tenant_id` as looked up (`found`) when it exists and is enabled, else the error answered.
pub fn require_enabled_tenant(tenant_id: &str, found: Option<Tenant>) -> Result<Tenant, ApiError> {
    Ok(enabled_tenant(tenant_id, found)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_disabled_tenants_are_refused() {
        let e = require_enabled_tenant("ghost", None).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, "tenant_not_found"));
        let mut t = Tenant::new("acme", "Acme");
        t.enabled = false;
        let e = require_enabled_tenant("acme", Some(t.clone())).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, "tenant_disabled"));
        t.enabled = true;
        assert_eq!(require_enabled_tenant("acme", Some(t)).unwrap().id, "acme");
    }
}
