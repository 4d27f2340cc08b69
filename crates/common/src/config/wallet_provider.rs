//! Configuration of the wallet-provider role (`wallet_provider`): attestation lifetimes, the status list, the
//! signer (database key ring or PKCS#11 token), assurance levels per tenant and the per-user/per-instance limits.

use std::collections::BTreeMap;

use super::*;

/// Wallet-provider role: key attestations, Wallet Instance Attestations, the token status list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalletProviderConfig {
    /// The provider's issuer identifier (`iss` of every attestation) and the base of the status list URI;
    /// `~` uses `server.public_url` + `/wallet-provider`.
    pub issuer: Option<Url>,
    /// Which signer holds the attestation key: `keyring` (the database key ring) or `pkcs11` (a token).
    pub signer: SignerKind,
    /// Key ring signer: the key file whose key names and wraps the provider's ring; `~` uses
    /// `data_dir/wallet-provider-key.pem`. Use another file than `jwt.signing_key_file` so the provider's keys
    /// are not the token keys.
    pub signing_key_file: Option<PathBuf>,
    /// PKCS#11 signer settings.
    pub pkcs11: Pkcs11Config,
    /// Lifetime of a key attestation (`exp` - `iat`).
    #[serde(with = "humantime_serde")]
    pub key_attestation_ttl: Duration,
    /// Lifetime of a Wallet Instance Attestation.
    #[serde(with = "humantime_serde")]
    pub wia_ttl: Duration,
    /// How long a WIA challenge can be used.
    #[serde(with = "humantime_serde")]
    pub challenge_ttl: Duration,
    /// Most unused, unexpired challenges per tenant (`429` beyond).
    pub max_pending_challenges: u32,
    /// Most public keys one key attestation may attest.
    pub max_attested_keys: u32,
    /// Number of entries (bits) of the status list; an attestation takes a random free one.
    pub status_list_size: u32,
    /// How often the signed status list is rebuilt from the database; also its `ttl` and HTTP max-age.
    #[serde(with = "humantime_serde")]
    pub status_list_refresh: Duration,
    /// `key_storage` levels of key attestations (OpenID4VCI 1.0 Appendix D.2), unless the tenant has its own.
    pub key_storage: Vec<String>,
    /// `user_authentication` levels of key attestations, unless the tenant has its own.
    pub user_authentication: Vec<String>,
    /// Per-tenant assurance levels: `{<tenant id>: {key_storage: [...], user_authentication: [...]}}`.
    pub tenants: BTreeMap<String, TenantAttestationLevels>,
    /// Attestations and challenges one user may obtain per `rate_limits.window` (all kinds; 0 disables); counted
    /// by the shared rate limiter (one budget across replicas with Redis), overridable per tenant
    /// (`wallet_provider_per_user`). `user_per_minute` is its former name.
    #[serde(alias = "user_per_minute")]
    pub rate_limit_per_user: u32,
    /// Attestations one wallet instance may obtain per `rate_limits.window` (0 disables); per tenant
    /// `wallet_provider_per_instance`. `instance_per_minute` is its former name.
    #[serde(alias = "instance_per_minute")]
    pub rate_limit_per_instance: u32,
    /// Most unexpired attestations one wallet instance may hold (`429` beyond).
    pub max_live_per_instance: u32,
}

impl Default for WalletProviderConfig {
    fn default() -> Self {
        WalletProviderConfig {
            issuer: None,
            signer: SignerKind::Keyring,
            signing_key_file: None,
            pkcs11: Pkcs11Config::default(),
            key_attestation_ttl: Duration::from_secs(300),
            wia_ttl: Duration::from_secs(3600),
            challenge_ttl: Duration::from_secs(300),
            max_pending_challenges: 10_000,
            max_attested_keys: 10,
            status_list_size: 131_072,
            status_list_refresh: Duration::from_secs(60),
            key_storage: vec!["iso_18045_moderate".into()],
            user_authentication: vec!["iso_18045_moderate".into()],
            tenants: BTreeMap::new(),
            rate_limit_per_user: 30,
            rate_limit_per_instance: 20,
            max_live_per_instance: 1000,
        }
    }
}

