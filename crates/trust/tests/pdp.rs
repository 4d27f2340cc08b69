//! The trust client against a real AuthZEN PDP written here (axum on 127.0.0.1).
//!
//! The PDP decides by `subject.id`: `trusted.example` -> true, `untrusted.example` -> false, `slow.example` ->
//! answers after 3 s, `error.example` -> HTTP 500, `garbage.example` -> 200 with a non-JSON body,
//! `nodecision.example` -> 200 `{}`, `flip.example` -> true on the first call and false afterwards.
//! Every request body is recorded so shapes are asserted at the PDP side.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};
use url::Url;
use walletd_trust::{EvaluationRequest, Role, TenantTrustSettings, TrustClient, TrustConfig};

#[derive(Clone, Default)]
struct Pdp {
    requests: Arc<Mutex<Vec<(String, Value)>>>,
    flips: Arc<AtomicUsize>,
}

impl Pdp {
    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
    fn last(&self) -> (String, Value) {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the PDP got no request")
    }
}

async fn evaluation(State(pdp): State<Pdp>, uri: Uri, body: String) -> Response {
    let v: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, "not json").into_response(),
    };
    pdp.requests.lock().unwrap().push((uri.path().to_string(), v.clone()));
    match v["subject"]["id"].as_str().unwrap_or("") {
        "trusted.example" => axum::Json(json!({
            "decision": true,
            "context": {"reason": "listed", "trust_metadata": {"framework": "etsi-tsl", "tsl": "SE"}}
        }))
        .into_response(),
        "untrusted.example" => {
            axum::Json(json!({"decision": false, "context": {"reason": {"403": "unknown service"}}})).into_response()
        }
        "slow.example" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            axum::Json(json!({"decision": true})).into_response()
        }
        "error.example" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "garbage.example" => "this is not json".into_response(),
        "nodecision.example" => axum::Json(json!({})).into_response(),
        "flip.example" => {
            let n = pdp.flips.fetch_add(1, Ordering::SeqCst);
            axum::Json(json!({"decision": n == 0})).into_response()
        }
        // Resolution and passthrough: echo what arrived.
        _ => axum::Json(json!({"decision": true, "context": {"trust_metadata": {"echo": v}}})).into_response(),
    }
}

struct Server {
    url: Url,
    pdp: Pdp,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_pdp() -> Server {
    let pdp = Pdp::default();
    let app = Router::new().fallback(post(evaluation)).with_state(pdp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        url: Url::parse(&format!("http://{addr}")).unwrap(),
        pdp,
        task,
    }
}

fn cfg(default: Option<&Url>) -> TrustConfig {
    TrustConfig {
        default_endpoint: default.cloned(),
        timeout: Duration::from_millis(500),
        ..TrustConfig::default()
    }
}

fn jwk_req(id: &str) -> EvaluationRequest {
    EvaluationRequest::jwk(
        id,
        json!({"kty": "EC", "crv": "P-256", "x": "xx", "y": "yy"}),
        Role::CredentialIssuer,
    )
}

#[tokio::test]
async fn trusted_and_untrusted_with_x5c_shape() {
    let s = start_pdp().await;
    let c = TrustClient::new(cfg(Some(&s.url))).unwrap();
    let tenant = TenantTrustSettings::new("t1");
    let chain: Vec<Vec<u8>> = vec![vec![0x30, 0x82, 0x01, 0xff, 0x00], vec![0x30, 0x03, 0x02, 0x01, 0x01]];
    let v = c
        .evaluate(
            &tenant,
            &EvaluationRequest::x5c("trusted.example", &chain, Role::CredentialIssuer),
        )
        .await;
    assert_eq!(v.trusted, Some(true));
    assert!(v.is_trusted());
    assert_eq!(v.framework.as_deref(), Some("etsi-tsl"));
    assert_eq!(v.reason.as_deref(), Some("listed"));
    assert_eq!(v.trust_metadata.as_ref().unwrap()["tsl"], "SE");

    let (path, body) = s.pdp.last();
    assert_eq!(path, "/evaluation");
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        body,
        json!({
            "subject": {"type": "key", "id": "trusted.example"},
            "resource": {"type": "x5c", "id": "trusted.example", "key": [b64.encode(&chain[0]), b64.encode(&chain[1])]},
            "action": {"name": "credential-issuer"}
        })
    );
    // The keys are base64 DER that decodes back to the input.
    assert_eq!(
        b64.decode(body["resource"]["key"][0].as_str().unwrap()).unwrap(),
        chain[0]
    );

