//! `trust:` section of the configuration file.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

/// Settings of the AuthZEN trust client (the `trust:` section of the YAML configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustConfig {
    /// The PDP used by tenants that have no `trust_config.pdp_url` of their own. None: such tenants get the
    /// verdict "unknown" (never "trusted").
    pub default_endpoint: Option<Url>,
    /// Path appended to a PDP URL for evaluations.
    pub evaluation_path: String,
    /// Deadline of one PDP call (connect + response).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How long a PDP verdict is served from the cache (unless the tenant sets its own TTL). `0s` disables caching.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// After `cache_ttl`, how long the old verdict may still be served while one background call refreshes it.
    /// A failed refresh drops the entry (fail closed). `0s` disables stale serving.
    #[serde(with = "humantime_serde")]
    pub stale_ttl: Duration,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            default_endpoint: None,
            evaluation_path: "/evaluation".into(),
            timeout: Duration::from_secs(5),
            cache_ttl: Duration::from_secs(300),
            stale_ttl: Duration::from_secs(60),
        }
    }
}

impl TrustConfig {
    /// Checks values that deserialise but make no sense. Returns a message naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout.is_zero() {
            return Err("trust.timeout must be greater than zero".into());
        }
        if !self.evaluation_path.starts_with('/') {
            return Err("trust.evaluation_path must start with '/'".into());
        }
        if let Some(u) = &self.default_endpoint
            && !matches!(u.scheme(), "http" | "https")
        {
            return Err("trust.default_endpoint must be an http or https URL".into());
        }
        Ok(())
    }
}
