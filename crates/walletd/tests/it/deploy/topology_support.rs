//! What the topology suite shares: the topology with its peers (Node issuer and verifier, a PDP), a signed-in
//! user, blob writes and reads, and one issuance through the public WebSocket.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_testkit::authenticator::VirtualAuthenticator;
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};
use walletd_testkit::topology::Topology;
use walletd_testkit::{HttpTarget, Resp, ceremony, http_client, jwt::b64u, pdp, send};
use walletd_wallet::Holder;
use walletd_wallet::client::{ClientError, EngineClient};

/// The split topology, started with the test's configuration in the environment, and the peers it talks to.
pub struct Site {
    pub topo: Topology,
    pub issuer: NodeIssuer,
    pub verifier: NodeVerifier,
}

/// Starts the peers and `deploy/local/up`. The configuration the test needs reaches every role as `WALLET_*`
/// variables: the RP origin of the virtual browser, egress holes for the loopback peers, the trust endpoint,
/// short drain and outbound deadlines (CI has 2 cores).
pub async fn site() -> Site {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let (pdp_url, _seen) = pdp::deciding(true).await;
    let origins = format!("[\"{}\"]", ceremony::ORIGIN);
    let topo = tokio::task::spawn_blocking(move || {
        Topology::up(
            env!("CARGO_BIN_EXE_walletd"),
            &[
                ("WALLET_WEBAUTHN__RP_ORIGINS", origins.as_str()),
                ("WALLET_EGRESS__ALLOW_HTTP", "true"),
                ("WALLET_EGRESS__ALLOWED_CIDRS", "[\"127.0.0.1/32\", \"::1/128\"]"),
                ("WALLET_TRUST__DEFAULT_ENDPOINT", pdp_url.as_str()),
                ("WALLET_ENGINE__OUTBOUND_TIMEOUT", "5s"),
                ("WALLET_SERVER__SHUTDOWN_GRACE", "5s"),
            ],
        )
    })
    .await
    .unwrap();
    Site { topo, issuer, verifier }
}

/// A registered user: the passkey and the access token of the registration.
pub struct User {
    pub passkey: VirtualAuthenticator,
    pub token: String,
}

/// Registers a user through `at`.
pub async fn register(at: &impl HttpTarget) -> User {
    let mut passkey = VirtualAuthenticator::new();
    let r = ceremony::register(at, &mut passkey, None, b"keystore").await;
    assert_eq!(r.status, 200, "register: {}", r.body);
    let token = r.body["appToken"].as_str().unwrap().to_string();
    User { passkey, token }
}

/// `PUT /storage/credentials/{id}` with `data`.
pub async fn put_blob(at: &impl HttpTarget, token: &str, id: &str, data: &[u8]) -> Resp {
    send(
        http_client()
            .put(format!("{}/storage/credentials/{id}", at.base_url()))
            .bearer_auth(token)
            .json(&json!({"data": b64u(data)})),
    )
    .await
}

/// `GET /storage/credentials/{id}`.
pub async fn get_blob(at: &impl HttpTarget, token: &str, id: &str) -> Resp {
    send(
        http_client()
            .get(format!("{}/storage/credentials/{id}", at.base_url()))
            .bearer_auth(token),
    )
    .await
}

/// A handshaken API v2 session at `ws_url` with the user's access token.
pub async fn session(ws_url: &str, token: &str) -> Result<EngineClient, ClientError> {
    let mut c = EngineClient::connect(ws_url).await?;
    c.handshake(token, None).await?;
    Ok(c)
}

/// A fresh pre-authorized offer of the Node issuer at `issuer_url` (its test hook).
pub async fn offer(issuer_url: &str) -> Value {
    let r = send(
        http_client()
            .post(format!("{issuer_url}/test/offer"))
            .json(&json!({"grant": "pre"})),
    )
    .await;
    assert_eq!(r.status, 200, "offer: {}", r.body);
    r.body
}

/// One pre-authorized issuance of the interop PID from the issuer at `issuer_url` over `c`, bounded in time.
pub async fn issue(c: &mut EngineClient, issuer_url: &str, holder: &Holder, id: &str) -> Result<Value, ClientError> {
    let offer = offer(issuer_url).await;
    match tokio::time::timeout(
        Duration::from_secs(30),
        c.run_issuance(holder, id, json!({"offer": offer["offer"]}), None, None),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => panic!("issuance flow {id} hung for 30 s"),
    }
}
