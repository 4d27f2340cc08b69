//! Tenants: users are isolated per tenant, a passkey used through another tenant is refused, invites gate
//! registration where required, and the tenant config routes answer; on SQLite and PostgreSQL.

use super::start;
use reqwest::StatusCode;
use serde_json::json;
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::Tenant;
use walletd_db::Store;
use walletd_testkit::TestDatabase;
use walletd_testkit::authenticator::*;
use walletd_testkit::ceremony::*;
use walletd_testkit::jwt::{self};
use walletd_testkit::{get, post};

walletd_testkit::on_both_databases!(
    tenants_are_isolated_and_cross_tenant_passkeys_are_refused,
    tenant_config_routes_answer,
    invites_gate_registration_where_required,
);

async fn seed(db: &TestDatabase) {
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    store.create_tenant(&Tenant::new("acme", "Acme")).await.unwrap();
    let mut beta = Tenant::new("beta", "Beta");
    beta.display_name = Some("Beta Corp".into());
    store.create_tenant(&beta).await.unwrap();
    let mut closed = Tenant::new("closed", "Closed");
    closed.enabled = false;
    store.create_tenant(&closed).await.unwrap();
    let mut invite_only = Tenant::new("invite-only", "Invite only");
    invite_only.require_invite = true;
    store.create_tenant(&invite_only).await.unwrap();
    store.create_invite("invite-only", "WELCOME-1", None).await.unwrap();
    store.close().await;
}

async fn tenants_are_isolated_and_cross_tenant_passkeys_are_refused(db: TestDatabase) {
    seed(&db).await;
    let w = start(&db, "").await;
    let mut a = VirtualAuthenticator::new();
    let mut b = VirtualAuthenticator::new();

    let ra = register(&w, &mut a, Some("acme"), b"a-data").await;
    assert_eq!(ra.status, StatusCode::OK, "{}", ra.body);
    assert_eq!(ra.body["tenantId"], "acme");
    assert_eq!(jwt::claims(ra.body["appToken"].as_str().unwrap())["tenant_id"], "acme");
    let rb = register(&w, &mut b, Some("beta"), b"b-data").await;
    assert_eq!(rb.status, StatusCode::OK, "{}", rb.body);
    assert_eq!(rb.body["tenantId"], "beta");
    assert_eq!(rb.body["tenantDisplayName"], "Beta Corp");
    assert_ne!(ra.body["uuid"], rb.body["uuid"]);

    // A's passkey through B: 403. Through A, or with no tenant named (discovered from the credential): 200.
    let cross = login(&w, &mut a, Some("beta")).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN, "{}", cross.body);
    assert_eq!(cross.body["error"], "tenant_mismatch");
    let own = login(&w, &mut a, Some("acme")).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["tenantId"], "acme");
    assert_eq!(tagged_bytes(&own.body["privateData"]), b"a-data");
    let discovered = login(&w, &mut b, None).await;
    assert_eq!(discovered.status, StatusCode::OK, "{}", discovered.body);
    assert_eq!(discovered.body["tenantId"], "beta");
    assert_eq!(tagged_bytes(&discovered.body["privateData"]), b"b-data");

    // Each account sees only its own passkeys.
    let info = get(&w, "/user/session/account-info", own.body["appToken"].as_str()).await;
    assert_eq!(info.body["uuid"], ra.body["uuid"]);
    assert_eq!(info.body["webauthnCredentials"].as_array().unwrap().len(), 1);

    // Unknown tenant 404, disabled 403.
    let r = post(
        &w,
        "/user/register-webauthn-begin",
        &json!({"tenantId": "nope"}),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = post(
        &w,
        "/user/register-webauthn-begin",
        &json!({"tenantId": "closed"}),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = post(
        &w,
        "/user/login-webauthn-begin",
        &json!({}),
        None,
        &[("X-Tenant-ID", "nope")],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

async fn tenant_config_routes_answer(db: TestDatabase) {
    seed(&db).await;
    let w = start(&db, "").await;
    for path in ["/api/v1/tenants/beta/config", "/tenant/beta/config"] {
        let r = get(&w, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            r.body,
            json!({"id": "beta", "name": "Beta", "display_name": "Beta Corp", "require_invite": false})
        );
    }
    assert_eq!(
        get(&w, "/tenant/invite-only/config", None).await.body["require_invite"],
        true
    );
    assert_eq!(get(&w, "/tenant/nope/config", None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&w, "/tenant/closed/config", None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&w, "/helper/auth-check", None).await.status, StatusCode::OK);
    // `/helper/iaca-list` belongs to the backend role (tests/it/backend/iaca_list.rs).
    let status = get(&w, "/status", None).await.body;
    let caps = status["capabilities"].as_array().unwrap();
    assert!(
        caps.contains(&json!("webauthn")) && caps.contains(&json!("multi-tenancy")),
        "{status}"
    );
}

async fn invites_gate_registration_where_required(db: TestDatabase) {
    seed(&db).await;
    let w = start(&db, "").await;
    let begin = |body| {
        let w = &w;
        async move { post(w, "/user/register-webauthn-begin", &body, None, &[]).await }
    };
    let r = begin(json!({"tenantId": "invite-only"})).await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (StatusCode::FORBIDDEN, json!("invite_required"))
    );
    let r = begin(json!({"tenantId": "invite-only", "inviteCode": "WRONG"})).await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (StatusCode::FORBIDDEN, json!("invite_invalid"))
    );

    let r = begin(json!({"tenantId": "invite-only", "inviteCode": "WELCOME-1"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut va = VirtualAuthenticator::new();
    let cred = va.create(&r.body["createOptions"], ORIGIN).await;
    let fin = post(
        &w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": r.body["challengeId"], "credential": cred}),
        None,
        &[],
    )
    .await;
    assert_eq!(fin.status, StatusCode::OK, "{}", fin.body);
    assert_eq!(fin.body["tenantId"], "invite-only");
    // Used up.
    let r = begin(json!({"tenantId": "invite-only", "inviteCode": "WELCOME-1"})).await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (StatusCode::FORBIDDEN, json!("invite_invalid"))
    );
}
