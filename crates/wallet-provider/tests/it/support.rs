//! What the suites share: a service over a fresh database, callers, signers (software and SoftHSM2), verification
//! of issued JWTs against the published JWKS, and the independent status list decoder (Python: zlib + bit lookup).

use std::sync::Arc;

use serde_json::Value;
use walletd_common::config::{Config, DatabaseConfig};
use walletd_common::limits::RateLimiter;
use walletd_common::tenant::Tenant;
use walletd_db::Store;
use walletd_jose::jws::{decode_jwt, verify_with_jwk};
use walletd_jose::{EcKey, Jwk, SigningKey};
use walletd_testkit::{TestDatabase, softhsm};
use walletd_wallet_provider::signer::{AttestationSigner, Pkcs11Settings, Pkcs11Signer, SoftwareSigner};
use walletd_wallet_provider::{Caller, Settings, WalletProviderService};

/// A service and its store.
pub struct Fx {
    pub service: WalletProviderService,
    pub store: Store,
    /// Kept alive: dropping it removes the database.
    pub _db: TestDatabase,
}

/// The default settings, with an issuer that is easy to compare.
pub fn settings() -> Settings {
    let mut s = Settings::from_config(&Config::default());
    s.issuer = "https://wallet.example/wallet-provider".into();
    s
}

/// A software signer with a fresh key (the path the database key ring takes once it has a key in memory).
pub fn soft_signer() -> Arc<dyn AttestationSigner> {
    Arc::new(SoftwareSigner::single(SigningKey::generate().expect("key").0))
}

pub use walletd_testkit::softhsm::fresh_key_label;
pub use walletd_testkit::status_list::python_statuses;

/// Settings of a key on the test token.
pub fn pkcs11_settings(key_label: &str) -> Pkcs11Settings {
    Pkcs11Settings {
        module: softhsm::MODULE.into(),
        token_label: softhsm::ensure_token().to_string(),
        pin: softhsm::PIN.into(),
        key_label: key_label.into(),
    }
}

/// A signer over a key on the SoftHSM2 token, generated there on first use.
pub async fn pkcs11_signer(key_label: &str) -> Arc<Pkcs11Signer> {
    let settings = pkcs11_settings(key_label);
    let signer = tokio::task::spawn_blocking(move || Pkcs11Signer::open(&settings))
        .await
        .expect("task")
        .expect("open the SoftHSM2 key");
    Arc::new(signer)
}

/// A service on `db` signing with `signer`; `tweak` adjusts the settings. The default budgets
/// (`wallet_provider.rate_limit_per_*`) apply, counted in process.
pub async fn fixture(db: TestDatabase, signer: Arc<dyn AttestationSigner>, tweak: impl FnOnce(&mut Settings)) -> Fx {
    fixture_limited(db, signer, tweak, limiter(&Config::default())).await
}

/// The shared rate limiter of `config` (in process, no tenant overrides).
pub fn limiter(config: &Config) -> RateLimiter {
    RateLimiter::new(config, None, None)
}

/// [`fixture`] spending its budgets on `limits`.
pub async fn fixture_limited(
    db: TestDatabase,
    signer: Arc<dyn AttestationSigner>,
    tweak: impl FnOnce(&mut Settings),
    limits: RateLimiter,
) -> Fx {
    let store = Store::connect(&DatabaseConfig::with_url(db.url()))
        .await
        .expect("connect");
    store
        .create_tenant(&Tenant::new("acme", "Acme"))
        .await
        .expect("tenant acme");
    let mut s = settings();
    tweak(&mut s);
    Fx {
        service: WalletProviderService::new(store.clone(), signer, s, limits),
        store,
        _db: db,
    }
}

/// A user of a tenant.
pub fn caller(tenant: &str, user: &str) -> Caller {
    Caller {
        tenant_id: tenant.into(),
        user_id: user.into(),
    }
}

/// Verifies `jwt` with the key its `kid` names in `jwks`; returns (header, claims). Panics when it does not verify.
pub fn verify(jwt: &str, jwks: &Value) -> (Value, Value) {
    let decoded = decode_jwt(jwt).expect("compact JWS");
    let kid = decoded.header_str("kid").expect("kid").to_string();
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("the JWKS has no key {kid}"));
    let jwk = Jwk::from_value(key).expect("jwk");
    verify_with_jwk(&decoded, &jwk, &[walletd_jose::JwsAlg::Es256]).expect("signature verifies");
    (decoded.header, decoded.claims)
}

/// A public JWK of a fresh key.
pub fn public_jwk() -> (EcKey, Value) {
    let k = EcKey::generate();
    let v = k.public_jwk().to_value();
    (k, v)
}
