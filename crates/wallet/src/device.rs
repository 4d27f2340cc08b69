//! The device configuration of a native wallet (the seed's `local-engine.yaml` shape): which engine runs the flows
//! (embedded in this process, or a remote one over `wss://`), the embedded engine's `egress`, `trust` and
//! `registry` (no database), the cloud account's address, and the local store's options. Unknown keys are errors
//! naming the key.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;
use walletd_common::config::{EgressConfig, EngineConfig, TrustConfig};

use crate::store::StoreOptions;

/// Which engine runs the flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineMode {
    /// `walletd-engine` in this process, driven through an in-memory link (nothing about flows reaches the cloud).
    #[default]
    Embedded,
    /// A remote engine role over its WebSocket.
    Remote,
}

/// `engine:`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// `embedded` (default) or `remote`: the one setting that switches.
    pub mode: EngineMode,
    /// The remote engine's WebSocket URL (`wss://host/api/v2/wallet`), for `remote`.
    pub url: Option<Url>,
    /// The embedded engine's limits and timeouts (the server's `engine:` keys).
    pub limits: EngineConfig,
}

/// `registry:`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySection {
    /// The registry role's base URL (type metadata); none skips type metadata.
    pub url: Option<Url>,
}

/// `cloud:`: the auth and storage roles of the wallet's account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudSection {
    /// Base URL of the auth and storage roles.
    pub url: Option<Url>,
    /// The WebAuthn origin the software passkey presents (one of the auth role's `webauthn.rp_origins`).
    pub origin: Option<String>,
    /// The tenant of the account (`X-Tenant-ID`), if not the default.
    pub tenant: Option<String>,
    /// Deadline of each cloud request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How often a sync re-reads and retries one blob after a 412 before giving up.
    pub max_conflict_retries: u32,
    /// Most change-feed pages one sync reads.
    pub max_sync_pages: u32,
}

impl Default for CloudSection {
    fn default() -> Self {
        CloudSection {
            url: None,
            origin: None,
            tenant: None,
            timeout: Duration::from_secs(10),
            max_conflict_retries: 3,
            max_sync_pages: 100,
        }
    }
}

/// `authorization:`: the OAuth authorization step of an issuance by authorization code (the user signs in at the
/// issuer in a browser and brings back the redirect).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthorizationSection {
    /// The redirect URI the wallet registers with issuers: the browser is sent there with `code` and `state`.
    /// The default is a loopback address (RFC 8252 section 7.3) on which nothing listens: the user copies the
    /// address from the browser.
    pub redirect_uri: Url,
    /// How long an external authorization program (the CLI's `--authorize-with`) may run.
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    /// Most bytes read from the redirect the user or the program gives back.
    pub max_response_bytes: usize,
}

impl Default for AuthorizationSection {
    fn default() -> Self {
        AuthorizationSection {
            redirect_uri: Url::parse(DEFAULT_REDIRECT_URI).expect("a valid constant URL"),
            command_timeout: Duration::from_secs(5 * 60),
            max_response_bytes: 8 * 1024,
        }
    }
}

/// The default `authorization.redirect_uri`.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// The device configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceConfig {
    /// Which engine runs the flows.
    pub engine: EngineSection,
    /// The embedded engine's egress guard (same keys and defaults as the server's `egress:`).
    pub egress: EgressConfig,
    /// The embedded engine's AuthZEN client (same keys as the server's `trust:`).
    pub trust: TrustConfig,
    /// The registry the embedded engine asks for type metadata.
    pub registry: RegistrySection,
    /// The cloud account.
    pub cloud: CloudSection,
    /// Issuance by authorization code.
    pub authorization: AuthorizationSection,
    /// The local store.
    pub store: StoreOptions,
}

