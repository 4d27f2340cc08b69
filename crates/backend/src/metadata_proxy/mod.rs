//! The metadata-only proxy (`features.legacy_proxy: metadata`): fetches, through the egress guard, only the
//! metadata documents the web client's credential parser reads ([`rule`] says which), keeps them in a bounded
//! cache, and counts every request by document kind (`walletd_metadata_proxy_requests_total{kind,outcome}`).
//! It never relays the client's headers or body, never follows redirects and never returns anything but JSON or
//! a compact JWT, so it is not an open proxy.

pub mod rule;

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use walletd_egress::{EgressClient, EgressError, Method};

use rule::{Body, DocKind, Recognised};

/// Metric counting metadata proxy requests by `kind` and `outcome`.
pub const METADATA_PROXY_METRIC: &str = "walletd_metadata_proxy_requests_total";

/// Most referenced URLs remembered (rule 2); each entry is one URL, so this bounds memory to a few MiB.
const MAX_REFERENCES: u64 = 10_000;

/// What the `Accept` header asks of the upstream: the JSON form first, a signed (JWT) form second.
const ACCEPT: &str = "application/json, application/jwt;q=0.9";

/// An accepted metadata document.
#[derive(Debug, Clone)]
pub struct Doc {
    pub kind: DocKind,
    /// The upstream status (2xx).
    pub status: u16,
    /// The upstream `Content-Type`.
    pub content_type: String,
    /// The upstream `Cache-Control`, relayed because the client sizes its own cache by it.
    pub cache_control: Option<String>,
    pub body: Body,
}

/// Why a request got no document.
#[derive(Debug, Clone)]
pub enum MetadataError {
    /// Not a metadata document (by URL or by response): the same 404 as a disabled proxy.
    NotMetadata(Option<DocKind>),
    /// The upstream answered a non-2xx status (relayed as such, not cached).
    UpstreamStatus(DocKind, u16),
    /// The egress guard refused or the fetch failed.
    Egress(DocKind, Arc<EgressError>),
}

/// Settings of [`MetadataProxy`].
#[derive(Debug, Clone, Copy)]
pub struct MetadataProxySettings {
    /// Largest document accepted.
    pub max_response_bytes: usize,
    /// Cache bound in bytes (a document weighs its body plus its URL).
    pub cache_max_bytes: u64,
    /// How long a document is served from the cache.
    pub cache_ttl: Duration,
}

/// The metadata-only proxy service. Cheap to clone.
#[derive(Clone)]
pub struct MetadataProxy {
    egress: EgressClient,
    max_bytes: usize,
    docs: Cache<String, Arc<Doc>>,
    references: Cache<String, DocKind>,
}

impl MetadataProxy {
    /// A proxy fetching through `egress`.
    pub fn new(egress: EgressClient, s: MetadataProxySettings) -> Self {
        let docs = Cache::builder()
            .max_capacity(s.cache_max_bytes)
            .weigher(|url: &String, doc: &Arc<Doc>| {
                let body = match &doc.body {
                    Body::Json(v) => v.to_string().len(),
                    Body::Jwt(t) => t.len(),
                };
                u32::try_from(body + url.len()).unwrap_or(u32::MAX)
            })
            .time_to_live(s.cache_ttl)
            .build();
        let references = Cache::builder()
            .max_capacity(MAX_REFERENCES)
            .time_to_live(s.cache_ttl)
            .build();
        MetadataProxy {
            egress,
            max_bytes: s.max_response_bytes,
            docs,
            references,
        }
    }

    /// The document at `url`, from the cache or fetched. Counts the request.
    pub async fn get(&self, url: &str) -> Result<Arc<Doc>, MetadataError> {
        let result = self.lookup(url).await;
        let (kind, outcome) = match &result {
            Ok((doc, true)) => (Some(doc.kind), "cached"),
            Ok((doc, false)) => (Some(doc.kind), "fetched"),
            Err(MetadataError::NotMetadata(k)) => (*k, "refused"),
            Err(MetadataError::UpstreamStatus(k, _)) => (Some(*k), "upstream_status"),
            Err(MetadataError::Egress(k, e)) if e.code() == "EGRESS_BLOCKED" => (Some(*k), "egress_blocked"),
            Err(MetadataError::Egress(k, _)) => (Some(*k), "upstream_error"),
        };
        let kind = kind.map_or("none", DocKind::label);
        metrics::counter!(METADATA_PROXY_METRIC, "kind" => kind, "outcome" => outcome).increment(1);
        result.map(|(doc, _)| doc)
    }

    async fn lookup(&self, input: &str) -> Result<(Arc<Doc>, bool), MetadataError> {
        let url = rule::normalise(input).ok_or(MetadataError::NotMetadata(None))?;
        let key = url.to_string();
        let recognised = match rule::well_known_kind(&url) {
            Some(kind) => Recognised::Known(kind),
            None => match self.references.get(&key).await {
                Some(kind) => Recognised::Known(kind),
                None if rule::may_be_vct(&url) => Recognised::VctCandidate,
                None => return Err(MetadataError::NotMetadata(None)),
            },
        };
        if let Some(doc) = self.docs.get(&key).await {
            return Ok((doc, true));
        }
        // One upstream request for concurrent misses of the same URL; failures are not cached.
        let doc = self
            .docs
            .try_get_with(key, self.fetch(url, recognised))
            .await
            .map_err(|e| (*e).clone())?;
        Ok((doc, false))
    }

    async fn fetch(&self, url: url::Url, recognised: Recognised) -> Result<Arc<Doc>, MetadataError> {
        let kind = match recognised {
            Recognised::Known(k) => k,
            Recognised::VctCandidate => DocKind::TypeMetadata,
        };
        let resp = self
            .egress
            .request(Method::GET, url.as_str())
            .follow_redirects(false)
            .max_bytes(self.max_bytes)
            .header("accept", ACCEPT)
            .send()
            .await
            .map_err(|e| MetadataError::Egress(kind, Arc::new(e)))?;
        if !resp.status.is_success() {
            return Err(MetadataError::UpstreamStatus(kind, resp.status.as_u16()));
        }
        let header = |name| resp.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header(axum::http::header::CONTENT_TYPE).unwrap_or_default();
        let refused = || match recognised {
            Recognised::Known(k) => MetadataError::NotMetadata(Some(k)),
            Recognised::VctCandidate => MetadataError::NotMetadata(None),
        };
        let body = rule::accept_body(&content_type, &resp.body).ok_or_else(refused)?;
        if recognised == Recognised::VctCandidate && !rule::is_type_metadata_for(&url, &body) {
            return Err(refused());
        }
        if let Body::Json(doc) = &body {
            for (reference, k) in rule::references(kind, doc) {
                self.references.insert(reference.to_string(), k).await;
            }
        }
        Ok(Arc::new(Doc {
            kind,
            status: resp.status.as_u16(),
            content_type,
            cache_control: header(axum::http::header::CACHE_CONTROL),
            body,
        }))
    }
}
