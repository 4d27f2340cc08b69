//! [`TrustClient`]: PDP selection, the HTTP call, fail-closed mapping and the per-tenant verdict cache.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::TrustConfig;
use crate::model::{EvaluationRequest, EvaluationResponse, Verdict};

/// Largest PDP response accepted.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Most cached verdicts kept (all tenants together).
const CACHE_CAPACITY: u64 = 100_000;

/// Why a PDP call failed. Every error is treated as "not trusted" by [`TrustClient::evaluate`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Neither the tenant nor the configuration names a PDP.
    #[error("no trust PDP is configured")]
    NotConfigured,
    /// The PDP did not answer within `trust.timeout`.
    #[error("trust PDP timed out")]
    Timeout,
    /// The PDP could not be reached.
    #[error("trust PDP unreachable")]
    Unavailable(#[source] reqwest::Error),
    /// The PDP answered with a non-2xx status.
    #[error("trust PDP answered HTTP {0}")]
    Status(u16),
    /// The PDP's answer is not the expected JSON.
    #[error("trust PDP answered with an invalid body: {0}")]
    BadResponse(String),
    /// The configuration is invalid.
    #[error("invalid trust configuration: {0}")]
    Config(String),
}

impl TrustError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TrustError::NotConfigured => "TRUST_NOT_CONFIGURED",
            TrustError::Timeout => "TRUST_TIMEOUT",
            TrustError::Unavailable(_) => "TRUST_UNAVAILABLE",
            TrustError::Status(_) => "TRUST_PDP_STATUS",
            TrustError::BadResponse(_) => "TRUST_BAD_RESPONSE",
            TrustError::Config(_) => "TRUST_CONFIG",
        }
    }
}

/// The trust settings of one tenant, as the caller knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantTrustSettings {
    /// Tenant identifier: verdicts are cached per tenant.
    pub tenant_id: String,
    /// The tenant's `trust_config.pdp_url`; None falls back to `trust.default_endpoint`.
    pub pdp_url: Option<Url>,
    /// The tenant's cache TTL; None uses `trust.cache_ttl`.
    pub cache_ttl: Option<Duration>,
}

impl TenantTrustSettings {
    /// A tenant with no PDP or TTL of its own.
    pub fn new(tenant_id: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_string(),
            ..Self::default()
        }
    }
}

type Key = [u8; 32];

struct Cached {
    verdict: Verdict,
    stored: Instant,
    ttl: Duration,
}

struct ExpireAfterTtlAndStale {
    stale: Duration,
}

impl Expiry<Key, Arc<Cached>> for ExpireAfterTtlAndStale {
    fn expire_after_create(&self, _: &Key, v: &Arc<Cached>, _: Instant) -> Option<Duration> {
        Some(v.ttl + self.stale)
    }
    fn expire_after_update(&self, _: &Key, v: &Arc<Cached>, _: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(v.ttl + self.stale)
    }
}

/// The AuthZEN client. Cheap to clone. PDPs are operator configuration and trusted (they may be private), so it
/// uses its own plain HTTP client (no proxy, no redirects, timeouts), not the egress guard.
#[derive(Clone)]
pub struct TrustClient {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: TrustConfig,
    http: reqwest::Client,
    cache: Cache<Key, Arc<Cached>>,
    refreshing: Mutex<HashSet<Key>>,
}

