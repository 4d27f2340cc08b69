//! The split topology end to end (deploy/local/up: two auth, two storage, two engine replicas, one registry, one
//! backend, PostgreSQL, a private Redis, nginx): what nginx routes and hides, a ceremony begun on one auth replica
//! and finished on the other, blobs written on one storage replica and read on the other, issuance and
//! presentation through the public WebSocket, a rolling restart of the engine under load (rolling.rs), an auth
//! replica killed mid-ceremony, one rate-limit budget across replicas and per-process limits during a Redis outage
//! (limits.rs). One topology for all of it: starting one costs seconds.

use std::time::{Duration, Instant};

use serde_json::json;
use walletd_testkit::{Target, ceremony, get, http_client, send};
use walletd_wallet::Holder;
use walletd_wallet::client::{EngineClient, PresentAnswer};
use walletd_wallet::present::StoredCredential;

use super::topology_support::{Site, get_blob, issue, put_blob, register, session, site};
use super::{limits, rolling};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_topology_end_to_end() {
    let site = site().await;
    routing(&site).await;
    let token = ceremonies_cross_replicas(&site).await;
    storage_cross_replicas(&site, &token).await;
    issuance_and_presentation(&site, &token).await;
    sse_sessions_stay_on_their_replica(&site, &token).await;
    rolling::engine_restart_under_load(&site, &token).await;
    auth_replica_killed_mid_ceremony(&site).await;
    limits::create_limited_tenant(&site).await;
    limits::shared_across_replicas(&site).await;
    redis_outage(&site, &token).await;
    // deploy/local/down stops every process up and the restarts started, Redis included (whose command line
    // no longer names the topology's directory once it runs).
    let left = tokio::task::block_in_place(|| site.topo.down());
    assert!(left.is_empty(), "still running after deploy/local/down: {left:?}");
}

