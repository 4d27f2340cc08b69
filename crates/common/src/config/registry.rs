//! Configuration of the VCTM registry role (`registry`).

use super::*;

/// The VCTM registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Base URL of the registry role, used by the engine (omit in `all` mode: it is in process).
    pub url: Option<Url>,
    /// Sources of VCTM documents polled by the registry role.
    pub vctm_sources: Vec<String>,
    /// Largest image embedded into type metadata as a `data:` URI.
    pub max_image_bytes: usize,
    /// Directory of local override documents (`*.json`, one VCTM each); they win over sources and fetches.
    pub overrides_dir: Option<PathBuf>,
    /// How often `vctm_sources` and `overrides_dir` are read again.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Fetch type metadata from an http(s) `vct` (through the egress guard) when no source knows it.
    pub fetch_on_demand: bool,
    /// Origins (`https://issuer.example`) whose type and issuer metadata any caller may have fetched without
    /// spending a budget, besides the origins of `vctm_sources` and of each tenant's registered issuers. Fetches
    /// elsewhere spend `rate_limits.metadata_fetches_per_client` (docs/security.md "Anonymous fetchers").
    pub fetch_allowed_origins: Vec<String>,
    /// Client addresses (after `server.trusted_proxies`) whose fetches are not counted: a split engine's, which
    /// asks the registry anonymously for every user.
    pub unlimited_clients: Vec<ipnet::IpNet>,
    /// Longest `extends` chain followed (a longer chain or a loop is an error).
    pub max_extends_depth: usize,
    /// Largest VCTM document or source list fetched.
    pub max_document_bytes: usize,
    /// Image media types that may be embedded; `image/svg+xml` images are refused when they contain scripts, event
    /// handlers or external references.
    pub image_content_types: Vec<String>,
    /// Freshness of resolved type metadata when upstream sends no `Cache-Control: max-age`/`Expires`.
    #[serde(with = "humantime_serde")]
    pub default_ttl: Duration,
    /// Upper bound of the freshness upstream headers may ask for.
    #[serde(with = "humantime_serde")]
    pub max_ttl: Duration,
    /// After freshness runs out, how long the old value is still served when upstream fails.
    #[serde(with = "humantime_serde")]
    pub stale_ttl: Duration,
    /// How long `/issuer-metadata` answers (metadata + trust verdict) are cached per tenant.
    #[serde(with = "humantime_serde")]
    pub issuer_metadata_ttl: Duration,
    /// Prefix of the registry's keys in the shared Redis cache.
    pub cache_prefix: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            url: None,
            vctm_sources: Vec::new(),
            max_image_bytes: 256 * 1024,
            overrides_dir: None,
            poll_interval: Duration::from_secs(300),
            fetch_on_demand: true,
            fetch_allowed_origins: Vec::new(),
            unlimited_clients: Vec::new(),
            max_extends_depth: 5,
            max_document_bytes: 1024 * 1024,
            image_content_types: ["image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"]
                .map(String::from)
                .to_vec(),
            default_ttl: Duration::from_secs(3600),
            max_ttl: Duration::from_secs(24 * 3600),
            stale_ttl: Duration::from_secs(24 * 3600),
            issuer_metadata_ttl: Duration::from_secs(600),
            cache_prefix: "walletd:registry:".into(),
        }
    }
}

/// `ssrf:` alias section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsrfAlias {
    pub blocked_cidrs: Vec<ipnet::IpNet>,
}
