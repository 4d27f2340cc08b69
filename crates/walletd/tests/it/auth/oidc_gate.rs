//! The tenant OIDC gate against a local OpenID provider (testkit `oidc`): registration and login begin need
//! `Authorization: Bearer <id_token>` of the tenant's provider where the gate says so. Accepted: ES256 and RS256
//! tokens with the right issuer, audience, lifetime and required claims; refused with 401 `oidc_gate_required`
//! plus the client's `oidc_config`: none, wrong issuer, wrong audience, expired, bad signature, missing required
//! claim. An ungated tenant (or ceremony) needs nothing; the provider's JWKS is fetched once and cached.

use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::{OidcGate, Tenant};
use walletd_db::Store;
use walletd_testkit::authenticator::VirtualAuthenticator;
use walletd_testkit::ceremony::{ORIGIN, register_finish};
use walletd_testkit::oidc::{CLIENT_ID, OidcProvider, tamper_signature};
use walletd_testkit::{Resp, TestDatabase, Walletd, get, post};

async fn seed(db: &TestDatabase, idp: &OidcProvider) {
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let mut reg = Tenant::new("gated-reg", "Registration gate");
    let mut gate: OidcGate = serde_json::from_value(idp.gate("registration")).unwrap();
    gate.required_claims.insert("email_verified".into(), json!(true));
    reg.oidc_gate = Some(gate);
    store.create_tenant(&reg).await.unwrap();
    let mut login = Tenant::new("gated-login", "Login gate");
    login.oidc_gate = Some(serde_json::from_value(idp.gate("login")).unwrap());
    store.create_tenant(&login).await.unwrap();
    let mut open = Tenant::new("open", "No gate");
    open.oidc_gate = Some(serde_json::from_value(idp.gate("none")).unwrap());
    store.create_tenant(&open).await.unwrap();
    store.close().await;
}

async fn start(db: &TestDatabase) -> Walletd {
    crate::support::walletd()
        .with_config(&super::config(db).egress_loopback())
        .start()
        .await
}

async fn register_begin(w: &Walletd, tenant: &str, id_token: Option<&str>) -> Resp {
    post(
        w,
        "/user/register-webauthn-begin",
        &json!({"displayName": "Alice", "tenantId": tenant}),
        id_token,
        &[],
    )
    .await
}

async fn login_begin(w: &Walletd, tenant: Option<&str>, id_token: Option<&str>) -> Resp {
    let headers: Vec<(&str, &str)> = tenant.map(|t| vec![("X-Tenant-ID", t)]).unwrap_or_default();
    post(w, "/user/login-webauthn-begin", &json!({}), id_token, &headers).await
}

async fn login_finish(w: &Walletd, begin: &Resp, va: &mut VirtualAuthenticator, id_token: Option<&str>) -> Resp {
    let credential = va.get(&begin.body["getOptions"], ORIGIN).await;
    let body = json!({"challengeId": begin.body["challengeId"], "credential": credential});
    post(w, "/user/login-webauthn-finish", &body, id_token, &[]).await
}

fn assert_gate_refused(what: &str, r: &Resp, idp: &OidcProvider) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
    assert_eq!(r.body["error"], "oidc_gate_required", "{what}: {}", r.body);
    assert_eq!(r.body["oidc_config"]["issuer"], idp.issuer(), "{what}");
    assert_eq!(r.body["oidc_config"]["client_id"], CLIENT_ID, "{what}");
    assert_eq!(r.body["oidc_config"]["display_name"], "Test IdP", "{what}");
}

