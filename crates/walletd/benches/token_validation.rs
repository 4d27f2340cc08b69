//! What revocation costs on the authenticated hot path: bearer validation per request, in process.
//!
//! Four cases on one ES256 access token (the auth role's token shape, `sep` claim included):
//! - `bare_es256`: signature and claims verified on every call, no revocation (the reference);
//! - `epoch_only`: the same plus the session-epoch check (epoch cached per `jwt.revocation_cache_ttl`, 500 ms);
//! - `cache_and_epoch`: what every role runs by default: the validated-token cache (hit) plus the epoch check;
//! - `cache_and_epoch_uncached_epoch`: the cache with `revocation_cache_ttl: 0`, a database read per request
//!   (SQLite), the worst case.
//!
//! The epoch lives in a real SQLite store (migrated), as in `walletd --mode=all`.
//! Run: `cargo bench -p walletd --bench token_validation`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use walletd_common::config::{DatabaseConfig, JwtConfig};
use walletd_common::jwt::{JwtValidator, LocalKeys, VerificationKey};
use walletd_common::revocation::EpochCheck;
use walletd_db::Store;
use walletd_jose::SigningKey;
use walletd_testkit::TestDatabase;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn validator(key: &SigningKey, cache_entries: u64, epochs: Option<(Store, Duration)>) -> JwtValidator {
    let local = Arc::new(LocalKeys::default());
    local.set(vec![VerificationKey::from_jwk(&key.public_jwk().to_value()).unwrap()]);
    let cfg = JwtConfig {
        token_cache_entries: cache_entries,
        ..JwtConfig::default()
    };
    let v = JwtValidator::new(&cfg, Some(local));
    if let Some((store, ttl)) = epochs {
        v.check_session_epochs(EpochCheck::new(Arc::new(store), ttl, 100_000));
    }
    v
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = TestDatabase::sqlite();
    let store = rt.block_on(async {
        let s = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
        s.migrate().await.unwrap();
        s.bump_session_epoch("user-1").await.unwrap();
        s
    });
    let (key, _) = SigningKey::generate().unwrap();
    let token = key
        .sign(
            &json!({"iss": "walletd", "sub": "user-1", "aud": "walletd", "tenant_id": "default",
                       "iat": now(), "nbf": now(), "exp": now() + 900, "jti": "j-1", "sep": 1}),
        )
        .unwrap();
    let cases = [
        ("bare_es256", validator(&key, 0, None)),
        (
            "epoch_only",
            validator(&key, 0, Some((store.clone(), Duration::from_millis(500)))),
        ),
        (
            "cache_and_epoch",
            validator(&key, 10_000, Some((store.clone(), Duration::from_millis(500)))),
        ),
        (
            "cache_and_epoch_uncached_epoch",
            validator(&key, 10_000, Some((store, Duration::ZERO))),
        ),
    ];
    let mut group = c.benchmark_group("bearer_validation");
    for (name, v) in &cases {
        // Warm: the first call verifies and fills the caches.
        rt.block_on(v.validate(&token, &["walletd"])).unwrap();
        group.bench_function(*name, |b| {
            b.iter(|| rt.block_on(v.validate(&token, &["walletd"])).unwrap());
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
