//! A rolling restart of the engine replicas while holders run issuance flows through nginx and a writer stores
//! blobs: each replica in turn gets SIGTERM, closes its sockets with 1001, exits, and starts again on its port.
//! Holders whose socket closed reconnect (nginx sends them to the live replica) and restart their flow. Proven:
//! every socket that closed did so with 1001, no flow hung or failed, every flow a holder started ended with a
//! terminal frame or a 1001 close, the writer saw no 5xx and every acknowledged write is there afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use walletd_testkit::topology::Topology;
use walletd_wallet::Holder;
use walletd_wallet::client::{ClientError, EngineClient};

use walletd_testkit::http_client;

use super::topology_support::{Site, get_blob, issue, offer, register, session};

/// Time between two writes of the writer: under five writes a second, so the default budget of 300 a minute lasts
/// a restart phase of about a minute (the phase takes seconds).
const WRITE_PACE: Duration = Duration::from_millis(200);

/// What one holder saw.
#[derive(Debug, Default)]
struct Tally {
    completed: u32,
    closed_1001: u32,
    /// Anything else: a flow_error, another close code, a transport failure.
    failures: Vec<String>,
}

pub async fn engine_restart_under_load(site: &Site, token: &str) {
    let stop = Arc::new(AtomicBool::new(false));
    let site_ws = site.topo.ws_url();

    // Holders through nginx, each its own user (per-user budgets of flows and connections stay the default).
    let mut holders = Vec::new();
    for h in 0..3 {
        let user = register(&site.topo.public()).await;
        let (stop, ws, token) = (stop.clone(), site_ws.clone(), user.token);
        let issuer_url = site.issuer.url.clone();
        holders.push(tokio::spawn(async move {
            holder_loop(h, &ws, &token, &issuer_url, &stop).await
        }));
    }
    // A writer through nginx: acknowledged writes must survive; neither storage nor auth may fail meanwhile.
    let writer = {
        let (stop, public, token) = (stop.clone(), site.topo.public(), token.to_string());
        tokio::spawn(async move {
            let (mut acked, mut errors) = (Vec::new(), Vec::new());
            for i in 0..10_000u32 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = format!("roll-{i}");
                let r = http_client()
                    .put(format!("{}/storage/credentials/{id}", public.0))
                    .bearer_auth(&token)
                    .json(&json!({"data": walletd_testkit::jwt::b64u(id.as_bytes())}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        acked.push((id, body["version"].clone()));
                    }
                    Ok(r) => errors.push(format!("{id}: {}", r.status())),
                    Err(e) => errors.push(format!("{id}: {e}")),
                }
                // The auth role, untouched by the restart, keeps answering too.
                match http_client()
                    .get(format!("{}/user/session/account-info", public.0))
                    .bearer_auth(&token)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => errors.push(format!("account-info: {}", r.status())),
                    Err(e) => errors.push(format!("account-info: {e}")),
                }
                // Paced below the user's storage write budget (`rate_limits.storage_writes_per_user`, 300 per
                // minute by default): every 20 ms, the writer met 429 (the limiter at work, not a failure of the
                // restart) whenever the two restarts took longer than about eight seconds.
                tokio::time::sleep(WRITE_PACE).await;
            }
            (acked, errors)
        })
    };

    tokio::time::sleep(Duration::from_millis(500)).await;
    for replica in ["engine-1", "engine-2"] {
        restart_with_a_flow_in_progress(site, &site.topo, replica, token).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);

    let mut total = Tally::default();
    for h in holders {
        let t = tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .expect("a holder hung")
            .unwrap();
        total.completed += t.completed;
        total.closed_1001 += t.closed_1001;
        total.failures.extend(t.failures);
    }
    assert!(total.failures.is_empty(), "holders failed: {:?}", total.failures);
    assert!(total.completed >= 3, "too few flows completed: {total:?}");

    let (acked, errors) = writer.await.unwrap();
    eprintln!(
        "rolling restart: {} flows completed, {} restarted after 1001, {} acknowledged writes",
        total.completed,
        total.closed_1001,
        acked.len()
    );
    assert!(errors.is_empty(), "writes failed during the restart: {errors:?}");
    assert!(!acked.is_empty());
    let s2 = site.topo.instance("storage-2");
    for (id, version) in &acked {
        let r = get_blob(&s2, token, id).await;
        assert_eq!(r.status, 200, "acknowledged write {id} lost: {}", r.body);
        assert_eq!(&r.body["version"], version, "{id}");
    }
}

/// A flow stalled at its `sign_request` on `replica` (directly, not through nginx), then SIGTERM: the socket gets
/// 1001, the process exits within its grace, and the flow restarted through nginx completes. Then the replica
/// starts again on its port.
async fn restart_with_a_flow_in_progress(site: &Site, topo: &Topology, replica: &str, token: &str) {
    let direct = format!("{}/api/v2/wallet", topo.instance(replica).0.replace("http://", "ws://"));
    let mut stalled = session(&direct, token).await.expect("direct session");
    let offer = offer(&site.issuer.url).await;
    stalled
        .send(
            &json!({"type": "flow_start", "flow_id": "stalled", "protocol": "oid4vci",
            "offer": offer["offer"]}),
        )
        .await
        .unwrap();
    loop {
        let v = stalled.recv_flow("stalled", Duration::from_secs(15)).await.unwrap();
        assert_ne!(v["type"], "flow_error", "{v}");
        if v["type"] == "sign_request" {
            break;
        }
    }

    tokio::task::block_in_place(|| topo.signal(replica, "TERM"));
    assert_eq!(
        close_code(&mut stalled).await,
        Some(1001),
        "{replica}: the socket did not get 1001"
    );
    // Gone within its grace (server.shutdown_grace 5 s in this test) plus a margin.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while topo.pid(replica).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "{replica} did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The holder restarts its flow on another socket: nginx sends it to the live replica.
    let holder = Holder::new();
    let mut again = session(&topo.ws_url(), token).await.expect("reconnect through nginx");
    issue(&mut again, &site.issuer.url, &holder, "restarted")
        .await
        .unwrap_or_else(|e| panic!("the restarted flow failed: {e}"));
    tokio::task::block_in_place(|| topo.start(replica));
}

/// Reads until the socket closes; its close code. Flow frames the engine sends before closing are allowed.
async fn close_code(c: &mut EngineClient) -> Option<u16> {
    for _ in 0..20 {
        match c.recv(Duration::from_secs(10)).await {
            Ok(_) => continue,
            Err(ClientError::Closed(code)) => return code,
            Err(e) => panic!("the socket failed instead of closing: {e}"),
        }
    }
    panic!("the socket did not close");
}

/// Runs issuance flows through nginx until `stop`; a 1001 close means reconnect and restart the flow.
async fn holder_loop(h: u32, ws: &str, token: &str, issuer_url: &str, stop: &AtomicBool) -> Tally {
    let holder = Holder::new();
    let mut tally = Tally::default();
    let mut client: Option<EngineClient> = None;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && n < 1000 {
        n += 1;
        let c = match client.as_mut() {
            Some(c) => c,
            None => match session(ws, token).await {
                Ok(c) => client.insert(c),
                Err(e) => {
                    tally.failures.push(format!("holder {h}: connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        match issue(c, issuer_url, &holder, &format!("h{h}-{n}")).await {
            Ok(_) => tally.completed += 1,
            Err(ClientError::Closed(Some(1001))) => {
                tally.closed_1001 += 1;
                client = None;
            }
            Err(e) => {
                tally.failures.push(format!("holder {h} flow {n}: {e}"));
                client = None;
            }
        }
    }
    tally
}
