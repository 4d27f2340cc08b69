//! `GET /issuer-metadata`: an issuer's OpenID4VCI metadata found by well-known discovery (RFC 8615 path
//! insertion, then the appended form some issuers use), signed metadata verified with its x5c leaf, and the
//! tenant's trust verdict; cached per tenant with `registry.issuer_metadata_ttl` (concurrent misses coalesce).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use walletd_egress::{EgressClient, METADATA_MAX_BYTES};
use walletd_trust::{EvaluationRequest, Role, TenantTrustSettings, TrustClient};

use crate::error::RegistryError;

/// Issuer metadata with trust verdicts, cached per `(tenant, issuer)`.
#[derive(Clone)]
pub struct IssuerMetadata {
    egress: EgressClient,
    trust: TrustClient,
    cache: moka::future::Cache<(String, String), Arc<Value>>,
}

impl IssuerMetadata {
    /// A resolver whose answers live for `ttl`.
    pub fn new(egress: EgressClient, trust: TrustClient, ttl: Duration) -> Self {
        IssuerMetadata {
            egress,
            trust,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
        }
    }

    /// `{metadata, signed_metadata_verified, trust:{trusted, framework, reason, evaluated_at}}` for `issuer` as
    /// seen by `tenant`.
    pub async fn get(&self, tenant: &TenantTrustSettings, issuer: &str) -> Result<Arc<Value>, RegistryError> {
        let url = url::Url::parse(issuer).map_err(|_| RegistryError::BadRequest("issuer must be a URL".into()))?;
        if !matches!(url.scheme(), "https" | "http") || url.query().is_some() || url.fragment().is_some() {
            return Err(RegistryError::BadRequest(
                "issuer must be an http(s) URL without query or fragment".into(),
            ));
        }
        let key = (tenant.tenant_id.clone(), issuer.to_string());
        self.cache
            .try_get_with(key, self.resolve(tenant, issuer))
            .await
            .map_err(|e| (*e).clone())
    }

    async fn resolve(&self, tenant: &TenantTrustSettings, issuer: &str) -> Result<Arc<Value>, RegistryError> {
        let mut metadata = self.discover(issuer).await?;
        let mut chain: Vec<Vec<u8>> = Vec::new();
        let mut verified = false;
        if let Some(jwt) = metadata.get("signed_metadata").and_then(Value::as_str) {
            let (claims, c) = walletd_engine::oid4vci::metadata::verify_signed_metadata(jwt.trim())
                .map_err(|m| RegistryError::Integrity(format!("signed_metadata: {m}")))?;
            if claims
                .get("iss")
                .and_then(Value::as_str)
                .is_some_and(|iss| !same_issuer(iss, issuer))
            {
                return Err(RegistryError::Integrity(
                    "signed_metadata was issued by another entity".into(),
                ));
            }
            // Signed values take precedence over the unsigned ones (OpenID4VCI 12.2.3).
            if let (Some(m), Some(c)) = (metadata.as_object_mut(), claims.as_object()) {
                for (k, v) in c {
                    if !matches!(k.as_str(), "iss" | "sub" | "iat" | "exp" | "nbf" | "jti") {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
            chain = c;
            verified = true;
        }
        let request = if chain.is_empty() {
            let mut r = EvaluationRequest::resolution(issuer, None, None);
            r.action = Some(walletd_trust::Action {
                name: Role::CredentialIssuer.as_str().into(),
            });
            r
        } else {
            EvaluationRequest::x5c(issuer, &chain, Role::CredentialIssuer)
        };
        let verdict = self.trust.evaluate(tenant, &request).await;
        let evaluated_at = verdict
            .evaluated_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Ok(Arc::new(json!({
            "metadata": metadata,
            "signed_metadata_verified": verified,
            "trust": {"trusted": verdict.trusted, "framework": verdict.framework, "reason": verdict.reason,
                      "evaluated_at": evaluated_at},
        })))
    }

    async fn discover(&self, issuer: &str) -> Result<Value, RegistryError> {
        let mut last = RegistryError::NotFound(format!("no OpenID4VCI metadata for {issuer}"));
        for url in well_known_urls(issuer) {
            let resp = match self.egress.get(url.as_str(), METADATA_MAX_BYTES).await {
                Ok(r) => r,
                Err(e) => return Err(RegistryError::from_egress("issuer metadata", &e)),
            };
            match resp.status.as_u16() {
                200..=299 => {}
                404 => continue,
                code => {
                    last = RegistryError::Upstream {
                        message: format!("issuer metadata answered HTTP {code}"),
                        timeout: false,
                    };
                    continue;
                }
            }
            let meta: Value = resp
                .json()
                .map_err(|_| RegistryError::InvalidDocument("issuer metadata is not JSON".into()))?;
            let named = meta
                .get("credential_issuer")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !same_issuer(named, issuer) {
                return Err(RegistryError::InvalidDocument(
                    "issuer metadata names another credential_issuer".into(),
                ));
            }
            return Ok(meta);
        }
        Err(last)
    }
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Where an issuer's metadata may be: the well-known segment inserted between host and path (RFC 8615, as
/// OpenID4VCI requires), and for issuers with a path also appended after it (a common deployment mistake).
pub fn well_known_urls(issuer: &str) -> Vec<url::Url> {
    const WK: &str = "/.well-known/openid-credential-issuer";
    let Ok(base) = url::Url::parse(issuer) else {
        return Vec::new();
    };
    let path = base.path().trim_end_matches('/').to_string();
    let mut inserted = base.clone();
    inserted.set_path(&format!("{WK}{path}"));
    let mut out = vec![inserted];
    if !path.is_empty() {
        let mut appended = base;
        appended.set_path(&format!("{path}{WK}"));
        out.push(appended);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_urls() {
        let u = |s| well_known_urls(s).iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert_eq!(
            u("https://i.example"),
            ["https://i.example/.well-known/openid-credential-issuer"]
        );
        assert_eq!(
            u("https://i.example/t/1/"),
            [
                "https://i.example/.well-known/openid-credential-issuer/t/1",
                "https://i.example/t/1/.well-known/openid-credential-issuer"
            ]
        );
    }
}
