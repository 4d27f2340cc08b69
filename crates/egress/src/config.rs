//! `egress:` section of the configuration file.

use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Settings of the egress guard (the `egress:` section of the YAML configuration).
///
/// Every field has a default, so an empty section (or none at all) gives the production-safe behaviour:
/// `https` only, the built-in block list, 5 s connect / 20 s total, at most 5 redirects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressConfig {
    /// Allow plain `http://` URLs (development only). `https://` is always allowed.
    pub allow_http: bool,
    /// Extra blocked ranges, added to the built-in list (which cannot be shortened except by `allowed_cidrs`).
    pub blocked_cidrs: Vec<IpNet>,
    /// Explicit holes: addresses in these ranges are allowed even if a built-in or configured rule blocks them.
    /// Meant for tests and development (`[127.0.0.1/32]` to reach a local issuer).
    pub allowed_cidrs: Vec<IpNet>,
    /// Time allowed to establish one TCP (+TLS) connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Deadline for the whole call: resolution, every redirect hop and reading the full body.
    #[serde(with = "humantime_serde")]
    pub total_timeout: Duration,
    /// Maximum number of redirects followed per call (0 = never follow).
    pub max_redirects: u32,
    /// `User-Agent` header sent on every request.
    pub user_agent: String,
}

/// Largest `max_redirects` accepted by [`EgressConfig::validate`].
pub const MAX_REDIRECTS_LIMIT: u32 = 20;

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            allow_http: false,
            blocked_cidrs: Vec::new(),
            allowed_cidrs: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(20),
            max_redirects: 5,
            user_agent: default_user_agent(),
        }
    }
}

/// The default `User-Agent`: `walletd/<version>` (no host or deployment details).
pub fn default_user_agent() -> String {
    concat!("walletd/", env!("CARGO_PKG_VERSION")).to_string()
}

impl EgressConfig {
    /// Checks values that deserialise but make no sense. Returns a message naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.connect_timeout.is_zero() {
            return Err("egress.connect_timeout must be greater than zero".into());
        }
        if self.total_timeout.is_zero() {
            return Err("egress.total_timeout must be greater than zero".into());
        }
        if self.max_redirects > MAX_REDIRECTS_LIMIT {
            return Err(format!("egress.max_redirects must be at most {MAX_REDIRECTS_LIMIT}"));
        }
        if self.user_agent.is_empty() || reqwest::header::HeaderValue::from_str(&self.user_agent).is_err() {
            return Err("egress.user_agent must be a non-empty, valid header value".into());
        }
        Ok(())
    }
}
