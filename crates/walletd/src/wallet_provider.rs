//! Wiring of the wallet-provider role: its signer (the provider's own ring in the database key ring, or a PKCS#11
//! token, by `wallet_provider.signer`), its service, routers and worker. The key ring type is the auth role's;
//! the binary hands the provider only closures over it, so the role crates stay independent.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use walletd_auth::{KeyRing, RingPurpose, RingSettings};
use walletd_common::config::{Config, SignerKind};
use walletd_common::http::Authenticator;
use walletd_common::limits::RateLimiter;
use walletd_db::Store;
use walletd_engine::{ObtainedWia, ProviderRefusal, WalletProviderPort};
use walletd_wallet_provider::signer::{AttestationSigner, Pkcs11Settings, Pkcs11Signer, SoftwareSigner};
use walletd_wallet_provider::{
    Caller, KeyAttestationRequest, Settings, WalletProviderService, WiaRequest, WpError, WpState,
};

/// The role's routers (the main listener's and the admin listener's) and its service (the engine of the same
/// process asks it for attestations directly).
pub struct WalletProviderRoutes {
    pub routes: Router,
    pub admin: Router,
    pub service: WalletProviderService,
}

/// Builds the service on its signer ([`open_signer`]; its budgets on the process's shared `limits`), starts the
/// worker.
pub fn build(
    cfg: &Config,
    store: Store,
    signer: Arc<dyn AttestationSigner>,
    auth: Authenticator,
    limits: RateLimiter,
) -> WalletProviderRoutes {
    let service = WalletProviderService::new(store, signer, Settings::from_config(cfg), limits);
    walletd_wallet_provider::spawn_worker(service.clone());
    let state = WpState {
        service: service.clone(),
        authenticator: auth,
        admin_token: cfg.admin.token.clone(),
    };
    WalletProviderRoutes {
        routes: walletd_wallet_provider::routes(state.clone()),
        admin: walletd_wallet_provider::admin_routes(state),
        service,
    }
}

/// The engine's [`WalletProviderPort`] answered by the wallet-provider role of this process: key attestations for
/// the session's user, without an HTTP round-trip (the engine has already authenticated the user).
pub struct LocalProvider(pub WalletProviderService);

impl WalletProviderPort for LocalProvider {
    fn issuer(&self) -> String {
        self.0.settings().issuer.clone()
    }

    fn key_attestation<'a>(
        &'a self,
        tenant_id: &'a str,
        user_id: &'a str,
        jwks: Vec<Value>,
        nonce: Option<String>,
        instance_id: Option<String>,
    ) -> BoxFuture<'a, Result<String, ProviderRefusal>> {
        async move {
            let req = KeyAttestationRequest {
                jwks,
                nonce,
                instance_id,
            };
            let issued = self.0.key_attestation(&caller(tenant_id, user_id), req).await;
            issued.map(|i| i.jwt).map_err(refusal)
        }
        .boxed()
    }

    fn wia_challenge<'a>(
        &'a self,
        tenant_id: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderRefusal>> {
        async move {
            let c = self.0.wia_challenge(&caller(tenant_id, user_id)).await;
            c.map(|c| c.challenge).map_err(refusal)
        }
        .boxed()
    }

    fn wallet_instance_attestation<'a>(
        &'a self,
        tenant_id: &'a str,
        user_id: &'a str,
        pop: String,
        challenge: String,
        client_id: Option<String>,
    ) -> BoxFuture<'a, Result<ObtainedWia, ProviderRefusal>> {
        async move {
            let req = WiaRequest {
                pop,
                challenge,
                client_id,
                credential_id: None,
            };
            let issued = self
                .0
                .wallet_instance_attestation(&caller(tenant_id, user_id), req)
                .await;
            issued
                .map(|w| ObtainedWia {
                    jwt: w.jwt,
                    instance_id: w.instance_id,
                })
                .map_err(refusal)
        }
        .boxed()
    }
}

fn caller(tenant_id: &str, user_id: &str) -> Caller {
    Caller {
        tenant_id: tenant_id.to_string(),
        user_id: user_id.to_string(),
    }
}

/// The provider's refusal for the engine; internal failures are logged here and reported without their detail.
fn refusal(e: WpError) -> ProviderRefusal {
    let message = if e.code() == "unavailable" {
        tracing::error!(error = %e, "wallet-provider request of an engine flow failed");
        "the wallet provider is unavailable, try again".to_string()
    } else {
        e.to_string()
    };
    ProviderRefusal {
        code: e.code().to_string(),
        message,
    }
}

/// Where the provider's key ring file is: `wallet_provider.signing_key_file` or `data_dir/wallet-provider-key.pem`.
pub fn key_file(cfg: &Config) -> PathBuf {
    cfg.wallet_provider
        .signing_key_file
        .clone()
        .unwrap_or_else(|| cfg.data_dir.0.join("wallet-provider-key.pem"))
}

/// The provider's attestation signer, by `wallet_provider.signer`.
pub async fn open_signer(cfg: &Config, store: Store) -> anyhow::Result<Arc<dyn AttestationSigner>> {
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
                purpose: RingPurpose::WalletProvider,
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