/// Which signer holds the provider's attestation key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerKind {
    /// The database key ring (keys wrapped under the key file's key).
    #[default]
    Keyring,
    /// A PKCS#11 token: the private key is generated on the token and never leaves it.
    Pkcs11,
}

/// The PKCS#11 token holding the attestation key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: Option<PathBuf>,
    /// Label of the token to use.
    pub token_label: String,
    /// User PIN of the token.
    pub pin: Option<Secret>,
    /// Label of the P-256 key pair; generated on the token (non-extractable) when absent.
    pub key_label: String,
}

impl Default for Pkcs11Config {
    fn default() -> Self {
        Pkcs11Config {
            module: None,
            token_label: "walletd".into(),
            pin: None,
            key_label: "walletd-wallet-provider".into(),
        }
    }
}

/// A tenant's key-attestation assurance levels; an unset list uses the global one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantAttestationLevels {
    pub key_storage: Option<Vec<String>>,
    pub user_authentication: Option<Vec<String>>,
}

impl WalletProviderConfig {
    /// The issuer identifier: `issuer`, else `<public_url>/wallet-provider`.
    pub fn issuer_id(&self, public_url: &Url) -> String {
        match &self.issuer {
            Some(u) => u.as_str().trim_end_matches('/').to_string(),
            None => format!("{}/wallet-provider", public_url.as_str().trim_end_matches('/')),
        }
    }

    /// Checks the limits and the signer settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: format!("wallet_provider.{key}"),
                message: message.into(),
            })
        };
        if self.key_attestation_ttl.is_zero() || self.wia_ttl.is_zero() || self.challenge_ttl.is_zero() {
            return invalid(
                "key_attestation_ttl",
                "attestation and challenge lifetimes must be greater than 0",
            );
        }
        if self.status_list_refresh.is_zero() {
            return invalid("status_list_refresh", "must be greater than 0");
        }
        if self.status_list_size < 1024 || !self.status_list_size.is_multiple_of(8) {
            return invalid("status_list_size", "must be a multiple of 8 and at least 1024");
        }
        if self.max_attested_keys == 0 || self.max_pending_challenges == 0 || self.max_live_per_instance == 0 {
            return invalid(
                "max_attested_keys",
                "max_attested_keys, max_pending_challenges and max_live_per_instance must be at least 1",
            );
        }
        if self.signer == SignerKind::Pkcs11 && (self.pkcs11.module.is_none() || self.pkcs11.pin.is_none()) {
            return invalid("pkcs11.module", "the pkcs11 signer needs pkcs11.module and pkcs11.pin");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_signer_settings_are_checked() {
        assert!(WalletProviderConfig::default().validate().is_ok());
        let bad = |f: fn(&mut WalletProviderConfig)| {
            let mut c = WalletProviderConfig::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(|c| c.status_list_size = 1001).contains("status_list_size"));
        assert!(bad(|c| c.status_list_size = 8).contains("status_list_size"));
        assert!(bad(|c| c.wia_ttl = Duration::ZERO).contains("lifetimes"));
        assert!(bad(|c| c.max_attested_keys = 0).contains("max_attested_keys"));
        assert!(bad(|c| c.signer = SignerKind::Pkcs11).contains("pkcs11.module"));
    }

    #[test]
    fn the_issuer_defaults_to_the_public_url() {
        let public = Url::parse("https://wallet.example/").unwrap();
        let mut c = WalletProviderConfig::default();
        assert_eq!(c.issuer_id(&public), "https://wallet.example/wallet-provider");
        c.issuer = Some(Url::parse("https://wp.example/x/").unwrap());
        assert_eq!(c.issuer_id(&public), "https://wp.example/x");
    }
}
