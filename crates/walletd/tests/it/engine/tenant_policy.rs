//! What the engine enforces of a tenant, through the real binary: in `--mode=all` it asks the registry role of its
//! own process for type metadata (no `registry.url`); it refuses a protocol outside the tenant's
//! `allowed_protocols` and a disabled tenant's tokens (at the handshake and, mid-session, at the next flow start);
//! and an engine-only process reads all of that from `tenants.source` (read-only) as a separate backend process
//! writes it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use walletd_testkit::engine::{SECRET, ws_url};
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::{Config, TestDatabase, Walletd, admin, http_client};
use walletd_wallet::Holder;
use walletd_wallet::client::EngineClient;

use super::all_mode;

const T: Duration = Duration::from_secs(15);
const ADMIN_TOKEN: &str = "admin-token-for-engine-tenant-policy-01";

/// A handshaken session of `token`.
async fn session(w: &Walletd, token: &str) -> EngineClient {
    let mut c = EngineClient::connect(&ws_url(w)).await.unwrap();
    c.handshake(token, None).await.unwrap();
    c
}

/// Starts a flow and returns its terminal frame (progress frames skipped).
async fn terminal(c: &mut EngineClient, start: Value) -> Value {
    let id = start["flow_id"].as_str().unwrap().to_string();
    c.send(&start).await.unwrap();
    for _ in 0..50 {
        let v = c.recv_flow(&id, T).await.unwrap();
        if v["type"] == "flow_complete" || v["type"] == "flow_error" {
            return v;
        }
    }
    panic!("no terminal frame for {id}");
}

fn oid4vp_start(id: &str) -> Value {
    json!({"type": "flow_start", "flow_id": id, "protocol": "oid4vp",
           "request_uri": "openid4vp://?client_id=x&request_uri=https%3A%2F%2Fverifier.invalid%2Fr"})
}

/// A handshake that must be refused: the `error` frame's code and the close code.
async fn refused_handshake(w: &Walletd, token: &str) -> (Value, Option<u16>) {
    let mut c = EngineClient::connect(&ws_url(w)).await.unwrap();
    c.send(&json!({"type": "handshake", "app_token": token})).await.unwrap();
    let e = c.recv(T).await.unwrap();
    (e, c.recv_close(T).await)
}

#[tokio::test]
async fn all_mode_engine_asks_its_own_registry_for_type_metadata() {
    let issuer = NodeIssuer::start();
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;
    // The issuer's credential type, registered with this process's registry role (no registry.url anywhere).
    let vct = format!("{}/vct/pid", issuer.url);
    let r = http_client()
        .post(format!("{}/vctm", w.http_url()))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"vct": vct, "name": "Interop PID type"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let mut c = session(&w, &w.token_for("holder-1", "default")).await;
    let done = terminal(
        &mut c,
        json!({"type": "flow_start", "flow_id": "t", "protocol": "vctm", "vct": vct}),
    )
    .await;
    assert_eq!(done["type"], "flow_complete", "{done}");
    assert_eq!(done["type_metadata"]["name"], "Interop PID type", "{done}");

    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let done = c
        .run_issuance(&holder, "issue", json!({"offer": offer["offer"]}), None, None)
        .await
        .unwrap();
    assert_eq!(
        done["credentials"][0]["type_metadata"]["name"], "Interop PID type",
        "{done}"
    );
}

