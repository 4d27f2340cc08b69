//! The admin API on the admin listener (tenants, issuers, verifiers, invites, memberships, audit log) on SQLite
//! and PostgreSQL: bearer token checks, exact shapes, 201/404/409, cross-tenant isolation, tenant disable blocking
//! logins, and the web client's tenant-scoped reads (`/issuer/all`, `/issuer/{id}/metadata`, `/verifier/all`).

mod auth_util;

use auth_util::{VirtualAuthenticator, login, post, register};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use walletd_testkit::{TestDatabase, Walletd, WalletdBuilder, http_client};

const TOKEN: &str = "admin-token-for-tests-0123456789";

async fn start(db: &TestDatabase, extra: &str) -> Walletd {
    WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .config(&format!(
            "database:\n  url: \"{}\"\nadmin:\n  token: \"{TOKEN}\"\n{extra}",
            db.url()
        ))
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("walletd: {e}"))
}

/// One admin call with the right token; returns status and JSON body.
async fn admin(w: &Walletd, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    admin_as(w, Some(TOKEN), method, path, body).await
}

async fn admin_as(
    w: &Walletd,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http_client().request(method, format!("{}{path}", w.admin_url().expect("admin listener")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req = req.header("X-Audit-Actor", "ops@example.org");
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn user_get(w: &Walletd, path: &str, token: Option<&str>) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = http_client().get(format!("{}{path}", w.http_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

walletd_testkit::on_both_databases!(
    admin_crud_for_every_resource,
    compat_reads_are_tenant_scoped,
    compat_issuer_metadata_is_verified,
    tenant_disable_blocks_logins
);

async fn admin_crud_for_every_resource(db: TestDatabase) {
    let w = start(&db, "").await;
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
    let w = WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .config(&format!("database:\n  url: \"{}\"\n", db.url()))
        .spawn()
        .await
        .unwrap();
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

/// An OpenID4VCI issuer metadata endpoint on loopback.
async fn metadata_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = base.clone();
    let app = axum::Router::new().route(
        "/.well-known/openid-credential-issuer",
        axum::routing::get(move || {
            let issuer = issuer.clone();
            async move {
                axum::Json(json!({"credential_issuer": issuer, "credential_endpoint": format!("{issuer}/credential")}))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Signed issuer metadata (`typ openidvci-issuer-metadata+jwt`) with a self-signed x5c certificate.
fn signed_metadata(claims: &Value) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["issuer.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let signer = walletd_jose::EcKey::from_pkcs8(&key.serialize_der()).unwrap();
    let x5c = walletd_jose::b64::std_b64(cert.der());
    signer.sign_jwt(&json!({"typ": "openidvci-issuer-metadata+jwt", "x5c": [x5c]}), claims)
}

/// Issuers on loopback: `/good` with signed metadata that verifies, `/bad` with signed metadata that does not.
async fn signed_metadata_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let good = format!("{base}/good");
    let good_doc = json!({"credential_issuer": good, "credential_endpoint": format!("{good}/credential"),
        "display": [{"name": "Unsigned"}],
        "signed_metadata": signed_metadata(&json!({"iss": good, "display": [{"name": "Signed"}]}))});
    let bad = format!("{base}/bad");
    // A forged signature: the header and claims are fine, the signature is not theirs.
    let forged = {
        let real = signed_metadata(&json!({"iss": bad, "display": [{"name": "Signed"}]}));
        let (head, _) = real.rsplit_once('.').unwrap();
        format!("{head}.{}", walletd_jose::b64([7u8; 64]))
    };
    let bad_doc = json!({"credential_issuer": bad, "credential_endpoint": format!("{bad}/credential"),
        "signed_metadata": forged});
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-credential-issuer/good",
            axum::routing::get(move || async move { axum::Json(good_doc) }),
        )
        .route(
            "/.well-known/openid-credential-issuer/bad",
            axum::routing::get(move || async move { axum::Json(bad_doc) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// The web client's `/issuer/{id}/metadata` goes through the registry's verified path: signed values win, and
/// metadata whose `signed_metadata` does not verify is refused.
async fn compat_issuer_metadata_is_verified(db: TestDatabase) {
    let w = start(&db, "egress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\n").await;
    let upstream = signed_metadata_server().await;
    admin(&w, Method::POST, "/admin/tenants", Some(json!({"id": "acme"}))).await;
    let mut ids = Vec::new();
    for path in ["good", "bad"] {
        let (s, b) = admin(
            &w,
            Method::POST,
            "/admin/tenants/acme/issuers",
            Some(json!({"credential_issuer_identifier": format!("{upstream}/{path}")})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        ids.push(b["id"].clone());
    }
    let acme = w.token_for("11111111-1111-1111-1111-111111111111", "acme");
    let (s, b, _) = user_get(&w, &format!("/issuer/{}/metadata", ids[0]), Some(&acme)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["display"][0]["name"], "Signed", "signed values take precedence: {b}");
    assert_eq!(b["credential_issuer"], format!("{upstream}/good"));
    let (s, b, _) = user_get(&w, &format!("/issuer/{}/metadata", ids[1]), Some(&acme)).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("integrity_mismatch")),
        "{b}"
    );
}

async fn compat_reads_are_tenant_scoped(db: TestDatabase) {
    let w = start(&db, "egress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\n").await;
    let upstream = metadata_server().await;
    use Method as M;
    admin(&w, M::POST, "/admin/tenants", Some(json!({"id": "acme"}))).await;
    let (_, mine) = admin(&w, M::POST, "/admin/tenants/acme/issuers", Some(json!({"credential_issuer_identifier": upstream, "client_id": "w", "client_jwk": {"kty": "oct", "k": "SECRET-K"}}))).await;
    let (_, theirs) = admin(
        &w,
        M::POST,
        "/admin/tenants/default/issuers",
        Some(json!({"credential_issuer_identifier": "https://other.example", "visible": false})),
    )
    .await;
    admin(
        &w,
        M::POST,
        "/admin/tenants/acme/verifiers",
        Some(json!({"name": "V", "url": "https://v.example"})),
    )
    .await;
    admin(
        &w,
        M::POST,
        "/admin/tenants/default/verifiers",
        Some(json!({"name": "D", "url": "https://d.example"})),
    )
    .await;

    let acme = w.token_for("11111111-1111-1111-1111-111111111111", "acme");
    let (s, b, h) = user_get(&w, "/issuer/all", Some(&acme)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    assert_eq!(
        b,
        json!([{"id": mine["id"], "credentialIssuerIdentifier": upstream, "clientId": "w", "visible": true,
                "trustStatus": null, "trustFramework": null}])
    );
    assert!(!b.to_string().contains("SECRET-K"));
    let (s, b, _) = user_get(&w, "/verifier/all", Some(&acme)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b.as_array().unwrap().len(), 1);
    assert_eq!(b[0]["url"], "https://v.example");

    let default = w.token_for("22222222-2222-2222-2222-222222222222", "default");
    let (_, b, _) = user_get(&w, "/issuer/all", Some(&default)).await;
    assert_eq!(b.as_array().unwrap().len(), 1);
    assert_eq!(b[0]["credentialIssuerIdentifier"], "https://other.example");
    assert_eq!(b[0]["visible"], false);

    let (s, b, _) = user_get(&w, &format!("/issuer/{}/metadata", mine["id"]), Some(&acme)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["credential_issuer"], upstream.as_str());
    let (s, _, _) = user_get(&w, &format!("/issuer/{}/metadata", theirs["id"]), Some(&acme)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another tenant's issuer");
    assert_eq!(
        user_get(&w, "/issuer/x/metadata", Some(&acme)).await.0,
        StatusCode::NOT_FOUND
    );
    for path in ["/issuer/all", "/verifier/all", "/issuer/1/metadata"] {
        // The web client refreshes its token only on a 401 whose error is "Invalid token" (docs/compat-401.md).
        let (s, b, _) = user_get(&w, path, None).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("Invalid token")),
            "{path}"
        );
    }
    // A disabled tenant reads nothing.
    admin(&w, M::PUT, "/admin/tenants/acme", Some(json!({"enabled": false}))).await;
    assert_eq!(user_get(&w, "/issuer/all", Some(&acme)).await.0, StatusCode::FORBIDDEN);
}

async fn tenant_disable_blocks_logins(db: TestDatabase) {
    let w = start(&db, "").await;
    let (s, _) = admin(
        &w,
        Method::POST,
        "/admin/tenants",
        Some(json!({"id": "acme", "name": "Acme"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let mut va = VirtualAuthenticator::new();
    let r = register(&w, &mut va, Some("acme"), b"keystore").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let uuid = r.body["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        admin(&w, Method::GET, "/admin/tenants/acme/users", None).await.1,
        json!({"users": [uuid]})
    );
    assert_eq!(login(&w, &mut va, Some("acme")).await.status, StatusCode::OK);

    let (s, b) = admin(&w, Method::PUT, "/admin/tenants/acme", Some(json!({"enabled": false}))).await;
    assert_eq!((s, b["enabled"].as_bool()), (StatusCode::OK, Some(false)));
    // The credential's tenant decides at finish: a login begun without naming the tenant is refused too.
    let r = login(&w, &mut va, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = post(
        &w,
        "/user/login-webauthn-begin",
        &json!({}),
        None,
        &[("X-Tenant-ID", "acme")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = post(
        &w,
        "/user/register-webauthn-begin",
        &json!({"tenantId": "acme"}),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    admin(&w, Method::PUT, "/admin/tenants/acme", Some(json!({"enabled": true}))).await;
    assert_eq!(login(&w, &mut va, Some("acme")).await.status, StatusCode::OK);
    // Ending the membership removes the account.
    let (s, _) = admin(&w, Method::DELETE, &format!("/admin/tenants/acme/users/{uuid}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        admin(&w, Method::GET, "/admin/tenants/acme/users", None).await.1,
        json!({"users": []})
    );
}
