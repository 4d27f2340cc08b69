//! `--mode=registry` alone opens its database (it is a stateful role): the tenant named by `X-Tenant-ID` is
//! enforced (unknown 404, disabled 403), the tenant's own PDP is asked instead of the global one, and `POST /vctm`
//! registrations are stored, so a restarted (or another) registry process serves them. On SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::Tenant;
use walletd_db::Store;
use walletd_testkit::vctm::Upstream;
use walletd_testkit::{Config, TestDatabase, http_client};

use super::type_metadata;

const ADMIN: &str = "registry-admin-token";

walletd_testkit::on_both_databases!(registry_alone_enforces_tenants_and_keeps_registrations);

async fn registry_alone_enforces_tenants_and_keeps_registrations(db: TestDatabase) {
    let up = Upstream::start().await;
    let issuer = up.url("issuer/one");
    up.put_json(
        ".well-known/openid-credential-issuer/issuer/one",
        &json!({"credential_issuer": issuer, "credential_endpoint": format!("{issuer}/credential")}),
    );
    let (global, global_seen) = walletd_testkit::pdp::trusting_all("global").await;
    let (own, own_seen) = walletd_testkit::pdp::trusting_all("acme-pdp").await;
    // The tenants as the backend role writes them, in the database the registry is given.
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let mut acme = Tenant::new("acme", "Acme");
    acme.trust_config.pdp_url = Some(own);
    store.create_tenant(&acme).await.unwrap();
    let mut off = Tenant::new("off", "Off");
    off.enabled = false;
    store.create_tenant(&off).await.unwrap();
    store.close().await;

    let config = Config::new()
        .mode("registry")
        .egress_loopback()
        .database(db.url())
        .trust_endpoint(&global)
        .admin_token(ADMIN);
    let w = crate::support::start(&config).await;
    let metadata = |tenant: &'static str| {
        let url =
            url::Url::parse_with_params(&format!("{}/issuer-metadata", w.http_url()), &[("issuer", &issuer)]).unwrap();
        let req = http_client().get(url).header("X-Tenant-ID", tenant);
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, body) = metadata("ghost").await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("tenant_not_found")),
        "{body}"
    );
    let (s, body) = metadata("off").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = metadata("acme").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body["trust"]["reason"], "acme-pdp",
        "the tenant's own PDP decides: {body}"
    );
    assert_eq!(own_seen.lock().unwrap().len(), 1);
    assert!(
        global_seen.lock().unwrap().is_empty(),
        "the global PDP was asked for acme"
    );

    // A registration lands in the database: a restarted registry still serves it.
    let vct = "urn:example:registered-in-registry-mode";
    let r = http_client()
        .post(format!("{}/vctm", w.http_url()))
        .bearer_auth(ADMIN)
        .json(&json!({"vct": vct, "name": "Registered"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    drop(w);
    let again = crate::support::start(&config).await;
    let (s, _, body) = type_metadata(&again, vct, None).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the registration was not stored: {body}\n{}",
        again.logs().join("\n")
    );
    assert_eq!(body["name"], "Registered", "{body}");
}
