//! Key attestations per second on both signers: the in-memory key (the database key ring's path) and a key on a
//! SoftHSM2 token. Each attestation is a full issuance through the service on SQLite: tenant check, limits,
//! instance lookup, status index insert, signature, audit entry. Also the raw signatures per second of each
//! signer, to show what the signer alone costs.
//!
//! `cargo bench -p walletd-wallet-provider --bench attestations -- [count]` (default 2000).

use std::sync::Arc;
use std::time::Instant;

use walletd_common::config::{Config, DatabaseConfig};
use walletd_db::Store;
use walletd_jose::{EcKey, SigningKey};
use walletd_testkit::{TestDatabase, softhsm};
use walletd_wallet_provider::signer::{AttestationSigner, Pkcs11Settings, Pkcs11Signer, SoftwareSigner, sign_jwt};
use walletd_wallet_provider::{Caller, KeyAttestationRequest, Settings, WalletProviderService};

#[tokio::main]
async fn main() {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2000);
    let soft: Arc<dyn AttestationSigner> = Arc::new(SoftwareSigner::single(SigningKey::generate().unwrap().0));
    let settings = Pkcs11Settings {
        module: softhsm::MODULE.into(),
        token_label: softhsm::ensure_token().to_string(),
        pin: softhsm::PIN.into(),
        key_label: softhsm::fresh_key_label(),
    };
    let hsm: Arc<dyn AttestationSigner> = Arc::new(
        tokio::task::spawn_blocking(move || Pkcs11Signer::open(&settings))
            .await
            .unwrap()
            .expect("SoftHSM2 key"),
    );
    println!(
        "| signer | raw ES256 signatures/s | key attestations/s (SQLite, sequential) | key attestations/s (8 in flight) |"
    );
    println!("|---|---|---|---|");
    for (name, signer) in [("keyring (in memory)", soft), ("pkcs11 (SoftHSM2)", hsm)] {
        let raw = raw_rate(signer.as_ref(), count).await;
        let seq = attestation_rate(signer.clone(), count, 1).await;
        let par = attestation_rate(signer, count, 8).await;
        println!("| {name} | {raw:.0} | {seq:.0} | {par:.0} |");
    }
}

async fn raw_rate(signer: &dyn AttestationSigner, count: usize) -> f64 {
    let claims = serde_json::json!({"iat": 0});
    let start = Instant::now();
    for _ in 0..count {
        sign_jwt(signer, "JWT", &claims).await.unwrap();
    }
    count as f64 / start.elapsed().as_secs_f64()
}

async fn attestation_rate(signer: Arc<dyn AttestationSigner>, count: usize, in_flight: usize) -> f64 {
    let db = TestDatabase::sqlite();
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let mut s = Settings::from_config(&Config::default());
    // Limits off: this measures issuance, not the limiter.
    s.max_live_per_instance = u32::MAX;
    s.status_list_size = 1 << 22;
    let service = WalletProviderService::new(store, signer, s, walletd_common::limits::RateLimiter::unlimited());
    let jwk = EcKey::generate().public_jwk().to_value();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..in_flight {
        let (service, jwk) = (service.clone(), jwk.clone());
        let n = count / in_flight;
        tasks.push(tokio::spawn(async move {
            let caller = Caller {
                tenant_id: "default".into(),
                user_id: format!("bench-{w}"),
            };
            for _ in 0..n {
                service
                    .key_attestation(
                        &caller,
                        KeyAttestationRequest {
                            jwks: vec![jwk.clone()],
                            nonce: Some("bench-nonce".into()),
                            instance_id: None,
                        },
                    )
                    .await
                    .unwrap();
            }
            n
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap();
    }
    done as f64 / start.elapsed().as_secs_f64()
}
