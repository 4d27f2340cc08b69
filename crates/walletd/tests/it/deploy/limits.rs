//! Rate limits in the split topology (the limiter of common::limits): a tenant's storage write budget, set through
//! the admin API, is ONE budget across both storage replicas while Redis runs; while Redis is down each replica
//! counts on its own (never unlimited, never a 5xx) with a log line and a metric.

use reqwest::StatusCode;
use serde_json::json;
use walletd_testkit::authenticator::VirtualAuthenticator;
use walletd_testkit::{HttpTarget, Target, ceremony, http_client, send};

use super::topology_support::{Site, put_blob};

/// The tenant of these tests and its storage write budget per user and window.
const TENANT: &str = "limited";
const BUDGET: usize = 5;

/// Creates the tenant with its budget (admin API, backend's own listener).
pub async fn create_limited_tenant(site: &Site) {
    let r = send(
        http_client()
            .post(format!("{}/admin/tenants", site.topo.admin_url()))
            .bearer_auth(site.topo.admin_token())
            .json(&json!({"id": TENANT, "rate_limits": {"storage_writes_per_user": BUDGET}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// A user of the limited tenant; its access token.
async fn limited_user(at: &impl HttpTarget) -> String {
    let mut va = VirtualAuthenticator::new();
    let r = ceremony::register(at, &mut va, Some(TENANT), b"keystore").await;
    assert_eq!(r.status, 200, "register in {TENANT}: {}", r.body);
    r.body["appToken"].as_str().unwrap().to_string()
}

/// Writes on `targets` in turn until one answers 429 (at most `max` writes); the statuses. Every answer must be a
/// success or 429.
async fn writes_until_limited(targets: &[Target], token: &str, tag: &str, max: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for i in 0..max {
        let r = put_blob(&targets[i % targets.len()], token, &format!("{tag}-{i}"), b"x").await;
        assert!(
            r.status.is_success() || r.status == StatusCode::TOO_MANY_REQUESTS,
            "{tag}: write {i}: {} {}",
            r.status,
            r.body
        );
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
            assert!((1..=60).contains(&retry), "{tag}: Retry-After {retry}");
            assert_eq!(r.body["error"], "rate_limited", "{tag}");
        }
        statuses.push(r.status);
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    statuses
}

fn successes(statuses: &[StatusCode]) -> usize {
    statuses.iter().filter(|s| s.is_success()).count()
}

/// Writes alternate between storage-1 and storage-2: one budget between them (each replica alone would allow
/// BUDGET), and once spent the other replica refuses too.
pub async fn shared_across_replicas(site: &Site) {
    let token = limited_user(&site.topo.public()).await;
    let replicas = [site.topo.instance("storage-1"), site.topo.instance("storage-2")];
    let statuses = writes_until_limited(&replicas, &token, "shared", 3 * BUDGET).await;
    let ok = successes(&statuses);
    eprintln!("shared budget of {BUDGET}: {ok} writes accepted across both replicas, then {statuses:?}");
    assert_eq!(ok, BUDGET, "one budget of {BUDGET} across two replicas: {statuses:?}");
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    for replica in &replicas {
        let r = put_blob(replica, &token, "shared-after", b"x").await;
        assert_eq!(r.status, 429, "{} still accepts: {}", replica.0, r.body);
    }
}

/// With Redis down: a fresh user spends a budget on storage-1, and storage-2 (counting on its own now) gives it
/// another; never more than one budget per replica, never a 5xx; the fallback is logged and counted.
pub async fn per_process_while_redis_is_down(site: &Site) {
    let token = limited_user(&site.topo.public()).await;
    let (s1, s2) = (site.topo.instance("storage-1"), site.topo.instance("storage-2"));
    let on_s1 = writes_until_limited(std::slice::from_ref(&s1), &token, "down-1", 3 * BUDGET).await;
    assert_eq!(successes(&on_s1), BUDGET, "storage-1 alone, Redis down: {on_s1:?}");
    let on_s2 = writes_until_limited(std::slice::from_ref(&s2), &token, "down-2", 3 * BUDGET).await;
    eprintln!(
        "Redis down: storage-1 accepted {}, storage-2 then {} more (per process)",
        successes(&on_s1),
        successes(&on_s2)
    );
    assert_eq!(
        successes(&on_s2),
        BUDGET,
        "storage-2 counts on its own while Redis is down: {on_s2:?}"
    );
    assert!(
        site.topo
            .log("storage-1")
            .contains("redis unavailable; rate limits are counted per process"),
        "storage-1 did not log the fallback"
    );
    let text = walletd_testkit::metrics_text(&s1).await;
    let fallbacks: f64 = text
        .lines()
        .find(|l| l.starts_with("walletd_rate_limit_redis_fallback_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no fallback metric on storage-1:\n{text}"));
    assert!(fallbacks >= BUDGET as f64, "fallback counter {fallbacks}");
}
