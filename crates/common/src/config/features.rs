//! `features`: compatibility features for the public web client, each off or narrowed by default.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What `POST /proxy` does (`features.legacy_proxy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LegacyProxyMode {
    /// `false` (the default, as the spec requires): every request answers 404 `proxy_disabled`.
    #[default]
    Off,
    /// `metadata`: only GETs of the metadata documents the web client's credential parser reads
    /// (docs/web-client.md names the rule); everything else answers the same 404 as `Off`. What a deployment of
    /// the public web client sets.
    Metadata,
    /// `true`: the full v1 proxy (any method, any URL the egress guard allows), for old deployments.
    Full,
}

impl Serialize for LegacyProxyMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LegacyProxyMode::Off => s.serialize_bool(false),
            LegacyProxyMode::Full => s.serialize_bool(true),
            LegacyProxyMode::Metadata => s.serialize_str("metadata"),
        }
    }
}

impl<'de> Deserialize<'de> for LegacyProxyMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A boolean keeps the meaning the key had before the metadata mode existed; strings cover environment
        // overrides and the new mode.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(LegacyProxyMode::Full),
            Raw::Bool(false) => Ok(LegacyProxyMode::Off),
            Raw::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
                "true" | "full" => Ok(LegacyProxyMode::Full),
                "false" | "off" => Ok(LegacyProxyMode::Off),
                "metadata" => Ok(LegacyProxyMode::Metadata),
                other => Err(serde::de::Error::custom(format!(
                    "`{other}` is not one of false, true, metadata"
                ))),
            },
        }
    }
}

/// Compatibility features.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// `POST /proxy`: `false` (default), `metadata` (for the public web client) or `true` (the full v1 open proxy, egress-guarded).
    pub legacy_proxy: LegacyProxyMode,
    /// Largest upstream response body the full legacy proxy relays.
    pub legacy_proxy_max_response_bytes: usize,
    /// Largest metadata document the metadata-only proxy accepts.
    pub metadata_proxy_max_response_bytes: usize,
    /// Most bytes of documents the metadata-only proxy keeps in its cache.
    pub metadata_proxy_cache_max_bytes: u64,
    /// How long the metadata-only proxy serves a fetched document from its cache.
    #[serde(with = "humantime_serde")]
    pub metadata_proxy_cache_ttl: Duration,
    /// Server-side credential records `/storage/vc*`, `/storage/vp`. Off by default.
    pub legacy_credential_records: bool,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        FeaturesConfig {
            legacy_proxy: LegacyProxyMode::Off,
            legacy_proxy_max_response_bytes: 4 * 1024 * 1024,
            metadata_proxy_max_response_bytes: 1024 * 1024,
            metadata_proxy_cache_max_bytes: 32 * 1024 * 1024,
            metadata_proxy_cache_ttl: Duration::from_secs(300),
            legacy_credential_records: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_proxy_accepts_bool_and_metadata() {
        for (yaml, want) in [
            ("true", LegacyProxyMode::Full),
            ("false", LegacyProxyMode::Off),
            ("metadata", LegacyProxyMode::Metadata),
            ("\"true\"", LegacyProxyMode::Full),
        ] {
            let got: LegacyProxyMode = serde_yaml_ng::from_str(yaml).unwrap();
            assert_eq!(got, want, "{yaml}");
        }
        assert!(serde_yaml_ng::from_str::<LegacyProxyMode>("maybe").is_err());
        // The spec keeps every form of the proxy off unless the operator turns it on.
        assert_eq!(FeaturesConfig::default().legacy_proxy, LegacyProxyMode::Off);
    }
}
