//! Positive paths and behaviours of the guard against a real local server: what must still work.

use crate::support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use walletd_egress::resolver::{ScriptedResolver, StaticResolver};
use walletd_egress::{EgressClient, EgressConfig, Method, StatusCode};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn client() -> EgressClient {
    let resolver = StaticResolver::new()
        .with("allowed.test", &[ip("127.0.0.1")])
        .with("other.test", &[ip("127.0.0.1")]);
    EgressClient::with_resolver(support::local_config(), Arc::new(resolver)).unwrap()
}

#[tokio::test]
async fn allowed_local_server_is_reached() {
    let server = support::start().await;
    let resp = client().get(&server.url("/ok"), 1024).await.unwrap();
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(&resp.body[..], b"hello");
    assert_eq!(resp.redirects, 0);
    assert_eq!(server.hits.count(), 1);
}

#[tokio::test]
async fn names_resolve_through_the_guard_and_keep_the_host_header() {
    let server = support::start().await;
    let resp = client()
        .get(&server.url_host("allowed.test", "/echo"), 4096)
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().unwrap();
    assert_eq!(v["host"], format!("allowed.test:{}", server.port()));
    assert_eq!(v["user_agent"], walletd_egress::default_user_agent());
}

#[tokio::test]
async fn redirects_within_policy_are_followed() {
    let server = support::start().await;
    let resp = client().get(&server.url("/chain/5"), 1024).await.unwrap();
    assert_eq!(&resp.body[..], b"end of chain");
    assert_eq!(resp.redirects, 5);
    assert_eq!(resp.final_url.path(), "/chain/0");
    assert_eq!(server.hits.count(), 6);

    // A redirect to another allowed name.
    let to = format!("http://other.test:{}/ok", server.port());
    let resp = client()
        .get(&server.url(&format!("/redirect?to={to}")), 1024)
        .await
        .unwrap();
    assert_eq!(&resp.body[..], b"hello");
    assert_eq!(resp.final_url.host_str(), Some("other.test"));
}

#[tokio::test]
async fn redirects_are_not_followed_when_disabled() {
    let server = support::start().await;
    let resp = client()
        .request(Method::GET, server.url("/redirect?to=/ok"))
        .follow_redirects(false)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status, StatusCode::FOUND);
    assert_eq!(resp.headers.get("location").unwrap(), "/ok");
    assert_eq!(server.hits.count(), 1);
}

#[tokio::test]
async fn max_redirects_zero_refuses_the_first_redirect() {
    let server = support::start().await;
    let cfg = EgressConfig {
        max_redirects: 0,
        ..support::local_config()
    };
    let c = EgressClient::with_resolver(cfg, Arc::new(StaticResolver::new())).unwrap();
    let err = c.get(&server.url("/chain/1"), 1024).await.unwrap_err();
    assert_eq!(err.rule().unwrap().label(), "redirect_limit");
}

#[tokio::test]
async fn credentials_stay_with_the_first_origin() {
    let server = support::start().await;
    let c = client();
    let same = c
        .request(Method::GET, server.url("/redirect?to=/echo"))
        .bearer_auth("tok")
        .header("cookie", "a=b")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = same.json().unwrap();
    assert_eq!(v["authorization"], "Bearer tok");
    assert_eq!(v["cookie"], "a=b");

    let to = format!("http://other.test:{}/echo", server.port());
    let cross = c
        .request(Method::GET, server.url(&format!("/redirect?to={to}")))
        .bearer_auth("tok")
        .header("cookie", "a=b")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = cross.json().unwrap();
    assert_eq!(v["host"], format!("other.test:{}", server.port()));
    assert!(
        v["authorization"].is_null(),
        "Authorization forwarded cross-origin: {v}"
    );
    assert!(v["cookie"].is_null(), "Cookie forwarded cross-origin: {v}");
}

#[tokio::test]
async fn body_handling_on_redirects() {
    let server = support::start().await;
    let c = client();
    // 307 to the same origin resends method and body.
    let resp = c
        .request(Method::POST, server.url("/redirect?status=307&to=/echo"))
        .body("a=1")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["body"], "a=1");
    // 303 switches to GET and drops body and content type.
    let resp = c
        .post_form(&server.url("/redirect?status=303&to=/echo"), &[("a", "1")], 4096)
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().unwrap();
    assert_eq!(v["method"], "GET");
    assert_eq!(v["body"], "");
    assert!(v["content_type"].is_null());
    // 307 cross-origin without a body is fine.
    let to = format!("http://other.test:{}/echo", server.port());
    let resp = c
        .get(&server.url(&format!("/redirect?status=307&to={to}")), 4096)
        .await
        .unwrap();
    assert_eq!(resp.status, StatusCode::OK);
}

#[tokio::test]
async fn bodies_under_and_at_the_limit_are_intact() {
    let server = support::start().await;
    let c = client();
    for path in ["/big?n=100000", "/big-chunked?n=100000"] {
        let resp = c.get(&server.url(path), 100_000).await.unwrap();
        assert_eq!(resp.body.len(), 100_000, "{path}");
        assert_eq!(&resp.body[..], &support::pattern(100_000)[..], "{path}");
    }
    let resp = c.get(&server.url("/big?n=0"), 0).await.unwrap();
    assert!(resp.body.is_empty());
    let resp = c.get(&server.url("/gzip-small"), 1024).await.unwrap();
    assert_eq!(&resp.body[..], b"small compressed body");
    assert!(resp.headers.get("content-encoding").is_none());
}

