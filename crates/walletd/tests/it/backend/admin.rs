//! The admin API on the admin listener (tenants, issuers, verifiers, invites, memberships, audit log) on SQLite
//! and PostgreSQL: bearer token checks, exact shapes, 201/404/409, cross-tenant isolation, the audit log.

use reqwest::{Method, StatusCode};
use serde_json::json;
use walletd_testkit::{Config, TestDatabase, http_client};

use super::{TOKEN, admin, admin_as, start};

walletd_testkit::on_both_databases!(admin_crud_for_every_resource);

async fn admin_crud_for_every_resource(db: TestDatabase) {
    let w = start(&db).await;
    use Method as M;

    // Token checks: /admin/status needs none; everything else needs the exact token.
    let (s, b) = admin_as(&w, None, M::GET, "/admin/status", None).await;
    assert_eq!(
        (s, b["service"].as_str()),
        (StatusCode::OK, Some("wallet-backend-admin"))
    );
    for token in [None, Some("wrong"), Some("admin-token-for-tests-012345678"), Some("")] {
        for path in ["/admin/tenants", "/admin/tenants/default", "/admin/nothing-here"] {
            let (s, b) = admin_as(&w, token, M::GET, path, None).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{token:?} {path}: {b}");
            assert_eq!(b["error"], "unauthorized");
        }
    }
    assert_eq!(
        admin(&w, M::GET, "/admin/nothing-here", None).await.0,
        StatusCode::NOT_FOUND
    );
    // The auth scheme is case-insensitive (RFC 7235); the token itself must match exactly.
    for scheme in ["bearer", "BEARER"] {
        let r = http_client()
            .get(format!("{}/admin/tenants", w.admin_url().unwrap()))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{scheme}");
        let r = http_client()
            .get(format!("{}/admin/tenants", w.admin_url().unwrap()))
            .header("authorization", format!("{scheme} {}", TOKEN.to_uppercase()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{scheme}");
    }

    // Tenants.
    let (s, b) = admin(&w, M::GET, "/admin/tenants", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["tenants"][0]["id"], "default", "{b}");
    let acme = json!({"id": "acme", "name": "Acme", "display_name": "Acme Corp", "require_invite": true,
                      "trust_config": {"pdp_url": "http://127.0.0.1:9/pdp", "trust_ttl": 60},
                      "allowed_protocols": ["oid4vci"], "webauthn": {"rp_id": "acme.example", "rp_origins": ["https://acme.example"]}});
    let (s, b) = admin(&w, M::POST, "/admin/tenants", Some(acme.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["id"], "acme");
    assert_eq!(b["enabled"], true);
    assert_eq!(b["trust_config"]["trust_ttl"], 60);
    assert_eq!(b["webauthn"]["rp_id"], "acme.example");
    assert_eq!(
        admin(&w, M::POST, "/admin/tenants", Some(acme)).await.0,
        StatusCode::CONFLICT
    );
    for bad in [
        json!({"id": "Bad Id"}),
        json!({"id": "x", "allowed_protocols": ["smtp"]}),
        json!({"id": "x", "trust_config": {"pdp_url": "not a url"}}),
        json!({"id": "x", "unknown_field": 1}),
        json!("not an object"),
    ] {
        let (s, b) = admin(&w, M::POST, "/admin/tenants", Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {b}");
    }
    let (s, b) = admin(&w, M::GET, "/admin/tenants/acme", None).await;
    assert_eq!((s, b["display_name"].as_str()), (StatusCode::OK, Some("Acme Corp")));
    let (s, b) = admin(
        &w,
        M::PUT,
        "/admin/tenants/acme",
        Some(json!({"display_name": null, "name": "ACME"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["name"].as_str(), b["display_name"].is_null()), (Some("ACME"), true));
    assert_eq!(b["require_invite"], true, "absent fields unchanged");
    assert_eq!(
        admin(&w, M::GET, "/admin/tenants/nope", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(&w, M::PUT, "/admin/tenants/nope", Some(json!({}))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(&w, M::DELETE, "/admin/tenants/nope", None).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, b) = admin(&w, M::DELETE, "/admin/tenants/default", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");

    // Issuers: private JWK stored, never returned; 409 per tenant; ids are positive integers.
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB", "d": "PRIVATE-SCALAR-SECRET"});
    let issuer = json!({"credential_issuer_identifier": "https://issuer.example", "client_id": "wallet",
                        "client_jwk": jwk});
    let (s, i) = admin(&w, M::POST, "/admin/tenants/acme/issuers", Some(issuer.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    let iid = i["id"].as_i64().unwrap();
    assert!(iid > 0);
    assert_eq!(
        i,
        json!({"id": iid, "tenant_id": "acme", "credential_issuer_identifier": "https://issuer.example",
               "client_id": "wallet", "has_client_jwk": true, "visible": true})
    );
    assert_eq!(
        admin(&w, M::POST, "/admin/tenants/acme/issuers", Some(issuer.clone()))
            .await
            .0,
        StatusCode::CONFLICT
    );
    // The same identifier in another tenant is not a duplicate.
    let (s, other) = admin(
        &w,
        M::POST,
        "/admin/tenants/default/issuers",
        Some(json!({"credential_issuer_identifier": "https://issuer.example"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(other["has_client_jwk"], false);
    let (s, b) = admin(
        &w,
        M::POST,
        "/admin/tenants/acme/issuers",
        Some(json!({"client_id": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = admin(
        &w,
        M::POST,
        "/admin/tenants/acme/issuers",
        Some(json!({"credential_issuer_identifier": "https://i2.example", "client_jwk": {"no": "kty"}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(
        admin(&w, M::POST, "/admin/tenants/nope/issuers", Some(issuer.clone()))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (s, b) = admin(&w, M::GET, &format!("/admin/tenants/acme/issuers/{iid}"), None).await;
    assert_eq!((s, &b), (StatusCode::OK, &i));
    let (s, b) = admin(
        &w,
        M::PUT,
        &format!("/admin/tenants/acme/issuers/{iid}"),
        Some(json!({"visible": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["visible"].as_bool(), b["has_client_jwk"].as_bool()),
        (Some(false), Some(true)),
        "JWK kept"
    );
    let (s, b) = admin(&w, M::GET, "/admin/tenants/acme/issuers", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["issuers"].as_array().unwrap().len(), 1, "{b}");
    assert!(!b.to_string().contains("PRIVATE-SCALAR-SECRET"));
    for path in [
        "/admin/tenants/acme/issuers/999999",
        "/admin/tenants/acme/issuers/abc",
        "/admin/tenants/acme/issuers/0",
        "/admin/tenants/nope/issuers/1",
    ] {
        assert_eq!(admin(&w, M::GET, path, None).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    // Cross-tenant: acme's issuer is not reachable through default.
    let cross = format!("/admin/tenants/default/issuers/{iid}");
    assert_eq!(admin(&w, M::GET, &cross, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        admin(&w, M::PUT, &cross, Some(json!({"visible": true}))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(admin(&w, M::DELETE, &cross, None).await.0, StatusCode::NOT_FOUND);

    // Verifiers.
    let verifier =
        json!({"name": "Shop", "url": "https://shop.example", "client_id": "shop", "client_id_scheme": "redirect_uri"});
    let (s, v) = admin(&w, M::POST, "/admin/tenants/acme/verifiers", Some(verifier.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vid = v["id"].as_i64().unwrap();
    assert_eq!(
        v,
        json!({"id": vid, "tenant_id": "acme", "name": "Shop", "url": "https://shop.example", "client_id": "shop", "client_id_scheme": "redirect_uri"})
    );
    assert_eq!(
        admin(&w, M::POST, "/admin/tenants/acme/verifiers", Some(verifier))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        admin(&w, M::POST, "/admin/tenants/acme/verifiers", Some(json!({"name": "x"})))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (s, b) = admin(
        &w,
        M::PUT,
        &format!("/admin/tenants/acme/verifiers/{vid}"),
        Some(json!({"name": "Shop 2", "client_id": null})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["name"].as_str(), b.get("client_id")), (Some("Shop 2"), None));
    assert_eq!(
        admin(&w, M::GET, &format!("/admin/tenants/acme/verifiers/{vid}"), None)
            .await
            .1["name"],
        "Shop 2"
    );
    assert_eq!(
        admin(&w, M::GET, "/admin/tenants/acme/verifiers", None).await.1["verifiers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        admin(&w, M::GET, &format!("/admin/tenants/default/verifiers/{vid}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(&w, M::GET, "/admin/tenants/acme/verifiers/424242", None).await.0,
        StatusCode::NOT_FOUND
    );

    // Invites and memberships.
    let (s, inv) = admin(
        &w,
        M::POST,
        "/admin/tenants/acme/invites",
        Some(json!({"code": "WELCOME-42", "expires_in": 3600})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    assert_eq!(
        (inv["code"].as_str(), inv["tenant_id"].as_str()),
        (Some("WELCOME-42"), Some("acme"))
    );
    assert!(inv["expires_at"].as_i64().unwrap() > 0);
    assert_eq!(
        admin(
            &w,
            M::POST,
            "/admin/tenants/acme/invites",
            Some(json!({"code": "WELCOME-42"}))
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    let (s, generated) = admin(&w, M::POST, "/admin/tenants/acme/invites", Some(json!({}))).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(generated["code"].as_str().unwrap().len() >= 16, "{generated}");
    assert_eq!(
        admin(
            &w,
            M::POST,
            "/admin/tenants/acme/invites",
            Some(json!({"code": "no spaces"}))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (s, b) = admin(&w, M::GET, "/admin/tenants/acme/invites", None).await;
    assert_eq!((s, b["invites"].as_array().unwrap().len()), (StatusCode::OK, 2), "{b}");
    assert_eq!(
        admin(&w, M::GET, "/admin/tenants/nope/invites", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(&w, M::DELETE, "/admin/tenants/acme/invites/WELCOME-42", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        admin(&w, M::DELETE, "/admin/tenants/acme/invites/WELCOME-42", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(&w, M::GET, "/admin/tenants/acme/users", None).await,
        (StatusCode::OK, json!({"users": []}))
    );
    assert_eq!(
        admin(&w, M::GET, "/admin/tenants/nope/users", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(
            &w,
            M::DELETE,
            "/admin/tenants/acme/users/00000000-0000-0000-0000-000000000000",
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // Deletes.
    let (s, b) = admin(&w, M::DELETE, &format!("/admin/tenants/acme/issuers/{iid}"), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["message"].is_string());
    assert_eq!(
        admin(&w, M::GET, &format!("/admin/tenants/acme/issuers/{iid}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(&w, M::DELETE, &format!("/admin/tenants/acme/verifiers/{vid}"), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        admin(&w, M::DELETE, &format!("/admin/tenants/acme/verifiers/{vid}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin(&w, M::DELETE, "/admin/tenants/acme", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        admin(&w, M::GET, "/admin/tenants/acme", None).await.0,
        StatusCode::NOT_FOUND
    );

    // The audit log: every write, who and when, never a secret.
    let (s, b) = admin(&w, M::GET, "/admin/audit?limit=100", None).await;
    assert_eq!(s, StatusCode::OK);
    let entries = b["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().rev().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "tenant.update",
            "issuer.create",
            "issuer.create",
            "issuer.update",
            "verifier.create",
            "verifier.update",
            "invite.create",
            "invite.create",
            "invite.delete",
            "issuer.delete",
            "verifier.delete",
            "tenant.delete"
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == "admin:ops@example.org" && e["at"].as_i64().unwrap() > 0)
    );
    let text = b.to_string();
    assert!(
        !text.contains("PRIVATE-SCALAR-SECRET"),
        "no private JWK in the audit log"
    );
    assert!(!text.contains("WELCOME-42"), "no invite code in the audit log");
    assert!(!text.contains(TOKEN), "no admin token in the audit log");
    let (_, b) = admin(&w, M::GET, "/admin/audit?tenant_id=default", None).await;
    assert_eq!(b["entries"].as_array().unwrap().len(), 1, "{b}");
    assert!(!w.logs().join("\n").contains("PRIVATE-SCALAR-SECRET"));
}

#[tokio::test]
async fn without_an_admin_token_the_admin_listener_refuses_everything_but_status() {
    let db = TestDatabase::sqlite();
    let w = crate::support::start(&Config::new().database(db.url())).await;
    assert_eq!(
        admin_as(&w, None, Method::GET, "/admin/status", None).await.0,
        StatusCode::OK
    );
    for path in ["/admin/tenants", "/admin/audit", "/admin/unknown", "/openapi.json"] {
        for token in [None, Some("anything")] {
            let (s, _) = admin_as(&w, token, Method::GET, path, None).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} {token:?}");
        }
    }
    let (s, _) = admin_as(
        &w,
        Some("x"),
        Method::POST,
        "/admin/tenants",
        Some(json!({"id": "evil"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
