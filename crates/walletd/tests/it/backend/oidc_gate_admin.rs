//! A tenant's OIDC gate through the admin API, on SQLite and PostgreSQL: stored with the tenant (required claims
//! included), published to the web client by the tenant config route without them, refused when unusable, and
//! removed with `null`.

use reqwest::{Method, StatusCode};
use serde_json::json;
use walletd_testkit::TestDatabase;

use super::{admin, start, user_get};

walletd_testkit::on_both_databases!(oidc_gate_is_managed_per_tenant);

async fn oidc_gate_is_managed_per_tenant(db: TestDatabase) {
    let w = start(&db).await;
    let gate = json!({
        "mode": "both",
        "registration_op": {"display_name": "Corporate SSO", "issuer": "https://login.acme.example",
                            "client_id": "wallet-web", "scopes": "openid email"},
        "login_op": {"issuer": "https://mfa.acme.example", "client_id": "wallet-mfa", "audience": "wallet"},
        "required_claims": {"email_verified": true}
    });
    let (s, b) = admin(
        &w,
        Method::POST,
        "/admin/tenants",
        Some(json!({"id": "acme", "oidc_gate": gate})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = admin(&w, Method::GET, "/admin/tenants/acme", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["oidc_gate"]["required_claims"],
        json!({"email_verified": true}),
        "{b}"
    );
    assert_eq!(b["oidc_gate"]["login_op"]["audience"], "wallet");

    let (s, config, _) = user_get(&w, "/api/v1/tenants/acme/config", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        config["oidc_gate"],
        json!({
            "mode": "both",
            "bind_identity": false,
            "registration_op": {"display_name": "Corporate SSO", "issuer": "https://login.acme.example",
                                "client_id": "wallet-web", "scopes": "openid email"},
            "login_op": {"display_name": "https://mfa.acme.example", "issuer": "https://mfa.acme.example",
                         "client_id": "wallet-mfa", "scopes": "openid profile email"}
        }),
        "the client's shape, without required claims or audience"
    );

    for (bad, why) in [
        (json!({"mode": "login"}), "a gated ceremony without a provider"),
        (
            json!({"mode": "registration", "registration_op": {"issuer": "ftp://x", "client_id": "w"}}),
            "not http(s)",
        ),
        (
            json!({"mode": "none", "bind_identity": true}),
            "bind_identity is not implemented",
        ),
        (json!({"mode": "sometimes"}), "an unknown mode"),
    ] {
        let (s, b) = admin(&w, Method::PUT, "/admin/tenants/acme", Some(json!({"oidc_gate": bad}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}: {b}");
    }
    let (s, _) = admin(&w, Method::PUT, "/admin/tenants/acme", Some(json!({"oidc_gate": null}))).await;
    assert_eq!(s, StatusCode::OK);
    let (_, config, _) = user_get(&w, "/api/v1/tenants/acme/config", None).await;
    assert!(config.get("oidc_gate").is_none(), "{config}");
}
