//! Passkey registrations/s and logins/s through the real binary's compat API, on SQLite and PostgreSQL, with the
//! same run's raw ES256 verifications/s as the physical reference (a login verifies one ES256 signature).
//!
//! Run: `cargo bench -p walletd --bench auth` (optional argument: operations per phase, default 200). The
//! virtual authenticator (passkey-rs) runs in the bench process on the same 2 cores, so the figures are
//! end-to-end client+server throughput with `concurrency` ceremonies in flight.

use std::time::Instant;

use walletd_testkit::authenticator::VirtualAuthenticator;
use walletd_testkit::ceremony::*;
use walletd_testkit::jwt::b64u;
use walletd_testkit::{Config, TestDatabase, WalletdBuilder};

const CONCURRENCY: usize = 8;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200)
        .clamp(CONCURRENCY, 100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let verify = es256_verifies_per_sec();
        println!("raw ES256 verify (aws-lc-rs, 1 thread): {verify:.0}/s");
        for db in [TestDatabase::sqlite(), TestDatabase::postgres().await] {
            let (reg, login) = run(&db, n).await;
            println!(
                "{}: {n} registrations {reg:.0}/s, {n} logins {login:.0}/s (concurrency {CONCURRENCY}); \
                 logins/s = {:.1}% of raw ES256 verify/s",
                db.kind(),
                login / verify * 100.0
            );
        }
    });
}

async fn run(db: &TestDatabase, n: usize) -> (f64, f64) {
    // No rate limits: the bench is one client address.
    let config = Config::new()
        .mode("auth,storage")
        .database(db.url())
        .limit("auth.rate_limit_per_ip", 0)
        .limit("auth.rate_limit_per_credential", 0);
    let w = WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .with_config(&config)
        // Access logs off (they would dominate); the `started` line the harness waits for stays.
        .env("RUST_LOG", walletd_testkit::QUIET_LOG_FILTER)
        .start()
        .await;
    let per_task = n / CONCURRENCY;
    let w = std::sync::Arc::new(w);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                let mut va = VirtualAuthenticator::new();
                for _ in 0..per_task {
                    let r = register(&w, &mut va, None, b"bench-keystore").await;
                    assert!(r.status.is_success(), "{}", r.body);
                }
                va
            })
        })
        .collect();
    let mut authenticators = Vec::new();
    for t in tasks {
        authenticators.push(t.await.unwrap());
    }
    let reg = (per_task * CONCURRENCY) as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let tasks: Vec<_> = authenticators
        .into_iter()
        .map(|mut va| {
            let w = w.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let r = login(&w, &mut va, None).await;
                    assert!(r.status.is_success(), "{}", r.body);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let login = (per_task * CONCURRENCY) as f64 / started.elapsed().as_secs_f64();
    (reg, login)
}

/// ES256 verifications per second of one JWT-sized message, one thread.
fn es256_verifies_per_sec() -> f64 {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let key = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        key.as_ref(),
    )
    .unwrap();
    use aws_lc_rs::signature::KeyPair;
    let public = pair.public_key().as_ref().to_vec();
    let claims = serde_json::json!({"sub": "u", "exp": 4_000_000_000u64});
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims,
        &EncodingKey::from_ec_der(key.as_ref()),
    )
    .unwrap();
    let x = b64u(&public[1..33]);
    let y = b64u(&public[33..65]);
    let dk = DecodingKey::from_ec_components(&x, &y).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.validate_aud = false;
    let iterations = 5000;
    let started = Instant::now();
    for _ in 0..iterations {
        jsonwebtoken::decode::<serde_json::Value>(&token, &dk, &v).unwrap();
    }
    iterations as f64 / started.elapsed().as_secs_f64()
}
