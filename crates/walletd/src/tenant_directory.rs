//! The engine's read-only view of tenant configuration, answered from a [`Store`] (this process's own store in
//! all-mode, or `tenants.source` opened read-only).

use futures::FutureExt;
use futures::future::BoxFuture;
use walletd_common::limits::TenantLimitSource;
use walletd_common::tenant::{Tenant, TenantRateLimits};
use walletd_db::{Store, StoreError};
use walletd_engine::{IssuerClient, RegisteredVerifier, TenantDirectory};
use walletd_trust::TenantTrustSettings;

/// [`TenantDirectory`] over the store. A failed read is logged and answered `None`: the global PDP (or none)
/// still applies and the PDP call itself fails closed; a missing issuer registration means a plain `client_id`,
/// which an issuer requiring client authentication refuses.
pub struct StoreDirectory(pub Store);

fn logged<T>(what: &'static str, tenant_id: &str, r: Result<Option<T>, StoreError>) -> Option<T> {
    r.unwrap_or_else(|e| {
        tracing::warn!(tenant = %tenant_id, error = %e, "cannot read the tenant's {what}");
        None
    })
}

impl TenantDirectory for StoreDirectory {
    fn trust_settings<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Option<TenantTrustSettings>> {
        async move {
            let tenant = logged("trust settings", tenant_id, self.0.get_tenant(tenant_id).await);
            tenant.map(|t| t.trust_settings())
        }
        .boxed()
    }

    fn issuer_client<'a>(
        &'a self,
        tenant_id: &'a str,
        credential_issuer: &'a str,
    ) -> BoxFuture<'a, Option<IssuerClient>> {
        async move {
            let r = self.0.find_issuer_by_identifier(tenant_id, credential_issuer).await;
            logged("issuer registration", tenant_id, r).map(|i| IssuerClient {
                client_id: i.client_id,
                client_jwk: i.client_jwk,
            })
        }
        .boxed()
    }

    fn verifier<'a>(&'a self, tenant_id: &'a str, client_id: &'a str) -> BoxFuture<'a, Option<RegisteredVerifier>> {
        async move {
            let r = self.0.find_verifier_by_client_id(tenant_id, client_id).await;
            logged("verifier registration", tenant_id, r).map(|v| RegisteredVerifier {
                name: v.name,
                url: v.url,
                client_id: v.client_id,
                client_id_scheme: v.client_id_scheme,
            })
        }
        .boxed()
    }

    fn tenant<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Result<Option<Tenant>, String>> {
        async move { self.0.get_tenant(tenant_id).await.map_err(|e| e.to_string()) }.boxed()
    }
}

/// The rate limiter's view of tenants: their budget overrides. A failed read counts as "unknown tenant", so the
/// configured defaults apply (never no limit).
pub struct StoreLimitSource(pub Store);

impl TenantLimitSource for StoreLimitSource {
    fn overrides<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Option<TenantRateLimits>> {
        async move {
            logged("rate limits", tenant_id, self.0.get_tenant(tenant_id).await)
                .map(|t| t.rate_limits.unwrap_or_default())
        }
        .boxed()
    }
}
