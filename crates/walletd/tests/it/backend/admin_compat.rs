//! The web client's tenant-scoped reads (`/issuer/all`, `/issuer/{id}/metadata`, `/verifier/all`) and a disabled
//! tenant blocking logins, on SQLite and PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use walletd_testkit::TestDatabase;
use walletd_testkit::authenticator::VirtualAuthenticator;
use walletd_testkit::ceremony::{login, register};
use walletd_testkit::post;

use super::{admin, config, start, user_get};

walletd_testkit::on_both_databases!(
    compat_reads_are_tenant_scoped,
    tenant_disable_blocks_logins,
    compat_issuer_metadata_is_verified
);

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

async fn compat_reads_are_tenant_scoped(db: TestDatabase) {
    let w = crate::support::start(&config(&db).egress_loopback()).await;
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
    let (s, mut b, h) = user_get(&w, "/issuer/all", Some(&acme)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    // The backend's trust worker evaluates a new issuer on its own schedule: before it has, the status is null;
    // after, a verdict. Either is right here (this test is about scoping); the verdict itself is tested elsewhere.
    let status = b[0]["trustStatus"].take();
    assert!(status.is_null() || status.is_string(), "{status}");
    b[0]["trustStatus"] = Value::Null;
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
    let w = start(&db).await;
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
    let w = crate::support::start(&config(&db).egress_loopback()).await;
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
