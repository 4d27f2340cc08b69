//! Configuration of the backend's background workers (`workers`).

use super::*;

/// Background workers of the backend role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// How often the trust worker looks for registered issuers/verifiers whose verdict is due.
    #[serde(with = "humantime_serde")]
    pub trust_interval: Duration,
    /// A verdict is refreshed once this fraction of its TTL has passed, so it never expires in use (0 < f <= 1).
    pub trust_refresh_fraction: f64,
    /// Most entities of each kind re-evaluated per trust run (bounds the load one run puts on the PDP).
    pub trust_batch: u32,
    /// How often expired challenges and old tombstones are removed.
    #[serde(with = "humantime_serde")]
    pub cleanup_interval: Duration,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig {
            trust_interval: Duration::from_secs(60),
            trust_refresh_fraction: 0.8,
            trust_batch: 200,
            cleanup_interval: Duration::from_secs(300),
        }
    }
}