impl DeviceConfig {
    /// Parses YAML; errors name the key.
    pub fn from_yaml(yaml: &str) -> Result<DeviceConfig, String> {
        if yaml.trim().is_empty() {
            return Ok(DeviceConfig::default());
        }
        let de = serde_yaml_ng::Deserializer::from_str(yaml);
        let cfg: DeviceConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads a YAML file.
    pub fn load(path: &Path) -> Result<DeviceConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_yaml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), String> {
        self.egress.validate()?;
        if self.engine.mode == EngineMode::Remote {
            match &self.engine.url {
                Some(u) if u.scheme() == "wss" || u.scheme() == "ws" => {}
                Some(_) => return Err("engine.url must be a ws:// or wss:// URL".into()),
                None => return Err("engine.url is required when engine.mode is remote".into()),
            }
        }
        if self.cloud.max_conflict_retries > 100 {
            return Err("cloud.max_conflict_retries must be at most 100".into());
        }
        if self.cloud.max_sync_pages == 0 {
            return Err("cloud.max_sync_pages must be at least 1".into());
        }
        if !matches!(self.authorization.redirect_uri.scheme(), "http" | "https")
            && !self.authorization.redirect_uri.scheme().contains('.')
        {
            return Err(
                "authorization.redirect_uri must be an http(s) URL or a private-use scheme (reverse domain name)"
                    .into(),
            );
        }
        if self.authorization.command_timeout.is_zero() {
            return Err("authorization.command_timeout must be more than 0".into());
        }
        if !(256..=1024 * 1024).contains(&self.authorization.max_response_bytes) {
            return Err("authorization.max_response_bytes must be between 256 and 1048576".into());
        }
        if self.store.max_history == 0 {
            return Err("store.max_history must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_engine_shape_parses_and_unknown_keys_name_their_path() {
        let cfg = DeviceConfig::from_yaml(
            "egress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\ntrust:\n  timeout: 2s\n\
             registry:\n  url: http://127.0.0.1:9/\n",
        )
        .unwrap();
        assert_eq!(cfg.engine.mode, EngineMode::Embedded);
        assert!(cfg.egress.allow_http);
        assert_eq!(cfg.trust.timeout, Duration::from_secs(2));
        let err = DeviceConfig::from_yaml("egress:\n  allow_htp: true\n").unwrap_err();
        assert!(err.starts_with("egress"), "{err}");
        let err = DeviceConfig::from_yaml("database:\n  url: x\n").unwrap_err();
        assert!(err.contains("database"), "{err}");
    }

    #[test]
    fn remote_needs_a_websocket_url_and_limits_are_checked() {
        let err = DeviceConfig::from_yaml("engine:\n  mode: remote\n").unwrap_err();
        assert!(err.contains("engine.url"), "{err}");
        DeviceConfig::from_yaml("engine:\n  mode: remote\n  url: wss://engine.example/api/v2/wallet\n").unwrap();
        let err = DeviceConfig::from_yaml("cloud:\n  max_conflict_retries: 1000\n").unwrap_err();
        assert!(err.contains("max_conflict_retries"), "{err}");
        let err = DeviceConfig::from_yaml("store:\n  max_history: 0\n").unwrap_err();
        assert!(err.contains("max_history"), "{err}");
        let cfg = DeviceConfig::from_yaml("store:\n  lock_wait: 2s\n").unwrap();
        assert_eq!(cfg.store.lock_wait, Duration::from_secs(2));
    }

    #[test]
    fn the_authorization_section_has_defaults_and_checks_its_values() {
        let cfg = DeviceConfig::default();
        assert_eq!(cfg.authorization.redirect_uri.as_str(), DEFAULT_REDIRECT_URI);
        assert_eq!(cfg.authorization.command_timeout, Duration::from_secs(300));
        let cfg = DeviceConfig::from_yaml(
            "authorization:\n  redirect_uri: com.example.wallet:/cb\n  command_timeout: 20s\n  max_response_bytes: 1024\n",
        )
        .unwrap();
        assert_eq!(cfg.authorization.redirect_uri.scheme(), "com.example.wallet");
        for bad in [
            "redirect_uri: javascript:alert(1)",
            "command_timeout: 0s",
            "max_response_bytes: 10",
            "redirect_url: http://x/",
        ] {
            let err = DeviceConfig::from_yaml(&format!("authorization:\n  {bad}\n")).unwrap_err();
            assert!(
                err.contains("authorization") || err.contains("redirect_url"),
                "{bad}: {err}"
            );
        }
    }
}
