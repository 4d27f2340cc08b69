//! Client authentication at the token and PAR endpoints through a real walletd process against the Node issuer,
//! in the spec's order: the client's `OAuth-Client-Attestation(-PoP)` headers, else the tenant's registered
//! `private_key_jwt` (created through the admin API of an all-mode walletd), else a plain `client_id`. The issuer
//! verifies what it gets; the registered private key never shows in frames, errors or logs.

use serde_json::{Value, json};
use walletd_jose::EcKey;
use walletd_testkit::{TestDatabase, Walletd};
use walletd_wallet::Holder;
use walletd_wallet::client::{ClientError, EngineClient};

use super::{all_mode, engine};
use walletd_testkit::engine::ws_url;
use walletd_testkit::holder::browser;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::verify_all;
use walletd_testkit::interop::NodeIssuer;

const ADMIN_TOKEN: &str = "admin-token-for-engine-client-auth";
const CLIENT_ID: &str = "walletd-interop-client";

/// Registers `issuer` for the `default` tenant with `client_id` and the private `jwk`.
async fn register(w: &Walletd, issuer: &str, jwk: Option<Value>) {
    let mut body = json!({"credential_issuer_identifier": issuer, "client_id": CLIENT_ID});
    if let Some(j) = jwk {
        body["client_jwk"] = j;
    }
    let (status, answer) = walletd_testkit::admin(
        w,
        Some(ADMIN_TOKEN),
        reqwest::Method::POST,
        "/admin/tenants/default/issuers",
        Some(body),
    )
    .await;
    assert_eq!(status.as_u16(), 201, "{answer}");
}

async fn holder_session(w: &Walletd) -> EngineClient {
    let mut c = EngineClient::connect(&ws_url(w)).await.unwrap();
    c.handshake(&w.token_for("holder-1", "default"), None).await.unwrap();
    c
}

async fn token_requests(issuer: &NodeIssuer) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/test/token_requests", issuer.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array().unwrap().clone()
}

fn assert_no_secret(w: &Walletd, secret: &str) {
    for line in w.logs() {
        assert!(!line.contains(secret), "a secret in the logs: {line}");
    }
}

#[tokio::test]
async fn private_key_jwt_from_the_tenants_registration() {
    let key = EcKey::generate();
    let private = key.private_jwk().to_value();
    let d = private["d"].as_str().unwrap().to_string();
    let issuer =
        NodeIssuer::start_with(json!({"client_auth": {"client_id": CLIENT_ID, "public_jwk": key.public_jwk()}}));
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;
    register(&w, &issuer.url, Some(private)).await;
    let mut c = holder_session(&w).await;
    let holder = Holder::new();

    // Pre-authorized code: the registered client authenticates (no anonymous access when registered).
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "pkj", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
    assert!(!done.to_string().contains(&d));

    // Authorization code with PAR: the pushed request and the token request both carry an assertion.
    let offer = issuer.offer(json!({"grant": "auth"})).await;
    let auth = browser();
    let done = c
        .run_issuance(
            &holder,
            "pkj-ac",
            json!({"offer": offer["offer"], "redirect_uri": "https://wallet.example/cb"}),
            None,
            Some(&auth),
        )
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;

    // Each token request is sent twice (the first gets a DPoP nonce challenge), each time with a fresh assertion
    // (the issuer refuses a replayed jti).
    let seen = token_requests(&issuer).await;
    let endpoints: Vec<_> = seen.iter().map(|r| r["endpoint"].as_str().unwrap()).collect();
    assert_eq!(endpoints, ["token", "token", "par", "token", "token"], "{seen:?}");
    for r in &seen {
        assert_eq!(r["client_auth"], "private_key_jwt", "{r}");
        assert_eq!(r["client_id"], CLIENT_ID, "{r}");
    }
    assert_no_secret(&w, &d);
}

