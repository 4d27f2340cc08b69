//! Anonymous fetchers (docs/security.md "Anonymous fetchers"): `/type-metadata` and `/issuer-metadata` answer
//! anyone, but an upstream fetch outside the tenant's configured sources (`registry.fetch_allowed_origins`,
//! `registry.vctm_sources`, the tenant's registered issuers) spends the caller's budget
//! (`rate_limits.metadata_fetches_per_client`): per user with a valid token, else per client address. Cached
//! answers and configured sources spend nothing; a spent budget is 429 with `Retry-After` and no outbound request.

use reqwest::{Method, StatusCode};
use serde_json::json;
use walletd_testkit::vctm::Upstream;
use walletd_testkit::{Config, TestDatabase, Walletd, admin, http_client};

const ADMIN: &str = "anonymous-fetchers-admin";

/// `GET path` with optional `X-Forwarded-For`, bearer token and tenant; status and `Retry-After`.
async fn fetch(
    w: &Walletd,
    path: &str,
    query: &[(&str, &str)],
    forwarded_for: Option<&str>,
    token: Option<&str>,
    tenant: Option<&str>,
) -> (StatusCode, Option<u64>) {
    let url = url::Url::parse_with_params(&format!("{}{path}", w.http_url()), query).unwrap();
    let mut req = http_client().get(url);
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(t) = tenant {
        req = req.header("x-tenant-id", t);
    }
    let r = req.send().await.unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (StatusCode::from_u16(r.status().as_u16()).unwrap(), retry)
}

/// Publishes `n` type-metadata documents at `vct/0..n` on `up`.
fn publish(up: &Upstream, n: usize) {
    for i in 0..n {
        let vct = up.url(&format!("vct/{i}"));
        up.put_json(&format!("vct/{i}"), &json!({"vct": vct, "name": format!("Type {i}")}));
    }
}

#[tokio::test]
async fn fetches_outside_the_configured_sources_spend_the_callers_budget() {
    let (allowed, registered, other) = (
        Upstream::start().await,
        Upstream::start().await,
        Upstream::start().await,
    );
    for up in [&allowed, &registered, &other] {
        publish(up, 5);
    }
    let db = TestDatabase::sqlite();
    let w = crate::support::start(
        &Config::new()
            .database(db.url())
            .admin_token(ADMIN)
            .egress_loopback()
            .limit("rate_limits.metadata_fetches_per_client", 2)
            .set("registry.fetch_allowed_origins", json!([allowed.base]))
            .set("server.trusted_proxies", json!(["127.0.0.1/32"])),
    )
    .await;
    let (st, body) = admin(
        &w,
        Some(ADMIN),
        Method::POST,
        "/admin/tenants/default/issuers",
        Some(json!({"credential_issuer_identifier": registered.url("issuer")})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let tm = |up: &Upstream, i: usize| up.url(&format!("vct/{i}"));
    let client = Some("198.51.100.1");

    // The configured sources cost nothing, however often.
    for i in 0..5 {
        let (st, _) = fetch(&w, "/type-metadata", &[("vct", &tm(&allowed, i))], client, None, None).await;
        assert_eq!(st, StatusCode::OK, "allowed origin, vct {i}");
        let (st, _) = fetch(
            &w,
            "/type-metadata",
            &[("vct", &tm(&registered, i))],
            client,
            None,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "registered issuer's origin, vct {i}");
    }

    // Anything else: two fetches per client, then 429 with Retry-After and no outbound request.
    for i in 0..2 {
        let (st, _) = fetch(&w, "/type-metadata", &[("vct", &tm(&other, i))], client, None, None).await;
        assert_eq!(st, StatusCode::OK, "vct {i}");
    }
    let (st, retry) = fetch(&w, "/type-metadata", &[("vct", &tm(&other, 2))], client, None, None).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");
    assert_eq!(other.hits("vct/2"), 0, "a refused fetch makes no outbound request");
    // Cached answers are free.
    let (st, _) = fetch(&w, "/type-metadata", &[("vct", &tm(&other, 0))], client, None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(other.hits("vct/0"), 1);
    // Issuer metadata spends the same budget (a 404 upstream was still a fetch).
    let (st, _) = fetch(
        &w,
        "/issuer-metadata",
        &[("issuer", &other.url("iss"))],
        client,
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "the client's budget is spent");
    let (st, _) = fetch(
        &w,
        "/issuer-metadata",
        &[("issuer", &registered.url("issuer"))],
        client,
        None,
        None,
    )
    .await;
    assert_ne!(
        st,
        StatusCode::TOO_MANY_REQUESTS,
        "a registered issuer is a configured source"
    );
    // A cached answer is free for anyone, whichever tenant the request names.
    let acme = Some("198.51.100.9");
    let (st, _) = fetch(
        &w,
        "/type-metadata",
        &[("vct", &tm(&registered, 0))],
        acme,
        None,
        Some("acme"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "cached: free for anyone");

    // Another client address (behind the trusted proxy) has its own budget.
    let other_client = Some("198.51.100.2");
    let (st, _) = fetch(
        &w,
        "/type-metadata",
        &[("vct", &tm(&other, 2))],
        other_client,
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    // A user with a valid token is counted as the user, wherever it calls from.
    let token = w.token_for("55555555-5555-5555-5555-555555555555", "default");
    for (i, from) in [(3, client), (4, other_client)] {
        let (st, _) = fetch(
            &w,
            "/type-metadata",
            &[("vct", &tm(&other, i))],
            from,
            Some(&token),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "user, vct {i}");
    }
    let (st, _) = fetch(
        &w,
        "/issuer-metadata",
        &[("issuer", &other.url("iss"))],
        client,
        Some(&token),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "the user's two fetches are spent");
    // A token that does not verify counts as anonymous (no 401 on a public route).
    let (st, _) = fetch(
        &w,
        "/type-metadata",
        &[("vct", &tm(&other, 3))],
        Some("198.51.100.3"),
        Some("not-a-token"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "cached by the user's fetch");
}

#[tokio::test]
async fn the_engine_and_unlimited_clients_are_not_counted() {
    let other = Upstream::start().await;
    publish(&other, 4);
    let db = TestDatabase::sqlite();
    let w = crate::support::start(
        &Config::new()
            .database(db.url())
            .egress_loopback()
            .limit("rate_limits.metadata_fetches_per_client", 1)
            .set("registry.unlimited_clients", json!(["127.0.0.0/8"])),
    )
    .await;
    // The test's own address is a split engine's here: never counted.
    for i in 0..4 {
        let (st, _) = fetch(
            &w,
            "/type-metadata",
            &[("vct", &other.url(&format!("vct/{i}")))],
            None,
            None,
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "vct {i}");
    }
}
