//! The ceremony budget per client address is per tenant: a tenant's override (`rate_limits.auth_per_ip` in its
//! record) replaces `auth.rate_limit_per_ip` for requests naming it, each tenant counts on its own, and a spent
//! budget answers 429 `rate_limited` with `Retry-After`.

use reqwest::StatusCode;
use serde_json::json;
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::{Tenant, TenantRateLimits};
use walletd_db::Store;
use walletd_testkit::{TestDatabase, post};

use super::start;

#[tokio::test]
async fn a_tenants_ceremony_budget_overrides_the_default() {
    let db = TestDatabase::sqlite();
    // Start once so the schema exists, then write the tenant as the backend would.
    let w = start(&db, "auth:\n  rate_limit_per_ip: 3\n").await;
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let mut strict = Tenant::new("strict", "Strict");
    strict.rate_limits = Some(TenantRateLimits {
        auth_per_ip: Some(1),
        ..Default::default()
    });
    store.create_tenant(&strict).await.unwrap();
    store.close().await;

    let begin = |tenant: &'static str| {
        let w = &w;
        async move {
            post(
                w,
                "/user/login-webauthn-begin",
                &json!({}),
                None,
                &[("X-Tenant-ID", tenant)],
            )
            .await
        }
    };
    assert_eq!(begin("strict").await.status, StatusCode::OK);
    let r = begin("strict").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error"], "rate_limited", "{}", r.body);
    let secs: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    // The default tenant has its own budget of 3 from the same address.
    for _ in 0..3 {
        let r = begin("default").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    assert_eq!(begin("default").await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let db = TestDatabase::sqlite();
    let trusting = start(
        &db,
        "auth:\n  rate_limit_per_ip: 1\nserver:\n  trusted_proxies: [127.0.0.0/8, \"::1/128\"]\n",
    )
    .await;
    let send = |w: &walletd_testkit::Walletd, client: &str| {
        let req = walletd_testkit::http_client()
            .post(format!("{}/user/login-webauthn-begin", w.http_url()))
            .header("X-Forwarded-For", client.to_string())
            .json(&json!({}));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(send(&trusting, "198.51.100.1").await, StatusCode::OK);
    assert_eq!(send(&trusting, "198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        send(&trusting, "198.51.100.2").await,
        StatusCode::OK,
        "another client behind the proxy"
    );
    // Without trust the header is ignored: every request is the loopback peer's.
    let db2 = TestDatabase::sqlite();
    let plain = start(&db2, "auth:\n  rate_limit_per_ip: 1\n").await;
    assert_eq!(send(&plain, "198.51.100.1").await, StatusCode::OK);
    assert_eq!(send(&plain, "198.51.100.2").await, StatusCode::TOO_MANY_REQUESTS);
}
