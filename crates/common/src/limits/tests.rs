use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;

use super::*;

struct Fixed(Option<TenantRateLimits>, AtomicUsize);

impl TenantLimitSource for Fixed {
    fn overrides<'a>(&'a self, _tenant_id: &'a str) -> BoxFuture<'a, Option<TenantRateLimits>> {
        self.1.fetch_add(1, Ordering::Relaxed);
        let v = self.0;
        async move { v }.boxed()
    }
}

fn config(storage_writes: u32) -> Config {
    let mut cfg = Config::default();
    cfg.rate_limits.storage_writes_per_user = storage_writes;
    cfg
}

#[tokio::test]
async fn counts_per_subject_and_answers_retry_after() {
    let l = RateLimiter::new(&config(2), None, None);
    for _ in 0..2 {
        l.check(LimitKind::StorageWrites, Some("t"), "u1").await.unwrap();
    }
    let e = l.check(LimitKind::StorageWrites, Some("t"), "u1").await.unwrap_err();
    assert_eq!(e.kind, LimitKind::StorageWrites);
    assert!((1..=60).contains(&e.retry_after_secs()), "{e:?}");
    l.check(LimitKind::StorageWrites, Some("t"), "u2").await.unwrap();
    l.check(LimitKind::EngineFlows, Some("t"), "u1").await.unwrap();
}

#[tokio::test]
async fn tenant_override_wins_and_zero_disables() {
    let over = TenantRateLimits {
        storage_writes_per_user: Some(1),
        engine_flows_per_user: Some(0),
        ..Default::default()
    };
    let source = Arc::new(Fixed(Some(over), AtomicUsize::new(0)));
    let mut cfg = config(5);
    cfg.rate_limits.engine_flows_per_user = 1;
    let l = RateLimiter::new(&cfg, None, Some(source.clone()));
    l.check(LimitKind::StorageWrites, Some("t"), "u").await.unwrap();
    assert!(l.check(LimitKind::StorageWrites, Some("t"), "u").await.is_err());
    for _ in 0..10 {
        l.check(LimitKind::EngineFlows, Some("t"), "u").await.unwrap();
    }
    assert_eq!(
        source.1.load(Ordering::Relaxed),
        1,
        "overrides are cached for tenant_cache_ttl"
    );
}

#[tokio::test]
async fn unknown_tenants_share_one_default_bucket() {
    let l = RateLimiter::new(&config(2), None, Some(Arc::new(Fixed(None, AtomicUsize::new(0)))));
    l.check(LimitKind::StorageWrites, Some("made-up-1"), "u").await.unwrap();
    l.check(LimitKind::StorageWrites, Some("made-up-2"), "u").await.unwrap();
    assert!(l.check(LimitKind::StorageWrites, Some("made-up-3"), "u").await.is_err());
}

#[test]
fn local_counters_stay_bounded_and_still_limit() {
    let c = local::LocalCounters::new(Duration::from_secs(60), 2);
    assert_eq!(c.incr("k:a").0, 1);
    assert_eq!(c.incr("k:b").0, 1);
    // Full: new keys share the overflow counter of their budget.
    assert_eq!(c.incr("k:c").0, 1);
    assert_eq!(c.incr("k:d").0, 2);
    assert_eq!(c.incr("k:a").0, 2);
}

#[test]
fn long_subjects_are_hashed() {
    assert_eq!(subject_key("short"), "short");
    assert_eq!(subject_key(&"x".repeat(500)).len(), 64);
}
