//! OID4VCI through a real engine process against the Node issuer: batch issuance, encrypted credential responses,
//! signed metadata, issuer trust (server-side PDP and client-mediated), configuration selection; upgrade refusals.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_wallet::Holder;
use walletd_wallet::client::EngineClient;

use super::engine;
use super::engine_with_pdp;
use walletd_testkit::engine::ws_url;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::verify_all;
use walletd_testkit::holder::{finish_collecting, run_collecting};
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::pdp::deciding as pdp;

#[tokio::test]
async fn batch_of_3() {
    let issuer = NodeIssuer::start();
    // The issuer allows 5 per request; the engine's cap of 3 wins.
    let w = engine("  max_batch_size: 3\n").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "batch", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    assert_eq!(verify_all(&issuer, &holder, &done).await, 3, "{done}");
    let formats: Vec<_> = done["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["format"])
        .collect();
    assert!(formats.iter().all(|f| *f == "dc+sd-jwt"));
}

#[tokio::test]
async fn batch_default_is_one_credential() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "one", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    assert_eq!(verify_all(&issuer, &holder, &done).await, 1);
}

#[tokio::test]
async fn encrypted_credential_response() {
    // The issuer requires encryption and answers with a JWE (jose, ECDH-ES + A256GCM chosen by the engine).
    let issuer = NodeIssuer::start_with(json!({"encryption": true}));
    let w = engine("  max_batch_size: 2\n").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "enc", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    assert_eq!(verify_all(&issuer, &holder, &done).await, 2);
}

#[tokio::test]
async fn signed_metadata_is_verified_with_its_x5c_leaf() {
    let issuer = NodeIssuer::start_with(json!({"signed_metadata": true}));
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, steps) = run_collecting(&mut c, &holder, "sm", &offer["offer"]).await;
    let done = r.unwrap();
    verify_all(&issuer, &holder, &done).await;
    let fetched = steps.iter().find(|s| s["step"] == "metadata_fetched").unwrap();
    assert_eq!(fetched["payload"]["validated"], true, "{fetched}");

    // A signature that does not verify with the certificate's key fails the flow.
    let bad = NodeIssuer::start_with(json!({"signed_metadata": true, "bad_metadata_signature": true}));
    let offer = bad.offer(json!({"grant": "pre"})).await;
    let (r, _) = run_collecting(&mut c, &holder, "bad", &offer["offer"]).await;
    let e = r.unwrap_err();
    assert_eq!(e["error"]["code"], "METADATA_FETCH_ERROR", "{e}");
}

#[tokio::test]
async fn unsigned_metadata_is_not_validated() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, steps) = run_collecting(&mut c, &Holder::new(), "u", &offer["offer"]).await;
    r.unwrap();
    let fetched = steps.iter().find(|s| s["step"] == "metadata_fetched").unwrap();
    assert_eq!(fetched["payload"]["validated"], false);
}

#[tokio::test]
async fn pdp_trusted_with_x5c_key_material() {
    let issuer = NodeIssuer::start_with(json!({"signed_metadata": true}));
    let (url, seen) = pdp(true).await;
    let w = engine_with_pdp(&url, "").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, steps) = run_collecting(&mut c, &holder, "t", &offer["offer"]).await;
    r.unwrap();
    let t = steps.iter().find(|s| s["step"] == "trust_evaluated").unwrap();
    assert_eq!(t["payload"]["trusted"], true, "{t}");
    let req = seen.lock().unwrap()[0].clone();
    assert_eq!(req["resource"]["type"], "x5c", "{req}");
    assert_eq!(req["resource"]["id"], issuer.url, "{req}");
    assert!(
        req["resource"]["key"][0].as_str().is_some_and(|k| k.starts_with("MII")),
        "{req}"
    );
}

#[tokio::test]
async fn pdp_untrusted_ends_with_untrusted_issuer() {
    let issuer = NodeIssuer::start();
    let (url, _) = pdp(false).await;
    let w = engine_with_pdp(&url, "").await;
    let mut c = connected(&w, None).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, steps) = run_collecting(&mut c, &Holder::new(), "u", &offer["offer"]).await;
    let e = r.unwrap_err();
    assert_eq!(e["error"]["code"], "UNTRUSTED_ISSUER", "{e}");
    let t = steps.iter().find(|s| s["step"] == "trust_evaluated").unwrap();
    assert_eq!(t["payload"]["trusted"], false);
}

#[tokio::test]
async fn pdp_down_fails_closed() {
    let issuer = NodeIssuer::start();
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let w = engine_with_pdp(&url, "").await;
    let mut c = connected(&w, None).await;
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (r, _) = run_collecting(&mut c, &Holder::new(), "d", &offer["offer"]).await;
    let e = r.unwrap_err();
    assert_eq!(e["error"]["code"], "UNTRUSTED_ISSUER", "{e}");
}