impl std::fmt::Debug for TrustClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustClient")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl TrustClient {
    /// Builds the client.
    pub fn new(cfg: TrustConfig) -> Result<Self, TrustError> {
        cfg.validate().map_err(TrustError::Config)?;
        let http = walletd_egress::tls::http_client_builder()
            .map_err(|e| TrustError::Config(e.to_string()))?
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(cfg.timeout)
            .timeout(cfg.timeout)
            .user_agent(concat!("walletd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TrustError::Config(format!("HTTP client: {e}")))?;
        let cache = Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .expire_after(ExpireAfterTtlAndStale { stale: cfg.stale_ttl })
            .build();
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                http,
                cache,
                refreshing: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &TrustConfig {
        &self.inner.cfg
    }

    /// The PDP for a tenant: its own `pdp_url`, else `trust.default_endpoint`, else none.
    pub fn pdp_for(&self, tenant_pdp: Option<&Url>) -> Option<Url> {
        tenant_pdp.or(self.inner.cfg.default_endpoint.as_ref()).cloned()
    }

    /// The evaluation URL of a PDP: `{pdp}{evaluation_path}` (the PDP URL may carry a base path).
    pub fn evaluation_url(&self, pdp: &Url) -> Result<Url, TrustError> {
        let s = format!(
            "{}{}",
            pdp.as_str().trim_end_matches('/'),
            self.inner.cfg.evaluation_path
        );
        Url::parse(&s).map_err(|e| TrustError::Config(format!("PDP URL: {e}")))
    }

    /// Evaluates, failing closed: any error gives `trusted: Some(false)` with the error as reason; no PDP
    /// configured gives "unknown" (`trusted: None`).
    pub async fn evaluate(&self, tenant: &TenantTrustSettings, req: &EvaluationRequest) -> Verdict {
        match self.try_evaluate(tenant, req).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(tenant = %tenant.tenant_id, code = e.code(), "trust evaluation failed, not trusted: {e}");
                Verdict::failed(&format!("trust evaluation failed: {e}"))
            }
        }
    }

    /// Evaluates through the cache and reports errors (for callers that need to tell them apart). Verdicts of
    /// the PDP are cached per tenant, PDP and request; errors are never cached.
    pub async fn try_evaluate(
        &self,
        tenant: &TenantTrustSettings,
        req: &EvaluationRequest,
    ) -> Result<Verdict, TrustError> {
        let Some(pdp) = self.pdp_for(tenant.pdp_url.as_ref()) else {
            return Ok(Verdict::unknown("no trust PDP configured"));
        };
        let ttl = tenant.cache_ttl.unwrap_or(self.inner.cfg.cache_ttl);
        if ttl.is_zero() {
            return self.call(&pdp, req).await;
        }
        let key = cache_key(&tenant.tenant_id, &pdp, req);
        if let Some(hit) = self.inner.cache.get(&key).await {
            let age = hit.stored.elapsed();
            if age < hit.ttl {
                return Ok(hit.verdict.clone());
            }
            if age < hit.ttl + self.inner.cfg.stale_ttl {
                self.refresh_in_background(key, pdp, req.clone(), ttl);
                return Ok(hit.verdict.clone());
            }
        }
        let verdict = self.call(&pdp, req).await?;
        self.store(key, &verdict, ttl).await;
        Ok(verdict)
    }

    /// Forwards a raw AuthZEN body to the tenant's PDP (compat route `POST /v1/evaluate`) and returns the PDP's
    /// JSON answer unchanged. Not cached.
    pub async fn forward_evaluation(&self, tenant_pdp: Option<&Url>, raw: &Value) -> Result<Value, TrustError> {
        let pdp = self.pdp_for(tenant_pdp).ok_or(TrustError::NotConfigured)?;
        let body = self.post(&pdp, raw).await?;
        serde_json::from_slice(&body).map_err(|e| TrustError::BadResponse(e.to_string()))
    }

    /// Resolution-only request (compat route `POST /v1/resolve`): returns the PDP's JSON answer unchanged.
    pub async fn resolve(
        &self,
        tenant_pdp: Option<&Url>,
        subject_id: &str,
        subject_type: Option<&str>,
        resource_type: Option<&str>,
    ) -> Result<Value, TrustError> {
        let req = EvaluationRequest::resolution(subject_id, subject_type, resource_type);
        let raw = serde_json::to_value(&req).map_err(|e| TrustError::BadResponse(e.to_string()))?;
        self.forward_evaluation(tenant_pdp, &raw).await
    }

    /// Drops every cached verdict of every tenant.
    pub fn clear_cache(&self) {
        self.inner.cache.invalidate_all();
    }

    async fn call(&self, pdp: &Url, req: &EvaluationRequest) -> Result<Verdict, TrustError> {
        let body = self.post(pdp, req).await?;
        let resp: EvaluationResponse =
            serde_json::from_slice(&body).map_err(|e| TrustError::BadResponse(e.to_string()))?;
        Ok(Verdict::from_response(&resp))
    }

    async fn post<T: serde::Serialize + ?Sized>(&self, pdp: &Url, body: &T) -> Result<bytes::Bytes, TrustError> {
        let url = self.evaluation_url(pdp)?;
        let map = |e: reqwest::Error| {
            if e.is_timeout() {
                TrustError::Timeout
            } else {
                TrustError::Unavailable(e)
            }
        };
        let resp = self.inner.http.post(url).json(body).send().await.map_err(map)?;
        if !resp.status().is_success() {
            return Err(TrustError::Status(resp.status().as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(TrustError::BadResponse("response too large".into()));
        }
        let bytes = resp.bytes().await.map_err(map)?;
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(TrustError::BadResponse("response too large".into()));
        }
        Ok(bytes)
    }

    async fn store(&self, key: Key, verdict: &Verdict, ttl: Duration) {
        let entry = Arc::new(Cached {
            verdict: verdict.clone(),
            stored: Instant::now(),
            ttl,
        });
        self.inner.cache.insert(key, entry).await;
    }

    /// One refresh per key at a time; a failed refresh removes the entry so the next caller asks the PDP (and
    /// fails closed if it is still failing).
    fn refresh_in_background(&self, key: Key, pdp: Url, req: EvaluationRequest, ttl: Duration) {
        if !self.inner.refreshing.lock().expect("lock").insert(key) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            match this.call(&pdp, &req).await {
                Ok(v) => this.store(key, &v, ttl).await,
                Err(e) => {
                    tracing::warn!(
                        code = e.code(),
                        "trust verdict refresh failed, dropping cached verdict: {e}"
                    );
                    this.inner.cache.invalidate(&key).await;
                }
            }
            this.inner.refreshing.lock().expect("lock").remove(&key);
        });
    }
}

/// Cache key: tenant, PDP and the canonical JSON of the request (serde_json objects serialise with sorted keys).
fn cache_key(tenant: &str, pdp: &Url, req: &EvaluationRequest) -> Key {
    let mut h = Sha256::new();
    h.update(tenant.as_bytes());
    h.update([0]);
    h.update(pdp.as_str().as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(&serde_json::to_value(req).unwrap_or(Value::Null)).unwrap_or_default());
    h.finalize().into()
}
