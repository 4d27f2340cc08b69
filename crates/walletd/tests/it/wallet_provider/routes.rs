//! One suite, run with each signer: the web client obtains a key attestation with its bearer token, an issuer
//! verifies it with the published JWKS and reads its status with an independent decoder; an operator revokes the
//! instance; the status bit flips and the instance gets nothing new.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use walletd_jose::jws::{JwsAlg, decode_jwt, verify_with_jwk};
use walletd_jose::{EcKey, Jwk};
use walletd_testkit::status_list::python_statuses;
use walletd_testkit::{Config, TestDatabase, Walletd, admin, get, post, softhsm};

const ADMIN: &str = "wp-admin-token";

fn verify(jwt: &str, jwks: &Value) -> Value {
    let d = decode_jwt(jwt).expect("JWS");
    let kid = d.header_str("kid").expect("kid");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} not in {jwks}"));
    verify_with_jwk(&d, &Jwk::from_value(key).unwrap(), &[JwsAlg::Es256]).expect("verifies");
    d.claims
}

async fn suite(w: &Walletd) {
    let user = w.token_for("11111111-1111-1111-1111-111111111111", "default");
    let jwk = EcKey::generate().public_jwk().to_value();
    let body = json!({"jwks": [jwk], "openid4vci": {"nonce": "c-nonce-1"}});

    // The web client's route.
    let r = post(w, "/wallet-provider/key-attestation/generate", &body, Some(&user), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.headers["cache-control"], "no-store");
    let ka = r.body["key_attestation"].as_str().expect("key_attestation").to_string();
    let jwks = get(w, "/wallet-provider/jwks", None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert!(
        jwks.headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    let claims = verify(&ka, &jwks.body);
    assert_eq!(claims["nonce"], "c-nonce-1");
    assert_eq!(claims["attested_keys"], json!([jwk]));
    let idx = claims["status"]["status_list"]["idx"].as_i64().unwrap();
    let uri = claims["status"]["status_list"]["uri"].as_str().unwrap().to_string();
    assert!(uri.ends_with("/wallet-provider/status-list"), "{uri}");

    let meta = get(w, "/.well-known/jwt-vc-issuer/wallet-provider", None).await;
    assert_eq!(meta.status, StatusCode::OK);
    assert_eq!(meta.body["jwks"], jwks.body);
    assert_eq!(meta.body["status_list_uri"], uri.as_str());

    let status = walletd_testkit::http_client()
        .get(format!("{}/wallet-provider/status-list", w.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    assert_eq!(status.headers()["content-type"], "application/statuslist+jwt");
    assert!(
        status.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    let list = status.text().await.unwrap();
    verify(&list, &jwks.body);
    assert_eq!(python_statuses(&list, &[idx]), vec![0]);

    // Refusals are 4xx with reasons.
    let r = post(w, "/wallet-provider/key-attestation/generate", &body, None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "Invalid token");
    let r = post(
        w,
        "/wallet-provider/key-attestation/generate",
        &json!({"jwks": "x"}),
        Some(&user),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = post(
        w,
        "/wallet-provider/key-attestations",
        &json!({"jwks": []}),
        Some(&user),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"], "invalid_request");

    // The operator revokes the instance.
    let (st, listed) = admin(
        w,
        Some(ADMIN),
        Method::GET,
        "/admin/tenants/default/wallet-instances",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{listed}");
    let instances = listed["wallet_instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1);
    let id = instances[0]["id"].as_str().unwrap().to_string();
    let (st, _) = admin(w, None, Method::GET, "/admin/tenants/default/wallet-instances", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the admin token is required");
    let path = format!("/admin/tenants/default/wallet-instances/{id}/revoke");
    let (st, revoked) = admin(w, Some(ADMIN), Method::POST, &path, None).await;
    assert_eq!(st, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    let (st, _) = admin(
        w,
        Some(ADMIN),
        Method::POST,
        "/admin/tenants/default/wallet-instances/nope/revoke",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let list = walletd_testkit::http_client()
        .get(format!("{}/wallet-provider/status-list", w.http_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        python_statuses(&list, &[idx]),
        vec![1],
        "the revocation is published at once"
    );
    let r = post(w, "/wallet-provider/key-attestation/generate", &body, Some(&user), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["error"], "instance_revoked");
}

fn config(db: &TestDatabase) -> Config {
    Config::new().database(db.url()).admin_token(ADMIN)
}

#[tokio::test]
async fn the_key_ring_signer_serves_the_web_client_and_the_operator() {
    let db = TestDatabase::sqlite();
    let w = crate::support::start(&config(&db)).await;
    suite(&w).await;
    // The provider's ring is not the token ring: no token key signs attestations.
    let tokens = get(&w, "/.well-known/jwks.json", None).await;
    let provider = get(&w, "/wallet-provider/jwks", None).await;
    let kid = |v: &Value| v["keys"][0]["kid"].as_str().unwrap().to_string();
    assert_ne!(kid(&tokens.body), kid(&provider.body));
}

#[tokio::test]
async fn the_pkcs11_signer_serves_the_web_client_and_the_operator() {
    let db = TestDatabase::sqlite();
    let label = softhsm::fresh_key_label();
    let cfg = config(&db)
        .set("wallet_provider.signer", "pkcs11")
        .set("wallet_provider.pkcs11.module", softhsm::MODULE)
        .set("wallet_provider.pkcs11.token_label", softhsm::ensure_token())
        .set("wallet_provider.pkcs11.pin", softhsm::PIN)
        .set("wallet_provider.pkcs11.key_label", label.as_str());
    let w = crate::support::start(&cfg).await;
    suite(&w).await;
    let first = get(&w, "/wallet-provider/jwks", None).await.body;
    drop(w);
    // A restart finds the same key on the token.
    let w = crate::support::start(&cfg).await;
    assert_eq!(get(&w, "/wallet-provider/jwks", None).await.body, first);
}

/// The provider's budgets are the shared limiter's (`LimitKind::WalletProviderPerUser`): the configured default
/// (`wallet_provider.rate_limit_per_user`), a tenant's override from the admin API, 429 with `Retry-After`.
#[tokio::test]
async fn over_the_user_limit_is_429_with_retry_after() {
    let db = TestDatabase::sqlite();
    let w = crate::support::start(&config(&db).limit("wallet_provider.rate_limit_per_user", 1)).await;
    let (st, created) = admin(
        &w,
        Some(ADMIN),
        Method::POST,
        "/admin/tenants",
        Some(json!({"id": "generous", "rate_limits": {"wallet_provider_per_user": 3}})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let body = json!({"jwks": [EcKey::generate().public_jwk().to_value()]});
    let attest = |tenant: &'static str| {
        let (w, body) = (&w, &body);
        async move {
            let user = w.token_for("33333333-3333-3333-3333-333333333333", tenant);
            post(w, "/wallet-provider/key-attestations", body, Some(&user), &[]).await
        }
    };
    let first = attest("default").await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let second = attest("default").await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.body["error"], "rate_limited");
    let retry: u64 = second.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The tenant's override (3) wins over the default (1).
    for i in 0..3 {
        let r = attest("generous").await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "attestation {i} of tenant generous: {:?}",
            r.body
        );
    }
    assert_eq!(attest("generous").await.status, StatusCode::TOO_MANY_REQUESTS);
}