#[tokio::test]
async fn a_wrong_registered_key_is_a_token_error() {
    let registered = EcKey::generate();
    let known_to_issuer = EcKey::generate();
    let private = registered.private_jwk().to_value();
    let d = private["d"].as_str().unwrap().to_string();
    let issuer = NodeIssuer::start_with(
        json!({"client_auth": {"client_id": CLIENT_ID, "public_jwk": known_to_issuer.public_jwk()}}),
    );
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;
    register(&w, &issuer.url, Some(private)).await;
    let mut c = holder_session(&w).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let err = c
        .run_issuance(&Holder::new(), "bad", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap_err();
    let ClientError::Flow(v) = err else { panic!("{err}") };
    assert_eq!(v["error"]["code"], "TOKEN_ERROR", "{v}");
    assert_eq!(v["error"]["details"]["error"], "invalid_client", "{v}");
    assert!(!v.to_string().contains(&d));
    let seen = token_requests(&issuer).await;
    assert_eq!(seen[0]["client_auth"], "private_key_jwt", "{seen:?}");
    assert_no_secret(&w, &d);
}

#[tokio::test]
async fn no_assertion_for_an_authorization_server_naming_another_issuer() {
    // An AS whose metadata names another issuer could replay an assertion made for that one: none is sent.
    let key = EcKey::generate();
    let issuer = NodeIssuer::start_with(json!({"wrong_as_issuer": true,
        "client_auth": {"client_id": CLIENT_ID, "public_jwk": key.public_jwk()}}));
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;
    register(&w, &issuer.url, Some(key.private_jwk().to_value())).await;
    let mut c = holder_session(&w).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let err = c
        .run_issuance(&Holder::new(), "aud", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap_err();
    let ClientError::Flow(v) = err else { panic!("{err}") };
    assert_eq!(v["error"]["code"], "TOKEN_ERROR", "{v}");
    assert!(token_requests(&issuer).await.is_empty());
}

#[tokio::test]
async fn an_unusable_registered_key_is_a_clear_token_error() {
    let issuer = NodeIssuer::start();
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;
    // An RSA key the admin API accepts but the engine cannot sign ES256 with.
    let rsa = json!({"kty": "RSA", "n": "sXch", "e": "AQAB", "d": "RSA-PRIVATE-EXPONENT-SECRET"});
    register(&w, &issuer.url, Some(rsa)).await;
    let mut c = holder_session(&w).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let err = c
        .run_issuance(&Holder::new(), "rsa", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap_err();
    let ClientError::Flow(v) = err else { panic!("{err}") };
    assert_eq!(v["error"]["code"], "TOKEN_ERROR", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("P-256"), "{v}");
    assert!(!v.to_string().contains("RSA-PRIVATE-EXPONENT-SECRET"));
    assert_no_secret(&w, "RSA-PRIVATE-EXPONENT-SECRET");
}

#[tokio::test]
async fn without_a_registration_the_client_id_is_sent() {
    let issuer = NodeIssuer::start();
    let other = NodeIssuer::start();
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;
    // A registration for another issuer does not apply.
    register(&w, &other.url, Some(EcKey::generate().private_jwk().to_value())).await;
    let mut c = holder_session(&w).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "auth"})).await;
    let auth = browser();
    let done = c
        .run_issuance(
            &holder,
            "plain",
            json!({"offer": offer["offer"], "redirect_uri": "https://wallet.example/cb"}),
            None,
            Some(&auth),
        )
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
    let seen = token_requests(&issuer).await;
    let token = seen.iter().find(|r| r["endpoint"] == "token").unwrap();
    assert_eq!(token["client_auth"], "client_id", "{seen:?}");
    assert_eq!(token["client_id"], "https://wallet.example", "{seen:?}");

    // A registration with a client_id but no key: that client_id, no assertion.
    register(&w, &issuer.url, None).await;
    let offer = issuer.offer(json!({"grant": "auth"})).await;
    let done = c
        .run_issuance(
            &holder,
            "plain-reg",
            json!({"offer": offer["offer"], "redirect_uri": "https://wallet.example/cb"}),
            None,
            Some(&auth),
        )
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
    let seen = token_requests(&issuer).await;
    let last = seen.iter().rev().find(|r| r["endpoint"] == "token").unwrap();
    assert_eq!(last["client_auth"], "client_id", "{seen:?}");
    assert_eq!(last["client_id"], CLIENT_ID, "{seen:?}");
}

/// A wallet attestation (signed by the provider, header `jwk`) for `client_id` with `instance` as `cnf`, and its
/// PoP for `audience` (signed by the instance key).
fn attestation(provider: &EcKey, instance: &EcKey, audience: &str) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let att = provider.sign_jwt(
        &json!({"typ": "oauth-client-attestation+jwt", "jwk": provider.public_jwk()}),
        &json!({"iss": "https://provider.example", "sub": CLIENT_ID, "iat": now, "exp": now + 300,
                "cnf": {"jwk": instance.public_jwk()}}),
    );
    let pop = instance.sign_jwt(
        &json!({"typ": "oauth-client-attestation-pop+jwt"}),
        &json!({"iss": CLIENT_ID, "aud": audience, "jti": walletd_engine::oid4vci::token::random_token(), "iat": now, "exp": now + 60}),
    );
    (att, pop)
}

#[tokio::test]
async fn client_attestation_headers_reach_the_issuer() {
    let provider = EcKey::generate();
    let issuer = NodeIssuer::start_with(json!({"client_attestation": {"provider_jwk": provider.public_jwk()}}));
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let instance = EcKey::generate();
    let (att, pop) = attestation(&provider, &instance, &issuer.url);
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(
            &holder,
            "att",
            json!({"offer": offer["offer"], "client_attestation": att, "client_attestation_pop": pop}),
            None,
            None,
        )
        .await
        .unwrap();
    verify_all(&issuer, &holder, &done).await;
    let seen = token_requests(&issuer).await;
    assert_eq!(seen[0]["client_auth"], "attestation", "{seen:?}");

    // The issuer verifies them: an attestation from an unknown provider is refused.
    let stranger = EcKey::generate();
    let (att, pop) = attestation(&stranger, &instance, &issuer.url);
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let err = c
        .run_issuance(
            &holder,
            "att-bad",
            json!({"offer": offer["offer"], "client_attestation": att, "client_attestation_pop": pop}),
            None,
            None,
        )
        .await
        .unwrap_err();
    let ClientError::Flow(v) = err else { panic!("{err}") };
    assert_eq!(v["error"]["code"], "TOKEN_ERROR", "{v}");
    // Without the headers the issuer refuses too (it requires attestation).
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let err = c
        .run_issuance(&holder, "att-none", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap_err();
    let ClientError::Flow(v) = err else { panic!("{err}") };
    assert_eq!(v["error"]["code"], "TOKEN_ERROR", "{v}");
}
