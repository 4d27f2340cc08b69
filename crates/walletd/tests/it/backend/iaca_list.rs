//! The web client's `GET /helper/iaca-list` on the backend role: the IACAs of the tenant's registered issuers, from
//! their metadata's `mdoc_iacas_uri` (the real Node issuer of tests/interop), fetched through the egress guard with
//! the engine's bounded, cached fetch; an address the guard blocks is never fetched and is named with its reason.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::{TestDatabase, Walletd, http_client};

use super::{admin, config};

async fn iaca_list(w: &Walletd, tenant: Option<&str>) -> (StatusCode, Value) {
    let mut req = http_client().get(format!("{}/helper/iaca-list", w.http_url()));
    if let Some(t) = tenant {
        req = req.header("X-Tenant-ID", t);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn register(w: &Walletd, tenant: &str, issuer: &str) {
    let (s, b) = admin(
        w,
        Method::POST,
        &format!("/admin/tenants/{tenant}/issuers"),
        Some(json!({"credential_issuer_identifier": issuer})),
    )
    .await;
    assert!(s.is_success(), "{s} {b}");
}

/// The DER of a PEM certificate.
fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    walletd_jose::b64::std_b64_decode(&body).unwrap()
}

async fn iaca_der(issuer: &NodeIssuer) -> Vec<u8> {
    let pki: Value = http_client()
        .get(format!("{}/test/mdoc_pki", issuer.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    walletd_jose::b64::std_b64_decode(pki["iaca"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn the_list_holds_the_issuers_iacas_and_names_a_blocked_one() {
    let good = NodeIssuer::start();
    let blocked = NodeIssuer::start_with(json!({"mdoc_iacas_uri": "http://169.254.169.254/iacas"}));
    let db = TestDatabase::sqlite();
    let w = crate::support::start(&config(&db).egress_loopback()).await;
    admin(&w, Method::POST, "/admin/tenants", Some(json!({"id": "acme"}))).await;
    register(&w, "acme", &good.url).await;
    register(&w, "acme", &blocked.url).await;

    let (s, body) = iaca_list(&w, Some("acme")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let list = body["iaca_list"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{body}");
    assert_eq!(list[0]["credential_issuer"], json!(good.url));
    let pem = list[0]["certificate"].as_str().unwrap();
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----\n"),
        "the web client reads PEM: {pem}"
    );
    assert_eq!(der_of(pem), iaca_der(&good).await);
    let unavailable = body["unavailable"].as_array().unwrap();
    assert_eq!(unavailable.len(), 1, "{body}");
    assert_eq!(unavailable[0]["credential_issuer"], json!(blocked.url));
    let why = unavailable[0]["error"].as_str().unwrap();
    assert!(why.contains("mdoc_iacas_uri") && why.contains("blocked"), "{why}");
    assert!(
        w.wait_for_log("an issuer's IACAs are unavailable", Duration::from_secs(5))
            .await,
        "the refusal is logged"
    );
    let logs = w.logs().join("\n");
    assert!(
        logs.lines()
            .any(|l| l.contains("an issuer's IACAs are unavailable") && l.contains("blocked")),
        "the reason is logged: {logs}"
    );

    // Another tenant sees only its own issuers; an unknown one is refused; no header is the default tenant.
    let (s, body) = iaca_list(&w, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, json!({"iaca_list": [], "unavailable": []}));
    assert_eq!(iaca_list(&w, Some("nope")).await.0, StatusCode::NOT_FOUND);

    // Cached: the issuer gone, the list is still served within engine.mdoc_iacas_ttl.
    let url = good.url.clone();
    drop(good);
    let (_, body) = iaca_list(&w, Some("acme")).await;
    assert_eq!(body["iaca_list"][0]["credential_issuer"], json!(url), "{body}");
}

#[tokio::test]
async fn the_fetch_is_bounded_by_the_configured_limits() {
    let first = NodeIssuer::start();
    let second = NodeIssuer::start();
    let db = TestDatabase::sqlite();
    let cfg = config(&db)
        .egress_loopback()
        .set("engine.mdoc_iacas_max_bytes", 16)
        .set("engine.mdoc_iacas_max_issuers", 1);
    let w = crate::support::start(&cfg).await;
    register(&w, "default", &first.url).await;
    register(&w, "default", &second.url).await;
    let (s, body) = iaca_list(&w, Some("default")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["iaca_list"], json!([]), "{body}");
    // Only the first issuer is asked (mdoc_iacas_max_issuers), and its list is over mdoc_iacas_max_bytes.
    let unavailable = body["unavailable"].as_array().unwrap();
    assert_eq!(unavailable.len(), 1, "{body}");
    assert_eq!(unavailable[0]["credential_issuer"], json!(first.url));
    assert!(
        unavailable[0]["error"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit of 16 bytes"),
        "{body}"
    );
    assert!(
        w.wait_for_log("engine.mdoc_iacas_max_issuers", Duration::from_secs(5))
            .await,
        "the skipped issuers are logged with the setting that skipped them"
    );
}
