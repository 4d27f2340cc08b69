//! The independent Node issuer (tests/interop, `wallet_provider` option) requires `attestation` proofs and trusts
//! walletd's wallet provider: it verifies the key attestation with the provider's JWKS, its nonce, and its entry in
//! the provider's status list. The client drives it as the web client does: on `sign_request` it asks
//! `POST /wallet-provider/key-attestation/generate` for an attestation of its key with the issuer's nonce and
//! answers with it. Issuance succeeds, fails once an operator revokes the wallet instance between attestation and
//! credential request (the status list says so), and the provider refuses the revoked instance anything new.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use walletd_testkit::engine::ws_url;
use walletd_testkit::holder::verify_all;
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::{Config, TestDatabase, Walletd, admin, post};
use walletd_wallet::Holder;
use walletd_wallet::client::EngineClient;

const ADMIN: &str = "wp-interop-admin";
/// The provider's issuer identifier; the test issuer fetches its JWKS and status list from the real listener.
const PROVIDER: &str = "https://wallet-provider.test/wallet-provider";

/// What the client does between the attestation and its answer.
enum Before {
    Nothing,
    RevokeInstance,
}

/// Runs one issuance of `pid-attested`; returns the flow's last frame and the attestation route's status.
async fn issue(
    w: &Walletd,
    issuer: &NodeIssuer,
    c: &mut EngineClient,
    token: &str,
    holder: &Holder,
    id: &str,
    before: Before,
) -> (Result<Value, Value>, StatusCode) {
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-attested"})).await;
    c.send(&json!({"type":"flow_start","flow_id":id,"protocol":"oid4vci","offer":offer["offer"]}))
        .await
        .unwrap();
    let mut route_status = StatusCode::OK;
    for _ in 0..100 {
        let v = c.recv_flow(id, Duration::from_secs(20)).await.unwrap();
        match v["type"].as_str().unwrap() {
            "flow_complete" => return (Ok(v), route_status),
            "flow_error" => return (Err(v), route_status),
            "sign_request" => {
                let p = &v["params"];
                assert!(p["proof_types_supported"]["attestation"].is_object(), "{p}");
                assert!(
                    p["proof_types_supported"].get("jwt").is_none(),
                    "attestation proofs are required: {p}"
                );
                let body = json!({"jwks": [holder.public_jwk()], "openid4vci": {"nonce": p["nonce"]}});
                let r = post(w, "/wallet-provider/key-attestation/generate", &body, Some(token), &[]).await;
                route_status = r.status;
                let proofs = if r.status == StatusCode::OK {
                    if let Before::RevokeInstance = before {
                        revoke_all(w).await;
                    }
                    json!([{"proof_type": "attestation", "attestation": r.body["key_attestation"]}])
                } else {
                    json!([])
                };
                let answer = if proofs.as_array().unwrap().is_empty() {
                    json!({"type":"sign_response","flow_id":id,"message_id":v["message_id"],"error":"no attestation"})
                } else {
                    json!({"type":"sign_response","flow_id":id,"message_id":v["message_id"],"proofs":proofs})
                };
                c.send(&answer).await.unwrap();
            }
            _ => {}
        }
    }
    panic!("flow did not end");
}