    let v = c
        .evaluate(
            &tenant,
            &EvaluationRequest::x5c("untrusted.example", &chain, Role::CredentialVerifier),
        )
        .await;
    assert_eq!(v.trusted, Some(false));
    assert_eq!(v.reason.as_deref(), Some(r#"{"403":"unknown service"}"#));
    assert_eq!(s.pdp.last().1["action"]["name"], "credential-verifier");
}

#[tokio::test]
async fn jwk_and_flattened_jwks_shapes() {
    let s = start_pdp().await;
    let c = TrustClient::new(cfg(Some(&s.url))).unwrap();
    let t = TenantTrustSettings::new("t1");
    c.evaluate(&t, &jwk_req("trusted.example").with_context("purpose", json!("test")))
        .await;
    assert_eq!(
        s.pdp.last().1,
        json!({
            "subject": {"type": "key", "id": "trusted.example"},
            "resource": {"type": "jwk", "id": "trusted.example", "key": [{"kty": "EC", "crv": "P-256", "x": "xx", "y": "yy"}]},
            "action": {"name": "credential-issuer"},
            "context": {"purpose": "test"}
        })
    );
    let jwks = json!({"keys": [{"kty": "EC", "kid": "a"}, {"kty": "RSA", "kid": "b"}]});
    let req = EvaluationRequest::jwks("trusted.example", &jwks, Role::CredentialIssuer).unwrap();
    assert!(c.evaluate(&t, &req).await.is_trusted());
    let body = s.pdp.last().1;
    assert_eq!(body["resource"]["type"], "jwk");
    assert_eq!(
        body["resource"]["key"],
        json!([{"kty": "EC", "kid": "a"}, {"kty": "RSA", "kid": "b"}])
    );
    assert!(EvaluationRequest::jwks("x", &json!({"keys": []}), Role::CredentialIssuer).is_err());
    assert!(EvaluationRequest::jwks("x", &json!({"kty": "EC"}), Role::CredentialIssuer).is_err());
}

#[tokio::test]
async fn no_pdp_configured_is_unknown_never_trusted() {
    let c = TrustClient::new(TrustConfig::default()).unwrap();
    let v = c
        .evaluate(&TenantTrustSettings::new("t1"), &jwk_req("trusted.example"))
        .await;
    assert_eq!(v.trusted, None);
    assert!(!v.is_trusted());
    let err = c.forward_evaluation(None, &json!({})).await.unwrap_err();
    assert_eq!(err.code(), "TRUST_NOT_CONFIGURED");
}

#[tokio::test]
async fn pdp_down_fails_closed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let c = TrustClient::new(cfg(Some(&down))).unwrap();
    let t = TenantTrustSettings::new("t1");
    let v = c.evaluate(&t, &jwk_req("trusted.example")).await;
    assert_eq!(v.trusted, Some(false));
    assert!(v.reason.unwrap().contains("unreachable"));
    assert_eq!(
        c.try_evaluate(&t, &jwk_req("trusted.example"))
            .await
            .unwrap_err()
            .code(),
        "TRUST_UNAVAILABLE"
    );
}

#[tokio::test]
async fn slow_pdp_times_out_and_fails_closed() {
    let s = start_pdp().await;
    let c = TrustClient::new(cfg(Some(&s.url))).unwrap();
    let t = Instant::now();
    let err = c
        .try_evaluate(&TenantTrustSettings::new("t1"), &jwk_req("slow.example"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "TRUST_TIMEOUT");
    assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
    assert_eq!(
        c.evaluate(&TenantTrustSettings::new("t1"), &jwk_req("slow.example"))
            .await
            .trusted,
        Some(false)
    );
}

#[tokio::test]
async fn bad_answers_fail_closed_and_are_not_cached() {
    let s = start_pdp().await;
    let c = TrustClient::new(cfg(Some(&s.url))).unwrap();
    let t = TenantTrustSettings::new("t1");
    for (id, code) in [
        ("error.example", "TRUST_PDP_STATUS"),
        ("garbage.example", "TRUST_BAD_RESPONSE"),
        ("nodecision.example", "TRUST_BAD_RESPONSE"),
    ] {
        assert_eq!(c.try_evaluate(&t, &jwk_req(id)).await.unwrap_err().code(), code, "{id}");
        let before = s.pdp.count();
        assert_eq!(c.evaluate(&t, &jwk_req(id)).await.trusted, Some(false), "{id}");
        assert_eq!(s.pdp.count(), before + 1, "{id}: errors must not be cached");
    }
}

#[tokio::test]
async fn per_tenant_pdp_routing() {
    let global = start_pdp().await;
    let own = start_pdp().await;
    let c = TrustClient::new(cfg(Some(&global.url))).unwrap();
    let with_own = TenantTrustSettings {
        pdp_url: Some(own.url.clone()),
        ..TenantTrustSettings::new("a")
    };
    let without = TenantTrustSettings::new("b");
    assert!(c.evaluate(&with_own, &jwk_req("trusted.example")).await.is_trusted());
    assert_eq!((own.pdp.count(), global.pdp.count()), (1, 0));
    assert!(c.evaluate(&without, &jwk_req("trusted.example")).await.is_trusted());
    assert_eq!((own.pdp.count(), global.pdp.count()), (1, 1));
    // Tenant with its own PDP while no global one exists.
    let c2 = TrustClient::new(cfg(None)).unwrap();
    assert!(c2.evaluate(&with_own, &jwk_req("trusted.example")).await.is_trusted());
    assert_eq!(c2.evaluate(&without, &jwk_req("trusted.example")).await.trusted, None);
    assert_eq!(own.pdp.count(), 2);
}

#[tokio::test]
async fn cache_hits_per_tenant_and_expiry() {
    let s = start_pdp().await;
    let cfg = TrustConfig {
        cache_ttl: Duration::from_millis(300),
        stale_ttl: Duration::ZERO,
        ..cfg(Some(&s.url))
    };
    let c = TrustClient::new(cfg).unwrap();
    let a = TenantTrustSettings::new("a");
    let b = TenantTrustSettings::new("b");
    for _ in 0..3 {
        assert!(c.evaluate(&a, &jwk_req("trusted.example")).await.is_trusted());
    }
    assert_eq!(s.pdp.count(), 1, "repeated evaluations are served from the cache");
    c.evaluate(&b, &jwk_req("trusted.example")).await;
    assert_eq!(s.pdp.count(), 2, "the cache is per tenant");
    c.evaluate(&a, &jwk_req("untrusted.example")).await;
    assert_eq!(s.pdp.count(), 3, "another request is another entry");
    tokio::time::sleep(Duration::from_millis(400)).await;
    c.evaluate(&a, &jwk_req("trusted.example")).await;
    assert_eq!(s.pdp.count(), 4, "expired entries are evaluated again");
    // The tenant's own TTL wins; 0 disables caching.
    let no_cache = TenantTrustSettings {
        cache_ttl: Some(Duration::ZERO),
        ..TenantTrustSettings::new("c")
    };
    c.evaluate(&no_cache, &jwk_req("trusted.example")).await;
    c.evaluate(&no_cache, &jwk_req("trusted.example")).await;
    assert_eq!(s.pdp.count(), 6);
}

#[tokio::test]
async fn stale_while_revalidate_and_failed_refresh_drops_the_entry() {
    let s = start_pdp().await;
    let cfg = TrustConfig {
        cache_ttl: Duration::from_millis(200),
        stale_ttl: Duration::from_secs(30),
        ..cfg(Some(&s.url))
    };
    let c = TrustClient::new(cfg).unwrap();
    let t = TenantTrustSettings::new("a");
    assert!(c.evaluate(&t, &jwk_req("flip.example")).await.is_trusted());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Stale: the old verdict is served at once, a refresh runs in the background.
    assert!(c.evaluate(&t, &jwk_req("flip.example")).await.is_trusted());
    wait_for(|| s.pdp.count() == 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        c.evaluate(&t, &jwk_req("flip.example")).await.trusted,
        Some(false),
        "refreshed verdict"
    );
    assert_eq!(s.pdp.count(), 2);

    // A refresh that fails removes the entry: the next caller fails closed instead of trusting forever.
    let s2 = start_pdp().await;
    let url2 = s2.url.clone();
    let t2 = TenantTrustSettings {
        pdp_url: Some(url2),
        ..TenantTrustSettings::new("b")
    };
    assert!(c.evaluate(&t2, &jwk_req("trusted.example")).await.is_trusted());
    drop(s2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        c.evaluate(&t2, &jwk_req("trusted.example")).await.is_trusted(),
        "stale served once"
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let v = c.evaluate(&t2, &jwk_req("trusted.example")).await;
        if v.trusted == Some(false) {
            break;
        }
        assert!(Instant::now() < deadline, "a failed refresh must end trust");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for(f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !f() {
        assert!(Instant::now() < deadline, "condition not reached");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn raw_passthrough_and_resolution() {
    let s = start_pdp().await;
    let c = TrustClient::new(cfg(None)).unwrap();
    let raw = json!({"subject": {"type": "key", "id": "did:web:a.example"}, "resource": {"type": "jwk", "id": "did:web:a.example", "key": [{"kty": "OKP"}]}, "action": {"name": "x"}, "context": {"k": [1, 2]}});
    let answer = c.forward_evaluation(Some(&s.url), &raw).await.unwrap();
    assert_eq!(s.pdp.last().1, raw, "the raw body arrives unchanged");
    assert_eq!(
        answer["context"]["trust_metadata"]["echo"], raw,
        "the raw answer comes back unchanged"
    );

    c.resolve(Some(&s.url), "did:web:b.example", None, None).await.unwrap();
    assert_eq!(
        s.pdp.last().1,
        json!({"subject": {"type": "key", "id": "did:web:b.example"}, "resource": {"id": "did:web:b.example"}})
    );
    c.resolve(
        Some(&s.url),
        "https://fed.example",
        Some("openid_federation"),
        Some("jwk"),
    )
    .await
    .unwrap();
    assert_eq!(
        s.pdp.last().1,
        json!({"subject": {"type": "openid_federation", "id": "https://fed.example"}, "resource": {"type": "jwk", "id": "https://fed.example"}})
    );
    let err = c
        .forward_evaluation(Some(&Url::parse("http://127.0.0.1:1").unwrap()), &raw)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "TRUST_UNAVAILABLE");
}

#[tokio::test]
async fn evaluation_path_and_base_path() {
    let s = start_pdp().await;
    let cfg = TrustConfig {
        evaluation_path: "/access/v1/evaluation".into(),
        ..cfg(None)
    };
    let c = TrustClient::new(cfg).unwrap();
    let base = Url::parse(&format!("{}pdp/", s.url)).unwrap();
    let t = TenantTrustSettings {
        pdp_url: Some(base),
        ..TenantTrustSettings::new("t")
    };
    assert!(c.evaluate(&t, &jwk_req("trusted.example")).await.is_trusted());
    assert_eq!(s.pdp.last().0, "/pdp/access/v1/evaluation");
}

#[test]
fn config_defaults_and_yaml() {
    let d = TrustConfig::default();
    assert_eq!(d.default_endpoint, None);
    assert_eq!(d.evaluation_path, "/evaluation");
    assert_eq!(d.timeout, Duration::from_secs(5));
    assert_eq!(d.cache_ttl, Duration::from_secs(300));
    assert_eq!(d.stale_ttl, Duration::from_secs(60));
    let parsed: TrustConfig = serde_yaml_ng::from_str("{}").unwrap();
    assert_eq!(parsed, d);
    let c: TrustConfig = serde_yaml_ng::from_str(
        "default_endpoint: http://localhost:8090\ntimeout: 2s\ncache_ttl: 10m\nstale_ttl: 0s\nevaluation_path: /e\n",
    )
    .unwrap();
    assert_eq!(c.default_endpoint.unwrap().as_str(), "http://localhost:8090/");
    assert_eq!(c.cache_ttl, Duration::from_secs(600));
    assert!(c.stale_ttl.is_zero());
    assert!(
        serde_yaml_ng::from_str::<TrustConfig>("endpoint: x")
            .unwrap_err()
            .to_string()
            .contains("endpoint")
    );
    let bad = TrustConfig {
        evaluation_path: "evaluation".into(),
        ..TrustConfig::default()
    };
    assert_eq!(TrustClient::new(bad).unwrap_err().code(), "TRUST_CONFIG");
}
