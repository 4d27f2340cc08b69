//! `GET /issuer-metadata`: an issuer's OpenID4VCI metadata, fetched and verified by
//! `walletd_common::issuer_metadata` (the path the backend's compat route takes too), with the tenant's trust
//! verdict; cached per tenant with `registry.issuer_metadata_ttl` (concurrent misses coalesce). A miss is a fetch
//! the caller's [`FetchGate`] must allow.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use walletd_common::issuer_metadata::{IssuerMetadataError, check_issuer, fetch_verified};
use walletd_egress::EgressClient;
use walletd_trust::{EvaluationRequest, Role, TenantTrustSettings, TrustClient};

use crate::error::RegistryError;
use crate::gate::{FetchGate, Fetcher};

/// Resolves issuer metadata with the tenant's trust verdict, and caches the answers per `(tenant, issuer)`.
#[derive(Clone)]
pub struct IssuerMetadataResolver {
    egress: EgressClient,
    trust: TrustClient,
    gate: FetchGate,
    cache: moka::future::Cache<(String, String), Arc<Value>>,
}

impl IssuerMetadataResolver {
    /// A resolver whose answers live for `ttl`.
    pub fn new(egress: EgressClient, trust: TrustClient, ttl: Duration, gate: FetchGate) -> Self {
        IssuerMetadataResolver {
            egress,
            trust,
            gate,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
        }
    }

    /// `{metadata, signed_metadata_verified, trust:{trusted, framework, reason, evaluated_at}}` for `issuer` as
    /// seen by `tenant`, asked by `fetcher` (a cache miss spends its budget unless the issuer is a configured
    /// source).
    pub async fn get(
        &self,
        tenant: &TenantTrustSettings,
        issuer: &str,
        fetcher: &Fetcher,
    ) -> Result<Arc<Value>, RegistryError> {
        check_issuer(issuer)?;
        let key = (tenant.tenant_id.clone(), issuer.to_string());
        if let Some(hit) = self.cache.get(&key).await {
            return Ok(hit);
        }
        self.gate.permit(fetcher, issuer).await?;
        self.cache
            .try_get_with(key, self.resolve(tenant, issuer))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn resolve(&self, tenant: &TenantTrustSettings, issuer: &str) -> Result<Arc<Value>, RegistryError> {
        let verified = fetch_verified(&self.egress, issuer).await?;
        let request = if verified.x5c.is_empty() {
            let mut r = EvaluationRequest::resolution(issuer, None, None);
            r.action = Some(walletd_trust::Action {
                name: Role::CredentialIssuer.as_str().into(),
            });
            r
        } else {
            EvaluationRequest::x5c(issuer, &verified.x5c, Role::CredentialIssuer)
        };
        let verdict = self.trust.evaluate(tenant, &request).await;
        let evaluated_at = verdict
            .evaluated_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Ok(Arc::new(json!({
            "metadata": verified.metadata,
            "signed_metadata_verified": verified.signed_metadata_verified,
            "trust": {"trusted": verdict.trusted, "framework": verdict.framework, "reason": verdict.reason,
                      "evaluated_at": evaluated_at},
        })))
    }
}

impl From<IssuerMetadataError> for RegistryError {
    fn from(e: IssuerMetadataError) -> Self {
        match e {
            IssuerMetadataError::BadIssuer(m) | IssuerMetadataError::Blocked(m) => RegistryError::BadRequest(m),
            IssuerMetadataError::NotFound(m) => RegistryError::NotFound(m),
            IssuerMetadataError::InvalidDocument(m) => RegistryError::InvalidDocument(m),
            IssuerMetadataError::Integrity(m) => RegistryError::Integrity(m),
            IssuerMetadataError::Upstream { message, timeout } => RegistryError::Upstream { message, timeout },
        }
    }
}