#[tokio::test]
async fn registration_gate_accepts_valid_tokens_and_refuses_the_rest() {
    let idp = OidcProvider::start().await;
    let db = TestDatabase::sqlite();
    seed(&db, &idp).await;
    let w = start(&db).await;

    // Accepted, ES256 and RS256, and the ceremony completes.
    let ok = register_begin(&w, "gated-reg", Some(&idp.id_token("alice"))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let mut va = VirtualAuthenticator::new();
    let credential = va.create(&ok.body["createOptions"], ORIGIN).await;
    let done = register_finish(&w, ok.body["challengeId"].as_str().unwrap(), &credential).await;
    assert_eq!(
        (done.status, &done.body["tenantId"]),
        (StatusCode::OK, &json!("gated-reg")),
        "{}",
        done.body
    );
    let rs = idp.sign(Algorithm::RS256, &idp.claims("bob"));
    assert_eq!(register_begin(&w, "gated-reg", Some(&rs)).await.status, StatusCode::OK);

    // Refused.
    let claims = idp.claims("mallory");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        f(&mut c);
        idp.sign(Algorithm::ES256, &c)
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("not a JWT", Some("not-a-jwt".into())),
        ("wrong issuer", Some(with(&|c| c["iss"] = json!("http://127.0.0.1:1")))),
        ("wrong audience", Some(with(&|c| c["aud"] = json!("another-client")))),
        (
            "expired",
            Some(with(&|c| {
                c["iat"] = json!(1_000_000);
                c["exp"] = json!(1_000_600);
            })),
        ),
        ("bad signature", Some(tamper_signature(&idp.id_token("mallory")))),
        (
            "missing required claim",
            Some(with(&|c| {
                c.as_object_mut().unwrap().remove("email_verified");
            })),
        ),
        (
            "required claim with another value",
            Some(with(&|c| c["email_verified"] = json!(false))),
        ),
        (
            "no subject",
            Some(with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            })),
        ),
    ];
    for (what, token) in &cases {
        assert_gate_refused(what, &register_begin(&w, "gated-reg", token.as_deref()).await, &idp);
    }

    // Gate off: no gate, mode `none`, or a ceremony the gate leaves open.
    assert_eq!(register_begin(&w, "default", None).await.status, StatusCode::OK);
    assert_eq!(register_begin(&w, "open", None).await.status, StatusCode::OK);
    assert_eq!(login_begin(&w, Some("gated-reg"), None).await.status, StatusCode::OK);

    // The client reads the gate from the tenant config; required claims stay on the server.
    let config = get(&w, "/api/v1/tenants/gated-reg/config", None).await;
    assert_eq!(config.body["oidc_gate"]["mode"], "registration", "{}", config.body);
    assert_eq!(config.body["oidc_gate"]["registration_op"]["issuer"], idp.issuer());
    assert!(config.body["oidc_gate"].get("required_claims").is_none());
    assert!(
        get(&w, "/api/v1/tenants/default/config", None)
            .await
            .body
            .get("oidc_gate")
            .is_none()
    );

    assert_eq!(idp.jwks_fetches(), 1, "the provider's JWKS is cached");
}

#[tokio::test]
async fn login_gate_guards_begin_and_finish() {
    let idp = OidcProvider::start().await;
    let db = TestDatabase::sqlite();
    seed(&db, &idp).await;
    let w = start(&db).await;
    let token = idp.id_token("carol");

    // Registration is not gated in this tenant.
    let begin = register_begin(&w, "gated-login", None).await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    let mut va = VirtualAuthenticator::new();
    let credential = va.create(&begin.body["createOptions"], ORIGIN).await;
    let done = register_finish(&w, begin.body["challengeId"].as_str().unwrap(), &credential).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    assert_gate_refused(
        "login begin without a token",
        &login_begin(&w, Some("gated-login"), None).await,
        &idp,
    );
    let expired = {
        let mut c = idp.claims("carol");
        c["exp"] = json!(1_000_600);
        c["iat"] = json!(1_000_000);
        idp.sign(Algorithm::ES256, &c)
    };
    assert_gate_refused(
        "an expired token",
        &login_begin(&w, Some("gated-login"), Some(&expired)).await,
        &idp,
    );

    let begin = login_begin(&w, Some("gated-login"), Some(&token)).await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    let done = login_finish(&w, &begin, &mut va, Some(&token)).await;
    assert_eq!(
        (done.status, &done.body["tenantId"]),
        (StatusCode::OK, &json!("gated-login")),
        "{}",
        done.body
    );

    // A login begun without naming the tenant (so without the gate) cannot end in the gated tenant without it.
    let begin = login_begin(&w, None, None).await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    assert_gate_refused(
        "finish without a token",
        &login_finish(&w, &begin, &mut va, None).await,
        &idp,
    );
    let begin = login_begin(&w, None, None).await;
    let done = login_finish(&w, &begin, &mut va, Some(&token)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}
