//! Wiring of the wallet-provider role: its signer (the provider's own ring in the database key ring, or a PKCS#11
//! token, by `wallet_provider.signer`), its service, routers and worker. The key ring type is the auth role's;
//! the binary hands the provider only closures over it, so the role crates stay independent.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use walletd_auth::{KeyRing, RingSettings};
use walletd_common::config::{Config, SignerKind};
use walletd_common::http::Authenticator;
use walletd_db::Store;
use walletd_wallet_provider::signer::{AttestationSigner, Pkcs11Settings, Pkcs11Signer, SoftwareSigner};
use walletd_wallet_provider::{Settings, WalletProviderService, WpState};

/// The role's routers: the main listener's and the admin listener's.
pub struct WalletProviderRoutes {
    pub routes: Router,
    pub admin: Router,
}

/// Opens the signer, builds the service, starts the worker.
pub async fn build(cfg: &Config, store: Store, auth: Authenticator) -> anyhow::Result<WalletProviderRoutes> {
    let signer = open_signer(cfg, store.clone()).await?;
    let service = WalletProviderService::new(store, signer, Settings::from_config(cfg));
    walletd_wallet_provider::spawn_worker(service.clone());
    let state = WpState {
        service,
        authenticator: auth,
        admin_token: cfg.admin.token.clone(),
    };
    Ok(WalletProviderRoutes {
        routes: walletd_wallet_provider::routes(state.clone()),
        admin: walletd_wallet_provider::admin_routes(state),
    })
}

/// Where the provider's key ring file is: `wallet_provider.signing_key_file` or `data_dir/wallet-provider-key.pem`.
pub fn key_file(cfg: &Config) -> PathBuf {
    cfg.wallet_provider
        .signing_key_file
        .clone()
        .unwrap_or_else(|| cfg.data_dir.0.join("wallet-provider-key.pem"))
}

async fn open_signer(cfg: &Config, store: Store) -> anyhow::Result<Arc<dyn AttestationSigner>> {
    let wp = &cfg.wallet_provider;
    match wp.signer {
        SignerKind::Keyring => {
            // A ring of its own (named by its own key file), so the provider's keys are never the token keys.
            // Keys are not rotated automatically; a replaced key stays published for an attestation's lifetime.
            let settings = RingSettings {
                rotation_interval: None,
                publish_delay: cfg.auth.key_publish_delay,
                retain: wp.wia_ttl.max(wp.key_attestation_ttl) + cfg.jwt.leeway,
                unknown_kid_reload: cfg.jwt.jwks_refetch_interval,
            };
            let ring = KeyRing::open(store, &key_file(cfg), settings)
                .await
                .context("cannot open the wallet provider's key ring")?;
            let jwks_ring = ring.clone();
            Ok(Arc::new(SoftwareSigner::from_ring(
                move || ring.active(),
                move || jwks_ring.jwks(),
            )))
        }
        SignerKind::Pkcs11 => {
            let p = &wp.pkcs11;
            let settings = Pkcs11Settings {
                module: p.module.clone().context("wallet_provider.pkcs11.module is required")?,
                token_label: p.token_label.clone(),
                pin: p
                    .pin
                    .as_ref()
                    .context("wallet_provider.pkcs11.pin is required")?
                    .expose()
                    .to_string(),
                key_label: p.key_label.clone(),
            };
            let signer = tokio::task::spawn_blocking(move || Pkcs11Signer::open(&settings))
                .await
                .context("the PKCS#11 start-up task failed")?
                .context("cannot open the wallet provider's PKCS#11 key")?;
            Ok(Arc::new(signer))
        }
    }
}