/// nginx answers /healthz itself, routes each path to its role, and exposes neither the admin API nor metrics.
async fn routing(site: &Site) {
    let public = site.topo.public();
    assert_eq!(get(&public, "/healthz", None).await.status, 200);
    let status = get(&public, "/status", None).await;
    assert_eq!(status.status, 200);
    assert_eq!(
        status.body["roles"],
        json!(["backend"]),
        "/status is the backend's: {}",
        status.body
    );
    // ... advertising the deployment's roles (server.public_roles), so the web client uses the engine's WebSocket.
    let capabilities = &status.body["capabilities"];
    for wanted in ["websocket", "webauthn", "storage", "vctm-registry"] {
        assert!(
            capabilities.as_array().unwrap().iter().any(|c| c == wanted),
            "{wanted} missing from {capabilities}"
        );
    }
    let jwks = get(&public, "/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200);
    assert!(!jwks.body["keys"].as_array().unwrap().is_empty());
    // The tenant alias reaches the same role.
    assert_eq!(get(&public, "/t/default/helper/auth-check", None).await.status, 200);
    // ... except the IACA list, which is the backend's (it has the tenant's issuers and egress).
    let iacas = get(&public, "/t/default/helper/iaca-list", None).await;
    assert_eq!(iacas.status, 200, "{}", iacas.body);
    assert!(
        iacas.body["iaca_list"].is_array() && iacas.body["unavailable"].is_array(),
        "{}",
        iacas.body
    );
    for hidden in ["/admin/status", "/admin/tenants", "/metrics", "/readyz", "/nothing"] {
        let r = get(&public, hidden, None).await;
        assert_eq!(r.status, 404, "{hidden} is reachable through nginx");
        assert_eq!(r.body["error"], "not_found", "{hidden}");
    }
    // The admin API answers on the backend's own listener only.
    let admin = send(
        http_client()
            .get(format!("{}/admin/tenants", site.topo.admin_url()))
            .bearer_auth(site.topo.admin_token()),
    )
    .await;
    assert_eq!(admin.status, 200, "{}", admin.body);
}

/// Registration begun on auth-1 and finished on auth-2; login begun on auth-2 and finished on auth-1; both
/// through nginx too. Returns an access token of the user.
async fn ceremonies_cross_replicas(site: &Site) -> String {
    let (a1, a2) = (site.topo.instance("auth-1"), site.topo.instance("auth-2"));
    let mut user = register(&site.topo.public()).await;
    let r = ceremony::login(&site.topo.public(), &mut user.passkey, None).await;
    assert_eq!(r.status, 200, "login through nginx: {}", r.body);

    let mut va = walletd_testkit::authenticator::VirtualAuthenticator::new();
    let (challenge, credential) = ceremony::register_credential(&a1, &mut va, None).await;
    let r = ceremony::register_finish(&a2, &challenge, &credential).await;
    assert_eq!(
        r.status, 200,
        "register begun on auth-1, finished on auth-2: {}",
        r.body
    );
    let (challenge, credential) = ceremony::login_credential(&a2, &mut va, None).await;
    let r = walletd_testkit::post(
        &a1,
        "/user/login-webauthn-finish",
        &json!({"challengeId": challenge, "credential": credential}),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "login begun on auth-2, finished on auth-1: {}", r.body);
    // A token of one replica is good at the other (one key ring in the database).
    let token = r.body["appToken"].as_str().unwrap().to_string();
    for auth in [&a1, &a2] {
        let info = get(auth, "/user/session/account-info", Some(&token)).await;
        assert_eq!(info.status, 200, "{}", info.body);
    }
    token
}

/// A blob written on storage-1 is read on storage-2 (and through nginx), and a stale write on the other replica
/// is refused by version.
async fn storage_cross_replicas(site: &Site, token: &str) {
    let (s1, s2) = (site.topo.instance("storage-1"), site.topo.instance("storage-2"));
    let w = put_blob(&s1, token, "cross-1", b"written on storage-1").await;
    assert_eq!(w.status, 201, "{}", w.body);
    let r = get_blob(&s2, token, "cross-1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["version"], w.body["version"]);
    assert_eq!(r.body["data"], walletd_testkit::jwt::b64u(b"written on storage-1"));
    let r = get_blob(&site.topo.public(), token, "cross-1").await;
    assert_eq!(r.body["version"], w.body["version"]);
    // Compare-and-swap across replicas: the version storage-1 handed out is the one storage-2 checks.
    let stale = send(
        http_client()
            .put(format!("{}/storage/credentials/cross-1", s2.0))
            .bearer_auth(token)
            .header("If-Match", "\"999\"")
            .json(&json!({"data": walletd_testkit::jwt::b64u(b"stale")})),
    )
    .await;
    assert_eq!(stale.status, 412, "{}", stale.body);
}

/// Issuance from the Node issuer and presentation to the Node verifier, through nginx's WebSocket route, with
/// the access token the auth role issued (checked by the engine against the JWKS it fetched through nginx).
async fn issuance_and_presentation(site: &Site, token: &str) {
    let holder = Holder::new();
    let mut c = session(&site.topo.ws_url(), token)
        .await
        .expect("session through nginx");
    let done = issue(&mut c, &site.issuer.url, &holder, "issue-1")
        .await
        .expect("issuance");
    let credential = done["credentials"][0]["credential"].as_str().unwrap();
    let wallet = vec![StoredCredential::new("cred-1", credential)];
    let req = site
        .verifier
        .request(
            json!({"query": "dcql", "mode": "direct_post", "scheme": "x509_san_dns", "claims": ["given_name"],
            "vct": format!("{}/vct/pid", site.issuer.url)}),
        )
        .await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    c.run_presentation(&holder, &wallet, "present-1", start, PresentAnswer::Consent)
        .await
        .expect("presentation");
    let verdict = site.verifier.result(&req["id"]).await;
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["disclosed"], json!(["given_name"]));
}

/// API v2 over SSE through nginx with two engine replicas: the session, stream and message requests of a client
/// reach the replica that holds the session (deploy/routes.tsv asks for client-address affinity). Without it nginx
/// alternates replicas and the stream or a message lands on the other one (404), so several sessions in a row
/// each running a flow would fail.
async fn sse_sessions_stay_on_their_replica(site: &Site, token: &str) {
    let holder = Holder::new();
    for n in 0..4 {
        let mut c = EngineClient::connect_sse(&site.topo.url, token, None)
            .await
            .unwrap_or_else(|e| panic!("SSE session {n} through nginx: {e}"));
        c.handshake(token, None).await.expect("SSE handshake");
        let done = issue(&mut c, &site.issuer.url, &holder, &format!("sse-{n}"))
            .await
            .unwrap_or_else(|e| panic!("issuance over SSE session {n}: {e}"));
        assert!(done["credentials"][0]["credential"].is_string(), "{done}");
    }
}

/// A ceremony whose replica dies between begin and finish is finished by the other: challenges are in the
/// database, and nginx passes the finish to the live replica.
async fn auth_replica_killed_mid_ceremony(site: &Site) {
    let t = &site.topo;
    for (begin_on, killed) in [("auth-1", "auth-1"), ("auth-2", "auth-2")] {
        let mut va = walletd_testkit::authenticator::VirtualAuthenticator::new();
        let (challenge, credential) = ceremony::register_credential(&t.instance(begin_on), &mut va, None).await;
        t.stop(killed, "KILL", Duration::from_secs(5));
        let mut r = ceremony::register_finish(&t.public(), &challenge, &credential).await;
        if r.status == 502 {
            // nginx does not replay a POST it may already have written to the dead replica (a pooled keepalive
            // connection whose peer was just killed): the client sees one 502 and retries. The retry is safe
            // because the challenge is single-use: a finish that had reached a replica could not succeed twice.
            r = ceremony::register_finish(&t.public(), &challenge, &credential).await;
        }
        assert_eq!(r.status, 200, "registration begun on the killed {killed}: {}", r.body);
        // And the new passkey logs in (through nginx, on the survivor).
        let r = ceremony::login(&t.public(), &mut va, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        tokio::task::block_in_place(|| t.start(killed));
    }
}

/// Redis stops: every role keeps answering through nginx (nothing but shared caches and counters live there), rate
/// limits count per process, and every role is ready again once Redis is back.
async fn redis_outage(site: &Site, token: &str) {
    let t = &site.topo;
    tokio::task::block_in_place(|| t.stop("redis", "TERM", Duration::from_secs(10)));
    everything_answers(site, token, "redis down").await;
    limits::per_process_while_redis_is_down(site).await;
    tokio::task::block_in_place(|| t.start("redis"));
    let deadline = Instant::now() + Duration::from_secs(15);
    for name in ["auth-1", "storage-1", "engine-1", "registry", "backend"] {
        while get(&t.instance(name), "/readyz", None).await.status != 200 {
            assert!(Instant::now() < deadline, "{name} not ready after Redis came back");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    everything_answers(site, token, "redis back").await;
}

/// Registration and login, a blob write and read, an issuance, the registry and the backend, all through nginx.
async fn everything_answers(site: &Site, token: &str, when: &str) {
    let public: Target = site.topo.public();
    let mut user = register(&public).await;
    let r = ceremony::login(&public, &mut user.passkey, None).await;
    assert_eq!(r.status, 200, "{when}: login {}", r.body);
    let id = format!("outage-{}", when.replace(' ', "-"));
    let w = put_blob(&public, &user.token, &id, b"during").await;
    assert!(w.status.is_success(), "{when}: blob write {} {}", w.status, w.body);
    assert_eq!(get_blob(&public, &user.token, &id).await.status, 200, "{when}");
    let mut c = session(&site.topo.ws_url(), token).await.expect("session");
    issue(&mut c, &site.issuer.url, &Holder::new(), "outage")
        .await
        .unwrap_or_else(|e| panic!("{when}: issuance {e}"));
    let creds = get(&public, "/credentials", None).await;
    assert_eq!(creds.status, 200, "{when}: registry {}", creds.body);
    assert_eq!(get(&public, "/status", None).await.status, 200, "{when}: backend");
}