#[tokio::test]
async fn post_json_sends_json() {
    let server = support::start().await;
    let resp = client()
        .post_json(&server.url("/echo"), &serde_json::json!({"k": "v"}), 4096)
        .await
        .unwrap();
    let v: serde_json::Value = resp.error_for_status().unwrap().json().unwrap();
    assert_eq!(v["content_type"], "application/json");
    assert_eq!(v["body"], r#"{"k":"v"}"#);
}

#[tokio::test]
async fn error_for_status_reports_the_status() {
    let server = support::start().await;
    let err = client()
        .get(&server.url("/nope"), 1024)
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert_eq!(err.code(), "EGRESS_HTTP");
    assert_eq!(err.to_string(), "remote answered HTTP 404");
}

/// DNS rebinding: the resolver answers an allowed address first and a blocked one on any later call. The guard
/// resolves once per request, connects to the address it checked, and a later request sees (and blocks) the
/// new answer. The blocked answer is another loopback address, so a failure here could never leave the host.
#[tokio::test]
async fn rebinding_resolves_once_and_connects_to_the_checked_address() {
    let server = support::start().await;
    let resolver = Arc::new(ScriptedResolver::new(vec![
        vec![ip("127.0.0.1")],
        vec![ip("127.0.0.2")],
    ]));
    let c = EgressClient::with_resolver(support::local_config(), resolver.clone()).unwrap();
    let url = server.url_host("rebind.test", "/ok");
    let resp = c.get(&url, 1024).await.unwrap();
    assert_eq!(&resp.body[..], b"hello");
    assert_eq!(resolver.calls(), 1, "exactly one resolution per request");
    assert_eq!(server.hits.hosts(), vec![format!("rebind.test:{}", server.port())]);

    let err = c.get(&url, 1024).await.unwrap_err();
    assert_eq!(err.rule().unwrap().label(), "loopback");
    assert_eq!(resolver.calls(), 2);
    assert_eq!(server.hits.count(), 1, "the rebound answer must not be connected to");
    assert!(!err.to_string().contains("127.0.0.2"));
}

/// Connections are pooled per host: a second request may reuse a connection to an address checked earlier, but
/// the name is still resolved and checked again for every request.
#[tokio::test]
async fn every_request_resolves_and_checks_again() {
    let server = support::start().await;
    let resolver = Arc::new(StaticResolver::new().with("allowed.test", &[ip("127.0.0.1")]));
    let c = EgressClient::with_resolver(support::local_config(), resolver.clone()).unwrap();
    for _ in 0..3 {
        c.get(&server.url_host("allowed.test", "/ok"), 1024).await.unwrap();
    }
    assert_eq!(resolver.calls(), 3);
}

#[tokio::test]
async fn connection_refused_is_an_http_error_without_the_address() {
    // Bind then drop a listener to get a port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client()
        .get(&format!("http://allowed.test:{port}/"), 1024)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "EGRESS_HTTP");
    assert_eq!(err.to_string(), "connection failed");
}

#[tokio::test]
async fn the_production_resolver_builds_and_literals_need_no_dns() {
    // `new` uses hickory (or getaddrinfo); IP literals never reach any resolver.
    let server = support::start().await;
    let c = EgressClient::new(support::local_config()).unwrap();
    assert_eq!(&c.get(&server.url("/ok"), 1024).await.unwrap().body[..], b"hello");
}

#[test]
fn config_defaults_and_yaml() {
    let d = EgressConfig::default();
    assert!(!d.allow_http);
    assert!(d.blocked_cidrs.is_empty() && d.allowed_cidrs.is_empty());
    assert_eq!(d.connect_timeout, Duration::from_secs(5));
    assert_eq!(d.total_timeout, Duration::from_secs(20));
    assert_eq!(d.max_redirects, 5);
    assert!(d.user_agent.starts_with("walletd/"));

    let empty: EgressConfig = serde_yaml_ng::from_str("{}").unwrap();
    assert_eq!(empty, d);
    let yaml = "allow_http: true\nblocked_cidrs: [203.0.113.0/24]\nallowed_cidrs: [127.0.0.1/32, '::1/128']\n\
                connect_timeout: 2s\ntotal_timeout: 1m 30s\nmax_redirects: 3\nuser_agent: test/1\n";
    let c: EgressConfig = serde_yaml_ng::from_str(yaml).unwrap();
    assert!(c.allow_http);
    assert_eq!(c.allowed_cidrs.len(), 2);
    assert_eq!(c.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.total_timeout, Duration::from_secs(90));
    assert_eq!(c.max_redirects, 3);
    // Round trip.
    let back: EgressConfig = serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);

    let err = serde_yaml_ng::from_str::<EgressConfig>("allow_https: true").unwrap_err();
    assert!(err.to_string().contains("allow_https"), "{err}");
    assert!(serde_yaml_ng::from_str::<EgressConfig>("blocked_cidrs: [not-a-cidr]").is_err());

    let bad = EgressConfig {
        max_redirects: 99,
        ..EgressConfig::default()
    };
    assert_eq!(
        EgressClient::with_resolver(bad, Arc::new(StaticResolver::new()))
            .unwrap_err()
            .code(),
        "EGRESS_CONFIG"
    );
    let bad = EgressConfig {
        total_timeout: Duration::ZERO,
        ..EgressConfig::default()
    };
    assert!(bad.validate().is_err());
}
