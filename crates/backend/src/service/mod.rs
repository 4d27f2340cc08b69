//! The backend role's service: tenants, registered issuers and verifiers, invites, memberships and the audit log,
//! as plain async Rust over [`Store`] (no HTTP types). Every write is audit-logged here, so no caller can forget
//! it. The admin routes (`crate::admin`) and the web client's compat reads (`crate::compat`) are thin adapters.

mod entities;
mod members;
mod tenants;
mod views;

use serde_json::Value;
use walletd_common::tenant::{Tenant, TenantRefusal, enabled_tenant};
use walletd_db::{AuditEntry, Store, StoreError, now_millis};

pub use entities::{IssuerChanges, VerifierChanges};
pub use members::{AuditQuery, NewInvite};
pub use tenants::{NewTenant, TenantPatch};
pub(crate) use views::{invite_json, issuer_json, tenant_json, verifier_json};

/// Why an admin operation was refused or failed. The adapters map it to their error shape.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input breaks a rule; the message says which and is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// No such tenant, issuer, verifier, invite or member.
    #[error("{0}")]
    NotFound(String),
    /// Not allowed (the default tenant cannot be deleted).
    #[error("{0}")]
    Forbidden(String),
    /// The caller's own tenant (compat reads) is unknown or disabled.
    #[error(transparent)]
    Tenant(#[from] TenantRefusal),
    /// The change was applied but could not be audit-logged.
    #[error("the change was applied but could not be audit-logged")]
    AuditFailed,
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The backend's service. Cheap to clone.
#[derive(Clone)]
pub struct AdminService {
    store: Store,
}

impl AdminService {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        AdminService { store }
    }

    /// The tenant named by an operator, or `NotFound` (a disabled tenant is still administrable).
    async fn existing_tenant(&self, id: &str) -> Result<Tenant, AdminError> {
        self.store
            .get_tenant(id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("unknown tenant `{id}`")))
    }

    /// The caller's own tenant for the web client's reads: unknown and disabled tenants are refused.
    async fn enabled_tenant(&self, id: &str) -> Result<Tenant, AdminError> {
        Ok(enabled_tenant(id, self.store.get_tenant(id).await?)?)
    }

    /// Records an admin write by `actor`. A failure to audit fails the operation so no write goes unrecorded; the
    /// write itself has happened by then, which the log line says.
    async fn audit(
        &self,
        actor: &str,
        action: &str,
        tenant_id: Option<&str>,
        target: Option<String>,
        detail: Value,
    ) -> Result<(), AdminError> {
        let entry = AuditEntry {
            id: 0,
            at: now_millis(),
            actor: actor.to_string(),
            action: action.to_string(),
            tenant_id: tenant_id.map(str::to_string),
            target,
            detail,
        };
        self.store.append_audit(&entry).await.map_err(|e| {
            tracing::error!(error = %e, action, "admin write done but not audit-logged");
            AdminError::AuditFailed
        })?;
        tracing::info!(actor = %actor, action, tenant = tenant_id.unwrap_or(""), "admin write");
        Ok(())
    }
}
