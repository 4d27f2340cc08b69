//! Who may make the registry fetch what (docs/security.md "Anonymous fetchers"). `/type-metadata` and
//! `/issuer-metadata` answer anyone, but an upstream fetch is free only for the tenant's configured sources: the
//! origins of `registry.vctm_sources` and `registry.fetch_allowed_origins`, and the origins of the issuers the tenant
//! registered. A fetch of anything else spends the caller's budget of the shared rate limiter
//! (`rate_limits.metadata_fetches_per_client`): per user with a valid access token, else per client address.
//! Cached answers spend nothing. The engine of the same process, and addresses in `registry.unlimited_clients` (a
//! split engine), are not counted: their flows are authenticated and budgeted by the engine.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use walletd_common::config::RegistryConfig;
use walletd_common::limits::{LimitKind, RateLimiter};
use walletd_db::Store;

use crate::error::RegistryError;

/// How long a tenant's registered issuer origins are reused before they are read again.
const ISSUER_ORIGINS_TTL: Duration = Duration::from_secs(30);

/// Who asks for a fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetcher {
    /// The engine (in this process, or from `registry.unlimited_clients`): not counted.
    Trusted,
    /// An HTTP caller acting for `tenant_id`; `subject` is whom the budget belongs to (`user:<id>` or `ip:<addr>`).
    Client { tenant_id: String, subject: String },
}

impl Fetcher {
    /// The caller of an HTTP request: the user of a valid token (in its tenant), else the client address (in the
    /// tenant the request names); an address in `unlimited` is trusted.
    pub fn of_request(user: Option<(String, String)>, tenant_id: &str, ip: IpAddr, unlimited: &[IpNet]) -> Fetcher {
        match user {
            Some((tenant_id, user_id)) => Fetcher::Client {
                tenant_id,
                subject: format!("user:{user_id}"),
            },
            None if unlimited.iter().any(|n| n.contains(&ip)) => Fetcher::Trusted,
            None => Fetcher::Client {
                tenant_id: tenant_id.to_string(),
                subject: format!("ip:{ip}"),
            },
        }
    }
}

/// Decides whether a fetch is free, counted, or refused (429). Cheap to clone.
#[derive(Clone)]
pub struct FetchGate {
    inner: Arc<Inner>,
}

struct Inner {
    configured: Vec<String>,
    limiter: RateLimiter,
    store: Option<Store>,
    issuer_origins: moka::future::Cache<String, Arc<Vec<String>>>,
}

impl FetchGate {
    /// A gate over the registry's configuration, the shared limiter and the tenant store (registered issuers).
    pub fn new(cfg: &RegistryConfig, limiter: RateLimiter, store: Option<Store>) -> Self {
        let mut configured: Vec<String> = cfg
            .vctm_sources
            .iter()
            .chain(&cfg.fetch_allowed_origins)
            .filter_map(|u| origin_of(u))
            .collect();
        configured.sort();
        configured.dedup();
        FetchGate {
            inner: Arc::new(Inner {
                configured,
                limiter,
                store,
                issuer_origins: moka::future::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(ISSUER_ORIGINS_TTL)
                    .build(),
            }),
        }
    }

    /// A gate that lets every fetch through (tools, tests of other things).
    pub fn open() -> Self {
        FetchGate::new(&RegistryConfig::default(), RateLimiter::unlimited(), None)
    }

    /// Allows `fetcher` to fetch `url` now, or refuses with [`RegistryError::RateLimited`].
    pub async fn permit(&self, fetcher: &Fetcher, url: &str) -> Result<(), RegistryError> {
        let Fetcher::Client { tenant_id, subject } = fetcher else {
            return Ok(());
        };
        if let Some(origin) = origin_of(url)
            && (self.inner.configured.contains(&origin) || self.issuer_origins(tenant_id).await.contains(&origin))
        {
            return Ok(());
        }
        self.inner
            .limiter
            .check(LimitKind::MetadataFetches, Some(tenant_id), subject)
            .await
            .map_err(RegistryError::RateLimited)
    }

    /// The origins of the issuers `tenant_id` registered (cached briefly; none when they cannot be read).
    async fn issuer_origins(&self, tenant_id: &str) -> Arc<Vec<String>> {
        let Some(store) = &self.inner.store else {
            return Arc::new(Vec::new());
        };
        let store = store.clone();
        self.inner
            .issuer_origins
            .get_with(tenant_id.to_string(), async move {
                let list = store.list_issuers(tenant_id).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the tenant's issuers; only configured sources are free");
                    Vec::new()
                });
                let mut origins: Vec<String> = list
                    .iter()
                    .filter_map(|i| origin_of(&i.credential_issuer_identifier))
                    .collect();
                origins.sort();
                origins.dedup();
                Arc::new(origins)
            })
            .await
    }
}

/// `scheme://host[:port]` of an http(s) URL, lower-cased by the URL parser; `None` for anything else.
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(subject: &str) -> Fetcher {
        Fetcher::Client {
            tenant_id: "default".into(),
            subject: subject.into(),
        }
    }

    #[tokio::test]
    async fn configured_origins_are_free_and_others_are_counted_per_client() {
        let mut cfg = walletd_common::config::Config::default();
        cfg.rate_limits.metadata_fetches_per_client = 2;
        cfg.registry.vctm_sources = vec!["https://Sources.example/list.json".into()];
        cfg.registry.fetch_allowed_origins = vec!["https://issuer.example:8443".into()];
        let gate = FetchGate::new(&cfg.registry, RateLimiter::new(&cfg, None, None), None);
        let a = client("ip:192.0.2.1");
        for _ in 0..5 {
            gate.permit(&a, "https://sources.example/vct/pid").await.unwrap();
            gate.permit(&a, "https://issuer.example:8443/x").await.unwrap();
            gate.permit(&Fetcher::Trusted, "https://elsewhere.example/a")
                .await
                .unwrap();
        }
        gate.permit(&a, "https://elsewhere.example/a").await.unwrap();
        gate.permit(&a, "https://issuer.example/other-port").await.unwrap();
        let e = gate.permit(&a, "https://elsewhere.example/b").await.unwrap_err();
        assert!(matches!(e, RegistryError::RateLimited(l) if (1..=60).contains(&l.retry_after_secs())));
        gate.permit(&client("ip:192.0.2.2"), "https://elsewhere.example/a")
            .await
            .expect("another client has its own budget");
    }

    #[test]
    fn callers_are_told_apart() {
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let engines: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        assert_eq!(Fetcher::of_request(None, "t", ip, &engines), Fetcher::Trusted);
        assert_eq!(
            Fetcher::of_request(None, "t", ip, &[]),
            Fetcher::Client {
                tenant_id: "t".into(),
                subject: "ip:10.0.0.7".into()
            }
        );
        assert_eq!(
            Fetcher::of_request(Some(("acme".into(), "u1".into())), "t", ip, &engines),
            Fetcher::Client {
                tenant_id: "acme".into(),
                subject: "user:u1".into()
            }
        );
        assert_eq!(origin_of("HTTPS://A.example:443/x"), Some("https://a.example".into()));
        assert_eq!(origin_of("urn:eu:pid"), None);
    }
}