#[tokio::test]
async fn allowed_protocols_and_disabled_tenants_are_enforced() {
    let db = TestDatabase::sqlite();
    let w = all_mode(&db, ADMIN_TOKEN).await;
    let (s, body) = admin(
        &w,
        Some(ADMIN_TOKEN),
        Method::POST,
        "/admin/tenants",
        Some(json!({"id": "acme", "name": "Acme", "allowed_protocols": ["oid4vci"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let token = w.token_for("user-of-acme", "acme");
    let mut c = session(&w, &token).await;

    let e = terminal(&mut c, oid4vp_start("vp")).await;
    assert_eq!(e["type"], "flow_error", "{e}");
    assert_eq!(e["error"]["code"], "FORBIDDEN", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("oid4vp"), "{e}");
    // VCTM (a read of public type metadata) is not a protocol a tenant allows or not: it runs (and fails on its own).
    let e = terminal(
        &mut c,
        json!({"type": "flow_start", "flow_id": "m", "protocol": "vctm", "vct": "urn:unknown:type"}),
    )
    .await;
    assert_eq!(e["error"]["code"], "METADATA_FETCH_ERROR", "{e}");
    // The default tenant allows everything: its oid4vp flow gets past the policy (and fails at the fake request).
    let mut other = session(&w, &w.token_for("user-of-default", "default")).await;
    let e = terminal(&mut other, oid4vp_start("vp")).await;
    assert_ne!(e["error"]["code"], "FORBIDDEN", "{e}");

    // Disabled while the session is open: the next flow start is refused and the socket closed as for a bad token.
    let (s, body) = admin(
        &w,
        Some(ADMIN_TOKEN),
        Method::PUT,
        "/admin/tenants/acme",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    c.send(&json!({"type": "flow_start", "flow_id": "late", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    let e = c.recv_flow("late", T).await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["error"]["code"].as_str()),
        (Some("flow_error"), Some("FORBIDDEN")),
        "{e}"
    );
    assert_eq!(c.recv_close(T).await, Some(4001));
    // And a new session with the same token is refused at the handshake.
    let (e, close) = refused_handshake(&w, &token).await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("FORBIDDEN")),
        "{e}"
    );
    assert_eq!(close, Some(4001));
}

walletd_testkit::on_both_databases!(engine_alone_reads_tenants_written_by_a_backend_process);

async fn engine_alone_reads_tenants_written_by_a_backend_process(db: TestDatabase) {
    let backend = crate::support::start(
        &Config::new()
            .mode("backend")
            .database(db.url())
            .jwt_secret(SECRET)
            .admin_token(ADMIN_TOKEN),
    )
    .await;
    let engine = crate::support::start(
        &walletd_testkit::engine::config().yaml(&format!("tenants:\n  source: \"{}\"\n", db.url())),
    )
    .await;
    let (s, body) = admin(
        &backend,
        Some(ADMIN_TOKEN),
        Method::POST,
        "/admin/tenants",
        Some(json!({"id": "acme", "name": "Acme", "allowed_protocols": ["oid4vci"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let token = |tenant: &str| walletd_testkit::jwt::hs256_access(SECRET, tenant, "u1", 600);

    // The engine sees the tenant the backend just wrote, and its allowed protocols.
    let mut c = session(&engine, &token("acme")).await;
    let e = terminal(&mut c, oid4vp_start("vp")).await;
    assert_eq!(e["error"]["code"], "FORBIDDEN", "{e}");
    // A tenant nobody created is refused.
    let (e, close) = refused_handshake(&engine, &token("ghost")).await;
    assert_eq!((e["code"].as_str(), close), (Some("FORBIDDEN"), Some(4001)), "{e}");
    // Disabled by the backend: the engine refuses the next flow start and new sessions.
    let (s, body) = admin(
        &backend,
        Some(ADMIN_TOKEN),
        Method::PUT,
        "/admin/tenants/acme",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    c.send(&json!({"type": "flow_start", "flow_id": "late", "protocol": "vctm", "vct": "urn:x"}))
        .await
        .unwrap();
    let e = c.recv_flow("late", T).await.unwrap();
    assert_eq!(e["error"]["code"], "FORBIDDEN", "{e}");
    assert_eq!(c.recv_close(T).await, Some(4001));
    let (e, close) = refused_handshake(&engine, &token("acme")).await;
    assert_eq!((e["code"].as_str(), close), (Some("FORBIDDEN"), Some(4001)), "{e}");
}

#[tokio::test]
async fn flow_starts_and_connections_spend_the_users_budget() {
    let w = crate::support::start(
        &walletd_testkit::engine::config()
            .limit("rate_limits.engine_flows_per_user", 2)
            .limit("rate_limits.engine_connections_per_user", 2),
    )
    .await;
    let token = walletd_testkit::engine::token("busy", 600);
    let mut c = session(&w, &token).await;
    let _second = session(&w, &token).await;
    let (e, close) = refused_handshake(&w, &token).await;
    assert_eq!(
        (e["code"].as_str(), close),
        (Some("TOO_MANY_REQUESTS"), Some(1008)),
        "{e}"
    );
    // Another user has budgets of its own.
    let mut other = session(&w, &walletd_testkit::engine::token("calm", 600)).await;

    let vctm = |id: &str| json!({"type": "flow_start", "flow_id": id, "protocol": "vctm", "vct": "urn:x"});
    for id in ["a", "b"] {
        let e = terminal(&mut c, vctm(id)).await;
        assert_eq!(e["error"]["code"], "METADATA_FETCH_ERROR", "{e}");
    }
    let e = terminal(&mut c, vctm("c")).await;
    assert_eq!(e["error"]["code"], "TOO_MANY_REQUESTS", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("retry in"), "{e}");
    let e = terminal(&mut other, vctm("a")).await;
    assert_eq!(e["error"]["code"], "METADATA_FETCH_ERROR", "{e}");
}
