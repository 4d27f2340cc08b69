//! The registry service: which document a vct names (overrides, registered, sources, on-demand fetch), the
//! `extends` chain with integrity checks, embedded images, and the cache with in-process and cross-replica
//! coalescing and stale serving.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;
use sha2::Digest;
use walletd_common::config::RegistryConfig;
use walletd_db::{Store, now_millis};
use walletd_egress::{EgressClient, HeaderMap};

use crate::cache::{Cache, Entry, LOCK_TTL};
use crate::document;
use crate::error::RegistryError;
use crate::gate::{FetchGate, Fetcher};
use crate::images::{ImagePolicy, embed_all};
use crate::sources::{self, DocMap, Known};
use crate::sri::Integrity;

/// A resolved answer and whether it is served stale (upstream failed after freshness ran out).
pub struct Served {
    pub entry: Arc<Entry>,
    pub stale: bool,
}

/// Documents known locally, by where they come from (earlier wins).
#[derive(Default)]
struct Local {
    overrides: DocMap,
    registered: DocMap,
    sources: DocMap,
}

/// The registry. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: RegistryConfig,
    egress: EgressClient,
    cache: Cache,
    store: Option<Store>,
    gate: FetchGate,
    local: RwLock<Local>,
    /// One async lock per key being resolved, so concurrent misses in this process make one fetch.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Registry {
    /// A registry with the given cache; loads overrides, sources and registered documents once before returning.
    /// `gate` decides which on-demand fetches HTTP callers may cause ([`crate::gate`]).
    pub async fn new(
        cfg: RegistryConfig,
        egress: EgressClient,
        cache: Cache,
        store: Option<Store>,
        gate: FetchGate,
    ) -> Registry {
        let r = Registry {
            inner: Arc::new(Inner {
                cfg,
                egress,
                cache,
                store,
                gate,
                local: RwLock::new(Local::default()),
                inflight: Mutex::new(HashMap::new()),
            }),
        };
        r.reload().await;
        r
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.cfg
    }

    /// Polls sources, overrides and registered documents every `registry.poll_interval`.
    pub fn spawn_polling(&self) -> tokio::task::JoinHandle<()> {
        let r = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(r.inner.cfg.poll_interval.max(Duration::from_secs(1)));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                r.reload().await;
            }
        })
    }

    /// Reads every local origin again; clears the in-process cache when anything changed.
    pub async fn reload(&self) {
        let cfg = &self.inner.cfg;
        let overrides = match &cfg.overrides_dir {
            Some(dir) => sources::read_dir(dir, cfg.max_document_bytes),
            None => DocMap::new(),
        };
        let mut from_sources = DocMap::new();
        for src in &cfg.vctm_sources {
            let docs = if src.starts_with("https://") || src.starts_with("http://") {
                match sources::fetch_list(&self.inner.egress, src, cfg.max_document_bytes).await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!(error = %e, "VCTM source unavailable; keeping what it gave before");
                        self.inner.local.read().map(|l| l.sources.clone()).unwrap_or_default()
                    }
                }
            } else {
                sources::read_dir(
                    std::path::Path::new(src.trim_start_matches("file://")),
                    cfg.max_document_bytes,
                )
            };
            for (k, v) in docs {
                from_sources.entry(k).or_insert(v);
            }
        }
        let mut registered = DocMap::new();
        if let Some(store) = &self.inner.store {
            match store.list_vctm().await {
                Ok(rows) => {
                    for (vct, text) in rows {
                        if let Ok(doc) = document::parse(text.as_bytes()) {
                            registered.insert(
                                vct,
                                Known {
                                    raw: Bytes::from(text),
                                    doc,
                                },
                            );
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read registered VCTM documents"),
            }
        } else if let Ok(l) = self.inner.local.read() {
            registered = l.registered.clone();
        }
        let changed = {
            let Ok(mut l) = self.inner.local.write() else { return };
            let fingerprint = |m: &DocMap| m.iter().map(|(k, v)| (k.clone(), v.raw.clone())).collect::<Vec<_>>();
            let changed = fingerprint(&l.overrides) != fingerprint(&overrides)
                || fingerprint(&l.sources) != fingerprint(&from_sources)
                || fingerprint(&l.registered) != fingerprint(&registered);
            *l = Local {
                overrides,
                registered,
                sources: from_sources,
            };
            changed
        };
        if changed {
            self.inner.cache.clear_local();
        }
    }

    fn local(&self, vct: &str) -> Option<Known> {
        let l = self.inner.local.read().ok()?;
        l.overrides
            .get(vct)
            .or_else(|| l.registered.get(vct))
            .or_else(|| l.sources.get(vct))
            .cloned()
    }

    /// `{vct, name, description, organization}` of every locally known type, by vct.
    pub fn list(&self) -> Vec<Value> {
        let Ok(l) = self.inner.local.read() else {
            return Vec::new();
        };
        let mut all: std::collections::BTreeMap<&String, &Known> = l.sources.iter().collect();
        all.extend(l.registered.iter());
        all.extend(l.overrides.iter());
        all.values()
            .map(|k| {
                let d = &k.doc;
                let organization = d
                    .get("organization")
                    .cloned()
                    .or_else(|| d.pointer("/display/0/organization").cloned())
                    .unwrap_or(Value::Null);
                serde_json::json!({"vct": d["vct"], "name": d.get("name"), "description": d.get("description"),
                                   "organization": organization})
            })
            .collect()
    }

    /// Registers (or replaces) a document: validated, stored in the database when there is one, and the cached
    /// resolution of its vct dropped.
    pub async fn register(&self, doc: Value) -> Result<String, RegistryError> {
        document::validate(&doc).map_err(RegistryError::BadRequest)?;
        let vct = doc["vct"].as_str().unwrap_or_default().to_string();
        let known = Known::from_value(doc);
        if let Some(store) = &self.inner.store {
            let text = String::from_utf8_lossy(&known.raw).into_owned();
            store.put_vctm(&vct, &text).await.map_err(|e| {
                tracing::error!(error = %e, "cannot store a VCTM document");
                RegistryError::Upstream {
                    message: "the database failed".into(),
                    timeout: false,
                }
            })?;
        }
        if let Ok(mut l) = self.inner.local.write() {
            l.registered.insert(vct.clone(), known);
        }
        // Documents extending this one are cached under their own keys; dropping the local cache catches them.
        self.inner.cache.clear_local();
        self.inner.cache.remove(&cache_key(&vct, None)).await;
        Ok(vct)
    }

    /// The resolved type metadata of `vct`, optionally checked against `integrity` (the credential's
    /// `vct#integrity`), for a trusted caller (the engine of this process): fetches are not counted.
    pub async fn type_metadata(&self, vct: &str, integrity: Option<&str>) -> Result<Served, RegistryError> {
        self.type_metadata_for(vct, integrity, std::future::ready(Fetcher::Trusted))
            .await
    }

    /// [`Registry::type_metadata`] for the caller `fetcher` resolves to: an on-demand fetch outside the configured
    /// sources spends its budget (cached answers never do). `fetcher` is awaited only when the cache has no fresh
    /// answer, so a cache hit never works out who asks (which may mean validating a bearer token).
    pub async fn type_metadata_for(
        &self,
        vct: &str,
        integrity: Option<&str>,
        fetcher: impl Future<Output = Fetcher>,
    ) -> Result<Served, RegistryError> {
        if vct.is_empty() || vct.len() > document::MAX_VCT_LEN {
            return Err(RegistryError::BadRequest("vct must be 1 to 2048 bytes".into()));
        }
        if let Some(i) = integrity {
            Integrity::parse(i).map_err(|e| RegistryError::BadRequest(format!("integrity: {e}")))?;
        }
        let key = cache_key(vct, integrity);
        let cached = self.inner.cache.get(&key).await;
        if let Some(e) = &cached
            && e.fresh_until > now_millis()
        {
            return Ok(Served {
                entry: e.clone(),
                stale: false,
            });
        }
        let fetcher = fetcher.await;
        let lock = {
            let mut map = self.inner.inflight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let result = {
            let _guard = lock.lock().await;
            self.resolve_locked(&key, vct, integrity, &fetcher).await
        };
        {
            let mut map = self.inner.inflight.lock().unwrap_or_else(|p| p.into_inner());
            // Only the map and this function hold it: nobody else waits for this key.
            if Arc::strong_count(&lock) <= 2 {
                map.remove(&key);
            }
        }
        result
    }

    async fn resolve_locked(
        &self,
        key: &str,
        vct: &str,
        integrity: Option<&str>,
        fetcher: &Fetcher,
    ) -> Result<Served, RegistryError> {
        let cache = &self.inner.cache;
        // Someone ahead of us in this process (or another replica) may have filled the entry meanwhile.
        let mut cached = cache.get(key).await;
        if let Some(e) = &cached
            && e.fresh_until > now_millis()
        {
            return Ok(Served {
                entry: e.clone(),
                stale: false,
            });
        }
        let locked = cache.try_lock(key).await;
        if locked && cache.is_shared() {
            // Another replica may have fetched, stored and unlocked between our read and our lock: read again, or
            // two replicas that missed at the same moment would both fetch.
            if let Some(e) = cache.get(key).await
                && e.fresh_until > now_millis()
            {
                cache.unlock(key).await;
                return Ok(Served { entry: e, stale: false });
            }
        }
        if !locked {
            // Another replica is fetching: wait (bounded) for its result.
            let deadline = now_millis() + LOCK_TTL.as_millis() as i64;
            while now_millis() < deadline {
                tokio::time::sleep(Duration::from_millis(25)).await;
                if let Some(e) = cache.get(key).await
                    && e.fresh_until > now_millis()
                {
                    return Ok(Served { entry: e, stale: false });
                }
            }
            cached = cache.get(key).await;
        }
        let outcome = self.build(vct, integrity, fetcher).await;
        let result = match outcome {
            Ok((doc, ttl)) => {
                let now = now_millis();
                let body = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
                let etag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(&body)[..18]);
                let fresh_until = now + ttl.as_millis() as i64;
                let stale_until = fresh_until + self.inner.cfg.stale_ttl.as_millis() as i64;
                let entry = Arc::new(Entry::new(body, etag, fresh_until, stale_until));
                // no-store/no-cache upstream (ttl 0): served, never stored.
                if !ttl.is_zero() {
                    cache.put(key, entry.clone(), now).await;
                }
                Ok(Served { entry, stale: false })
            }
            // Upstream failed, or this caller may not fetch now: a stale answer is better than none.
            Err(e) if e.is_upstream() || matches!(e, RegistryError::RateLimited(_)) => {
                match cached.filter(|c| c.stale_until > now_millis()) {
                    Some(entry) => {
                        tracing::warn!(error = %e, "upstream failed; serving stale type metadata");
                        Ok(Served { entry, stale: true })
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        if locked {
            cache.unlock(key).await;
        }
        result
    }

    /// Resolves the chain and embeds images. Returns the document and its freshness (the shortest of the chain).
    async fn build(
        &self,
        vct: &str,
        integrity: Option<&str>,
        fetcher: &Fetcher,
    ) -> Result<(Value, Duration), RegistryError> {
        let mut visited = Vec::new();
        let (mut doc, ttl) = self.resolve_chain(vct, integrity, &mut visited, fetcher).await?;
        let refs = document::image_refs(&doc);
        let policy = ImagePolicy {
            egress: &self.inner.egress,
            max_bytes: self.inner.cfg.max_image_bytes,
            allowed_types: &self.inner.cfg.image_content_types,
        };
        embed_all(&mut doc, &refs, &policy).await?;
        Ok((doc, ttl))
    }

    async fn resolve_chain(
        &self,
        vct: &str,
        integrity: Option<&str>,
        visited: &mut Vec<String>,
        fetcher: &Fetcher,
    ) -> Result<(Value, Duration), RegistryError> {
        if visited.iter().any(|v| v == vct) {
            return Err(RegistryError::Extends(format!("`extends` loops back to {vct}")));
        }
        if visited.len() > self.inner.cfg.max_extends_depth {
            return Err(RegistryError::Extends(format!(
                "the `extends` chain is longer than registry.max_extends_depth ({})",
                self.inner.cfg.max_extends_depth
            )));
        }
        let is_root = visited.is_empty();
        visited.push(vct.to_string());
        let (known, ttl) = match self.load(vct, fetcher).await {
            Ok(x) => x,
            Err(RegistryError::NotFound(_)) if !is_root => {
                return Err(RegistryError::Extends(format!("extended type {vct} is unknown")));
            }
            Err(e) => return Err(e),
        };
        if let Some(i) = integrity {
            let i = Integrity::parse(i).map_err(|e| RegistryError::Integrity(format!("{vct}: {e}")))?;
            if !i.matches(&known.raw) {
                let which = if is_root { "vct#integrity" } else { "extends#integrity" };
                return Err(RegistryError::Integrity(format!(
                    "the document of {vct} does not match its {which}"
                )));
            }
        }
        let doc = known.doc;
        if doc["vct"].as_str() != Some(vct) {
            return Err(RegistryError::InvalidDocument(format!(
                "the document fetched for {vct} names another vct"
            )));
        }
        let Some(parent) = doc.get("extends").and_then(Value::as_str).map(str::to_string) else {
            return Ok((doc, ttl));
        };
        let parent_integrity = doc.get("extends#integrity").and_then(Value::as_str).map(str::to_string);
        let (parent_doc, parent_ttl) =
            Box::pin(self.resolve_chain(&parent, parent_integrity.as_deref(), visited, fetcher)).await?;
        Ok((document::merge(&parent_doc, &doc), ttl.min(parent_ttl)))
    }

    /// A document by vct: local origins first, then an on-demand fetch of an http(s) vct.
    async fn load(&self, vct: &str, fetcher: &Fetcher) -> Result<(Known, Duration), RegistryError> {
        if let Some(k) = self.local(vct) {
            return Ok((k, self.inner.cfg.default_ttl));
        }
        let is_url = vct.starts_with("https://") || vct.starts_with("http://");
        if !(is_url && self.inner.cfg.fetch_on_demand) {
            return Err(RegistryError::NotFound(format!("no type metadata for {vct}")));
        }
        self.inner.gate.permit(fetcher, vct).await?;
        let resp = self
            .inner
            .egress
            .get(vct, self.inner.cfg.max_document_bytes)
            .await
            .map_err(|e| RegistryError::from_egress(&format!("fetching {vct}"), &e))?;
        match resp.status.as_u16() {
            200..=299 => {}
            404 | 410 => return Err(RegistryError::NotFound(format!("no type metadata for {vct}"))),
            code => {
                return Err(RegistryError::Upstream {
                    message: format!("fetching {vct} answered HTTP {code}"),
                    timeout: false,
                });
            }
        }
        let doc = document::parse(&resp.body).map_err(|e| RegistryError::InvalidDocument(format!("{vct}: {e}")))?;
        let ttl = freshness(&resp.headers, &self.inner.cfg);
        Ok((
            Known {
                raw: resp.body.clone(),
                doc,
            },
            ttl,
        ))
    }
}

/// The cache key of a resolution (hashed: vcts are long URLs chosen by others).
fn cache_key(vct: &str, integrity: Option<&str>) -> String {
    let mut h = sha2::Sha256::new();
    h.update(vct.as_bytes());
    h.update(b"\n");
    h.update(integrity.unwrap_or("").as_bytes());
    format!(
        "tm:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize())
    )
}

/// Freshness from upstream caching headers: `no-store`/`no-cache` give zero, `s-maxage` or `max-age` give their
/// value, otherwise `registry.default_ttl`; always capped by `registry.max_ttl`.
pub fn freshness(headers: &HeaderMap, cfg: &RegistryConfig) -> Duration {
    let cc = headers
        .get_all("cache-control")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    let mut max_age = None;
    let mut shared_max_age = None;
    for directive in cc.split(',').map(str::trim) {
        match directive.split_once('=') {
            None if directive == "no-store" || directive == "no-cache" || directive == "private" => {
                return Duration::ZERO;
            }
            Some(("max-age", v)) => max_age = v.trim_matches('"').parse::<u64>().ok(),
            Some(("s-maxage", v)) => shared_max_age = v.trim_matches('"').parse::<u64>().ok(),
            _ => {}
        }
    }
    shared_max_age
        .or(max_age)
        .map(Duration::from_secs)
        .unwrap_or(cfg.default_ttl)
        .min(cfg.max_ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caching_headers() {
        let cfg = RegistryConfig::default();
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert("cache-control", v.parse().unwrap());
            m
        };
        assert_eq!(freshness(&HeaderMap::new(), &cfg), cfg.default_ttl);
        assert_eq!(freshness(&h("public, max-age=60"), &cfg), Duration::from_secs(60));
        assert_eq!(freshness(&h("max-age=60, s-maxage=30"), &cfg), Duration::from_secs(30));
        assert_eq!(freshness(&h("no-store"), &cfg), Duration::ZERO);
        assert_eq!(freshness(&h("max-age=99999999"), &cfg), cfg.max_ttl);
    }
}
