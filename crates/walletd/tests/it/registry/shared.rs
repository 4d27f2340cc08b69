//! Registry replicas sharing Redis fetch an upstream document (and its images) once, also when both miss at the
//! same moment; `/issuer-metadata` discovers metadata, asks the tenant's PDP, caches per tenant and refuses bad
//! signed metadata (on SQLite and PostgreSQL, where tenants live).

use super::{registry_with, type_metadata};
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::Tenant;
use walletd_db::Store;
use walletd_testkit::vctm::*;
use walletd_testkit::{Config, TestDatabase, http_client};

#[tokio::test]
async fn two_registry_processes_sharing_redis_fetch_upstream_once() {
    let up = Upstream::start().await;
    let logo = png(300, 3);
    up.put("img/l.png", "image/png", logo.clone(), None);
    let vct = up.url("vct/shared");
    up.put_json(
        "vct/shared",
        &json!({"vct": vct, "display": [{"locale": "en", "name": "S",
                "rendering": {"simple": {"logo": {"uri": up.url("img/l.png"), "uri#integrity": sri256(&logo)}}}}]}),
    );
    // A prefix of its own, so parallel tests and earlier runs never share entries.
    let prefix = format!("walletd-test:{}:", uuid_like());
    let cfg = format!("cache:\n  redis_url: redis://127.0.0.1:6379\nregistry:\n  cache_prefix: \"{prefix}\"\n");
    let a = registry_with(&cfg).await;
    let b = registry_with(&cfg).await;

    // Both miss at once: one fetches, the other waits for its result.
    let (ra, rb) = tokio::join!(type_metadata(&a, &vct, None), type_metadata(&b, &vct, None));
    assert_eq!((ra.0, rb.0), (StatusCode::OK, StatusCode::OK), "{} {}", ra.2, rb.2);
    assert_eq!(ra.2, rb.2);
    for _ in 0..3 {
        assert_eq!(type_metadata(&a, &vct, None).await.0, StatusCode::OK);
        assert_eq!(type_metadata(&b, &vct, None).await.0, StatusCode::OK);
    }
    let logs = |w: &walletd_testkit::Walletd| w.logs().join("\n");
    assert_eq!(
        up.hits("vct/shared"),
        1,
        "one upstream fetch for two replicas\n{}\n{}",
        logs(&a),
        logs(&b)
    );
    assert_eq!(up.hits("img/l.png"), 1);
    // A third replica started later is served from Redis too.
    let c = registry_with(&cfg).await;
    let rc = type_metadata(&c, &vct, None).await;
    assert_eq!(rc.2, ra.2, "{}", logs(&c));
    assert_eq!(
        up.hits("vct/shared"),
        1,
        "the third replica fetched again\n{}",
        logs(&c)
    );
}

fn uuid_like() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{n:x}-{}", std::process::id())
}

walletd_testkit::on_both_databases!(issuer_metadata_with_the_tenants_trust_verdict);

async fn issuer_metadata_with_the_tenants_trust_verdict(db: TestDatabase) {
    let up = Upstream::start().await;
    let issuer = up.url("issuer/one");
    up.put_json(
        ".well-known/openid-credential-issuer/issuer/one",
        &json!({"credential_issuer": issuer, "credential_endpoint": format!("{issuer}/credential")}),
    );
    // Metadata at the appended location only (a common deployment mistake) is found too.
    let appended = up.url("issuer/two");
    up.put_json(
        "issuer/two/.well-known/openid-credential-issuer",
        &json!({"credential_issuer": appended, "credential_endpoint": "x"}),
    );
    let bad_signed = up.url("issuer/bad");
    up.put_json(
        ".well-known/openid-credential-issuer/issuer/bad",
        &json!({"credential_issuer": bad_signed, "signed_metadata": "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"}),
    );
    let liar = up.url("issuer/liar");
    up.put_json(
        ".well-known/openid-credential-issuer/issuer/liar",
        &json!({"credential_issuer": "https://other.example"}),
    );

    let (global, global_seen) = walletd_testkit::pdp::trusting_all("global").await;
    let (own, own_seen) = walletd_testkit::pdp::trusting_all("acme-pdp").await;
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let mut acme = Tenant::new("acme", "Acme");
    acme.trust_config.pdp_url = Some(own);
    store.create_tenant(&acme).await.unwrap();
    let mut off = Tenant::new("off", "Off");
    off.enabled = false;
    store.create_tenant(&off).await.unwrap();
    store.close().await;

    let w = crate::support::start(
        &Config::new()
            .egress_loopback()
            .database(db.url())
            .trust_endpoint(&global),
    )
    .await;
    let get = |issuer: String, tenant: Option<&'static str>| {
        let url =
            url::Url::parse_with_params(&format!("{}/issuer-metadata", w.http_url()), &[("issuer", issuer)]).unwrap();
        let mut r = http_client().get(url);
        if let Some(t) = tenant {
            r = r.header("X-Tenant-ID", t);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (s, body) = get(issuer.clone(), Some("acme")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["metadata"]["credential_issuer"], issuer.as_str());
    assert_eq!(body["trust"]["trusted"], true);
    assert_eq!(body["trust"]["reason"], "acme-pdp");
    assert_eq!(body["signed_metadata_verified"], false);
    assert!(body["trust"]["evaluated_at"].as_i64().unwrap() > 0);
    assert_eq!(own_seen.lock().unwrap().len(), 1);
    assert_eq!(own_seen.lock().unwrap()[0]["subject"]["id"], issuer.as_str());
    // Cached per tenant: again for acme hits neither upstream nor PDP; the default tenant gets its own verdict.
    assert_eq!(get(issuer.clone(), Some("acme")).await.0, StatusCode::OK);
    assert_eq!(up.hits(".well-known/openid-credential-issuer/issuer/one"), 1);
    assert_eq!(own_seen.lock().unwrap().len(), 1);
    let (s, body) = get(issuer.clone(), None).await;
    assert_eq!((s, body["trust"]["reason"].as_str()), (StatusCode::OK, Some("global")));
    assert_eq!(global_seen.lock().unwrap().len(), 1);

    let (s, body) = get(appended.clone(), None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = get(bad_signed, None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("integrity_mismatch")),
        "{body}"
    );
    let (s, body) = get(liar, None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("invalid_document")),
        "{body}"
    );
    let (s, _) = get(up.url("issuer/none"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(get(issuer.clone(), Some("nope")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(issuer.clone(), Some("off")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get("not a url".into(), None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        get("http://10.0.0.1/".into(), None).await.0,
        StatusCode::BAD_REQUEST,
        "egress guard"
    );
}