async fn revoke_all(w: &Walletd) {
    let (st, listed) = admin(
        w,
        Some(ADMIN),
        Method::GET,
        "/admin/tenants/default/wallet-instances",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{listed}");
    for i in listed["wallet_instances"].as_array().unwrap() {
        let path = format!(
            "/admin/tenants/default/wallet-instances/{}/revoke",
            i["id"].as_str().unwrap()
        );
        let (st, body) = admin(w, Some(ADMIN), Method::POST, &path, None).await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn the_interop_issuer_trusts_the_provider_until_the_instance_is_revoked() {
    let db = TestDatabase::sqlite();
    let cfg = Config::new()
        .database(db.url())
        .admin_token(ADMIN)
        .egress_loopback()
        .set("engine.outbound_timeout", "5s")
        .set("wallet_provider.issuer", PROVIDER);
    let w = crate::support::start(&cfg).await;
    let issuer = NodeIssuer::start_with(json!({"wallet_provider": {
        "issuer": PROVIDER,
        "jwks_uri": format!("{}/wallet-provider/jwks", w.http_url()),
        "status_list_uri": format!("{PROVIDER}/status-list"),
        "status_list_url": format!("{}/wallet-provider/status-list", w.http_url()),
    }}));
    let token = w.token_for("22222222-2222-2222-2222-222222222222", "default");
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.handshake(&token, None).await.unwrap();
    let holder = Holder::new();

    let (done, _) = issue(&w, &issuer, &mut c, &token, &holder, "ok", Before::Nothing).await;
    let done = done.expect("issued with the provider's key attestation");
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);

    // Revoked between attestation and credential request: the issuer reads the status list and refuses.
    let (failed, _) = issue(&w, &issuer, &mut c, &token, &holder, "revoked", Before::RevokeInstance).await;
    let err = failed.expect_err("the issuer refuses a revoked key attestation");
    assert_eq!(err["error"]["code"], "CREDENTIAL_ERROR", "{err}");
    assert!(err.to_string().contains("revoked"), "the issuer says why: {err}");

    // Afterwards the provider refuses the revoked instance a new attestation.
    let (failed, route) = issue(&w, &issuer, &mut c, &token, &holder, "after", Before::Nothing).await;
    assert_eq!(route, StatusCode::FORBIDDEN);
    assert_eq!(failed.unwrap_err()["error"]["code"], "SIGN_ERROR");
}

/// Runs one issuance of `pid-attested` for a client with the `provider_attestations` feature: it answers the
/// engine's `sign_request` with ordinary jwt proofs of its key (as `answer` builds them from the params); the engine
/// obtains the key attestation from the provider of its own process. `before` runs when the request arrives.
async fn issue_by_engine(
    w: &Walletd,
    issuer: &NodeIssuer,
    c: &mut EngineClient,
    id: &str,
    answer: impl Fn(&Value) -> Value,
    before: Before,
) -> Result<Value, Value> {
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-attested"})).await;
    c.send(&json!({"type":"flow_start","flow_id":id,"protocol":"oid4vci","offer":offer["offer"]}))
        .await
        .unwrap();
    for _ in 0..100 {
        let v = c.recv_flow(id, Duration::from_secs(20)).await.unwrap();
        match v["type"].as_str().unwrap() {
            "flow_complete" => return Ok(v),
            "flow_error" => return Err(v),
            "sign_request" => {
                let p = &v["params"];
                assert_eq!(p["key_attestation"], "engine", "{p}");
                assert!(
                    p["proof_types_supported"]["jwt"].is_object(),
                    "the client signs jwt proofs: {p}"
                );
                assert!(p["nonce"].is_string(), "{p}");
                if let Before::RevokeInstance = before {
                    revoke_all(w).await;
                }
                let proofs = answer(p);
                c.send(&json!({"type":"sign_response","flow_id":id,"message_id":v["message_id"],"proofs":proofs}))
                    .await
                    .unwrap();
            }
            _ => {}
        }
    }
    panic!("flow did not end");
}

#[tokio::test]
async fn the_engine_obtains_the_key_attestation_until_the_instance_is_revoked() {
    let db = TestDatabase::sqlite();
    let cfg = Config::new()
        .database(db.url())
        .admin_token(ADMIN)
        .egress_loopback()
        .set("engine.outbound_timeout", "5s")
        .set("wallet_provider.issuer", PROVIDER);
    let w = crate::support::start(&cfg).await;
    let issuer = NodeIssuer::start_with(json!({"wallet_provider": {
        "issuer": PROVIDER,
        "jwks_uri": format!("{}/wallet-provider/jwks", w.http_url()),
        "status_list_uri": format!("{PROVIDER}/status-list"),
        "status_list_url": format!("{}/wallet-provider/status-list", w.http_url()),
    }}));
    let token = w.token_for("44444444-4444-4444-4444-444444444444", "default");
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    let hello = c.handshake(&token, Some(&["provider_attestations"])).await.unwrap();
    assert_eq!(hello["features"], json!(["provider_attestations"]), "{hello}");
    let holder = Holder::new();

    // The engine obtains the attestation of the key the client proved; the independent issuer accepts it.
    let done = issue_by_engine(&w, &issuer, &mut c, "ok", |p| holder.proofs_for(p), Before::Nothing)
        .await
        .expect("issued with the key attestation the engine obtained");
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
    let (st, listed) = admin(
        &w,
        Some(ADMIN),
        Method::GET,
        "/admin/tenants/default/wallet-instances",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(listed["wallet_instances"].as_array().unwrap().len(), 1, "{listed}");

    // A proof whose signature is not by the key it names: the engine refuses before asking the provider.
    let other = Holder::new();
    let forged = |p: &Value| {
        let jwt = other.proof_jwt(p["audience"].as_str().unwrap(), p["nonce"].as_str(), None);
        let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
        let header = json!({"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": holder.public_jwk()});
        parts[0] = walletd_jose::b64(header.to_string());
        json!([{"proof_type": "jwt", "jwt": parts.join(".")}])
    };
    let err = issue_by_engine(&w, &issuer, &mut c, "forged", forged, Before::Nothing)
        .await
        .expect_err("a key the client does not hold is not attested");
    assert_eq!(err["error"]["code"], "SIGN_ERROR", "{err}");

    // The operator revokes the wallet instance: the provider refuses the engine, the flow fails.
    let err = issue_by_engine(
        &w,
        &issuer,
        &mut c,
        "revoked",
        |p| holder.proofs_for(p),
        Before::RevokeInstance,
    )
    .await
    .expect_err("a revoked instance gets no attestation");
    assert_eq!(err["error"]["code"], "SIGN_ERROR", "{err}");
    assert_eq!(err["error"]["details"]["wallet_provider"], "instance_revoked", "{err}");

    // A client without the feature still gets the client-driven request (it calls the route itself).
    let mut web = EngineClient::connect(&ws_url(&w)).await.unwrap();
    web.handshake(&token, None).await.unwrap();
    let (failed, route) = issue(&w, &issuer, &mut web, &token, &holder, "web", Before::Nothing).await;
    assert_eq!(
        route,
        StatusCode::FORBIDDEN,
        "the revoked instance is the user's web-client instance too"
    );
    assert_eq!(failed.unwrap_err()["error"]["code"], "SIGN_ERROR");
}

/// A client's PoP for `client_attestation_pop` params, signed with its instance key.
fn pop(instance: &walletd_jose::EcKey, p: &Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jti = walletd_jose::b64(walletd_jose::EcKey::generate().public_jwk().to_value().to_string());
    let mut claims = json!({"aud": p["audience"], "iat": now, "exp": now + 60, "jti": jti});
    for (from, to) in [("challenge", "challenge"), ("client_id", "iss")] {
        if let Some(v) = p.get(from) {
            claims[to] = v.clone();
        }
    }
    let header = json!({"typ": "oauth-client-attestation-pop+jwt", "jwk": instance.public_jwk()});
    instance.sign_jwt(&header, &claims)
}

/// One issuance of `pid-attested` for a `provider_attestations` client that answers PoP requests with its instance
/// key and proof requests with the holder's keys; `revoke_at_pop` revokes every instance when the first PoP is
/// asked for. Returns the last frame and the sign requests it answered (action, params).
async fn wia_flow(
    w: &Walletd,
    issuer: &NodeIssuer,
    c: &mut EngineClient,
    (holder, instance): (&Holder, &walletd_jose::EcKey),
    id: &str,
    revoke_at_pop: bool,
) -> (Result<Value, Value>, Vec<(String, Value)>) {
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-attested"})).await;
    c.send(&json!({"type":"flow_start","flow_id":id,"protocol":"oid4vci","offer":offer["offer"]}))
        .await
        .unwrap();
    let mut actions = Vec::new();
    for _ in 0..100 {
        let v = c.recv_flow(id, Duration::from_secs(20)).await.unwrap();
        match v["type"].as_str().unwrap() {
            "flow_complete" => return (Ok(v), actions),
            "flow_error" => return (Err(v), actions),
            "sign_request" => {
                let p = &v["params"];
                let action = v["action"].as_str().unwrap().to_string();
                let answer = if action == "client_attestation_pop" {
                    if revoke_at_pop {
                        revoke_all(w).await;
                    }
                    json!({"proof_jwt": pop(instance, p)})
                } else {
                    json!({"proofs": holder.proofs_for(p)})
                };
                let mut frame = json!({"type":"sign_response","flow_id":id,"message_id":v["message_id"]});
                frame
                    .as_object_mut()
                    .unwrap()
                    .extend(answer.as_object().unwrap().clone());
                c.send(&frame).await.unwrap();
                actions.push((action, p.clone()));
            }
            _ => {}
        }
    }
    panic!("flow did not end");
}

#[tokio::test]
async fn the_engine_obtains_the_wallet_instance_attestation_and_the_key_attestation() {
    let db = TestDatabase::sqlite();
    let cfg = Config::new()
        .database(db.url())
        .admin_token(ADMIN)
        .egress_loopback()
        .set("engine.outbound_timeout", "5s")
        .set("wallet_provider.issuer", PROVIDER);
    let w = crate::support::start(&cfg).await;
    let issuer = NodeIssuer::start_with(json!({
        "wallet_provider": {
            "issuer": PROVIDER,
            "jwks_uri": format!("{}/wallet-provider/jwks", w.http_url()),
            "status_list_uri": format!("{PROVIDER}/status-list"),
            "status_list_url": format!("{}/wallet-provider/status-list", w.http_url()),
        },
        "client_attestation": {"wallet_provider": true},
    }));
    let token = w.token_for("66666666-6666-6666-6666-666666666666", "default");
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    c.handshake(&token, Some(&["provider_attestations"])).await.unwrap();
    let (holder, instance) = (Holder::new(), walletd_jose::EcKey::generate());

    let (done, actions) = wia_flow(&w, &issuer, &mut c, (&holder, &instance), "wia", false).await;
    let done = done.expect("issued with the engine's WIA and key attestation");
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        ["client_attestation_pop", "client_attestation_pop", "generate_proof"]
    );
    assert_eq!(
        actions[0].1["audience"], PROVIDER,
        "the first PoP is for the wallet provider"
    );
    assert!(actions[0].1["challenge"].is_string());
    assert_eq!(
        actions[1].1["audience"],
        issuer.url.as_str(),
        "the second PoP is for the authorization server"
    );
    let requests = reqwest::get(format!("{}/test/token_requests", issuer.url))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(requests[0]["client_auth"], "attestation", "{requests}");
    // One instance (the instance key's), holding both attestations of the flow.
    let (_, listed) = admin(
        &w,
        Some(ADMIN),
        Method::GET,
        "/admin/tenants/default/wallet-instances",
        None,
    )
    .await;
    assert_eq!(listed["wallet_instances"].as_array().unwrap().len(), 1, "{listed}");

    // Revoked when the client is asked for its PoP: the provider refuses the WIA, the flow fails.
    let (failed, _) = wia_flow(&w, &issuer, &mut c, (&holder, &instance), "revoked", true).await;
    let err = failed.expect_err("a revoked instance gets no WIA");
    assert_eq!(err["error"]["code"], "SIGN_ERROR", "{err}");
    assert_eq!(err["error"]["details"]["wallet_provider"], "instance_revoked", "{err}");
}
