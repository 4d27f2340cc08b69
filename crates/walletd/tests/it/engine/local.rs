//! The in-memory link: an engine embedded in this test process (as the native wallet embeds it) runs a real
//! issuance by the Node issuer and a presentation to the Node verifier over `Engine::connect_local`'s channels,
//! with the same holder client (`EngineClient::from_channels`) the WebSocket and SSE tests use.

use serde_json::json;
use walletd_common::http::{AuthUser, Authenticator};
use walletd_common::limits::RateLimiter;
use walletd_engine::{Engine, EngineOptions};
use walletd_testkit::holder::{issued_over, verify_all};
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};
use walletd_testkit::{LOOPBACK_V6, engine};
use walletd_wallet::Holder;
use walletd_wallet::client::{EngineClient, PresentAnswer};

/// An engine with the configuration of the engine-only test processes (egress to 127.0.0.1 and ::1 over http).
fn embedded() -> Engine {
    let yaml = engine::config().egress_allow_cidr(LOOPBACK_V6).to_yaml();
    let cfg = walletd_common::config::load_from_str(&yaml, Vec::new()).unwrap();
    let validator = walletd_common::jwt::JwtValidator::new(&cfg.jwt, None);
    Engine::new(EngineOptions {
        config: cfg.engine.clone(),
        authenticator: Authenticator::new(validator, vec![cfg.jwt.audience.clone()]),
        egress: walletd_egress::EgressClient::new(cfg.egress.clone()).unwrap(),
        allowed_origins: Vec::new(),
        trust: None,
        registry_url: None,
        type_metadata: None,
        directory: None,
        rate_limits: RateLimiter::unlimited(),
        wallet_provider: None,
        iacas: None,
    })
    .unwrap()
}

#[tokio::test]
async fn issuance_and_presentation_over_the_in_memory_link() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let e = embedded();
    let user = AuthUser {
        user_id: "native-1".into(),
        tenant_id: "default".into(),
        expires_at: 0,
    };
    let (tx, rx) = e.connect_local(user).await.unwrap();
    let mut c = EngineClient::from_channels(tx, rx);
    // The handshake's token is not looked at: the embedding program authenticated the user.
    c.handshake("-", Some(&["select_credential"])).await.unwrap();
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre", "tx_code": true})).await;
    let pin = offer["tx_code_value"].as_str().unwrap();
    let done = c
        .run_issuance(&holder, "i", json!({"offer": offer["offer"]}), Some(pin), None)
        .await
        .unwrap();
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
    let wallet = issued_over(&mut c, &issuer, &holder).await;
    let vct = format!("{}/vct/pid", issuer.url);
    let opts =
        json!({"query": "dcql", "mode": "direct_post", "scheme": "x509_san_dns", "claims": ["given_name"], "vct": vct});
    let req = verifier.request(opts).await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    c.run_presentation(&holder, &wallet, "p", start, PresentAnswer::Consent)
        .await
        .unwrap();
    assert_eq!(verifier.result(&req["id"]).await["verified"], true);
    assert_eq!(e.connections(), 1);
    drop(c);
    for _ in 0..50 {
        if e.connections() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(e.connections(), 0, "dropping the client ends the session");
}