#[tokio::test]
async fn client_mediated_trust() {
    let issuer = NodeIssuer::start();
    let w = engine("  client_mediated_trust: true\n").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    for (id, trusted) in [("yes", true), ("no", false)] {
        let offer = issuer.offer(json!({"grant": "pre"})).await;
        c.send(&json!({"type":"flow_start","flow_id":id,"protocol":"oid4vci","offer":offer["offer"]}))
            .await
            .unwrap();
        let prompt = loop {
            let v = c.recv_flow(id, Duration::from_secs(20)).await.unwrap();
            assert_eq!(v["type"], "flow_progress", "{v}");
            if v["step"] == "evaluating_trust" {
                break v;
            }
        };
        let p = &prompt["payload"];
        assert_eq!(p["trust_evaluation_required"], true);
        assert_eq!(p["request"]["subject_id"], issuer.url);
        assert_eq!(p["request"]["subject_type"], "credential_issuer");
        c.send(&json!({"type":"flow_action","flow_id":id,"action":"trust_result","payload":{"trusted":trusted,"reason":"user said so"}}))
            .await
            .unwrap();
        let (r, _) = finish(&mut c, &holder, id).await;
        if trusted {
            r.unwrap();
        } else {
            assert_eq!(r.unwrap_err()["error"]["code"], "UNTRUSTED_ISSUER");
        }
    }
}

/// Follows flow `id` to its end (30 s per frame: these flows wait on a PDP).
async fn finish(c: &mut EngineClient, holder: &Holder, id: &str) -> (Result<Value, Value>, Vec<Value>) {
    finish_collecting(c, holder, id, Duration::from_secs(30)).await
}

#[tokio::test]
async fn awaiting_selection_for_select_credential_clients() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, Some(&["select_credential"])).await;
    let holder = Holder::new();
    let offer = issuer
        .offer(json!({"grant": "pre", "config_ids": ["pid", "pid-deferred"]}))
        .await;
    c.send(&json!({"type":"flow_start","flow_id":"sel","protocol":"oid4vci","offer":offer["offer"]}))
        .await
        .unwrap();
    let prompt = loop {
        let v = c.recv_flow("sel", Duration::from_secs(20)).await.unwrap();
        assert_eq!(v["type"], "flow_progress", "{v}");
        if v["step"] == "awaiting_selection" {
            break v;
        }
    };
    let list = prompt["payload"]["available_credentials"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], "pid");
    assert_eq!(list[0]["format"], "dc+sd-jwt");
    c.send(&json!({"type":"flow_action","flow_id":"sel","action":"select_credential","payload":{"credential_configuration_id":"pid"}}))
        .await
        .unwrap();
    let (r, _) = finish(&mut c, &holder, "sel").await;
    assert_eq!(r.unwrap()["selected_credential_configuration_id"], "pid");

    // A web-profile client gets the first offered id without a prompt.
    let mut web = connected(&w, None).await;
    let offer = issuer
        .offer(json!({"grant": "pre", "config_ids": ["pid", "pid-deferred"]}))
        .await;
    let (r, steps) = run_collecting(&mut web, &holder, "web", &offer["offer"]).await;
    assert_eq!(r.unwrap()["selected_credential_configuration_id"], "pid");
    assert!(steps.iter().all(|s| s["step"] != "awaiting_selection"));
}

#[tokio::test]
async fn origin_refused_and_connection_cap_at_upgrade() {
    let w = crate::support::start(
        &walletd_testkit::Config::new()
            .mode("engine")
            .jwt_secret(walletd_testkit::engine::SECRET)
            .yaml("server:\n  cors_origins: [\"https://wallet.example\"]\nengine:\n  max_connections: 1\n"),
    )
    .await;
    let url = ws_url(&w);
    let with_origin = |o: &str| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut r = url.clone().into_client_request().unwrap();
        r.headers_mut().insert("origin", o.parse().unwrap());
        r
    };
    let status = |e: tokio_tungstenite::tungstenite::Error| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => r.status().as_u16(),
        other => panic!("{other}"),
    };
    let e = tokio_tungstenite::connect_async(with_origin("https://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(status(e), 403);
    // The allowed origin connects; with it open, the cap (1) answers 503.
    let (first, _) = tokio_tungstenite::connect_async(with_origin("https://wallet.example"))
        .await
        .unwrap();
    let e = tokio_tungstenite::connect_async(url.clone()).await.unwrap_err();
    assert_eq!(status(e), 503);
    drop(first);
}

#[tokio::test]
async fn handshake_timeout_closes_the_socket() {
    let w = engine("  handshake_timeout: 1s\n").await;
    let mut c = EngineClient::connect(&ws_url(&w)).await.unwrap();
    let started = std::time::Instant::now();
    // Ends (close frame or EOF) after the 1 s handshake timeout, well before the 5 s wait.
    let _ = c.recv_close(Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}
