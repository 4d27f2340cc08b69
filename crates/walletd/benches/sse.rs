//! API v2 link benchmark: the same N concurrent holders run the same pre-authorized OID4VCI flows against the local
//! Node issuer (tests/interop) through one real walletd engine process, once over the WebSocket and once over
//! Server-Sent Events plus POSTs, alternating in one run (WS, SSE, WS, SSE: drifting load from other processes
//! hits both alike). Sessions are opened before the clock starts.
//!
//! Run: `cargo bench -p walletd --bench sse -- [holders] [flows_per_holder] [rounds]` (defaults 16, 10, 2; needs
//! `npm ci` in tests/interop). Everything runs on 127.0.0.1 and shares the machine's cores: end-to-end figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use walletd_testkit::engine::{self, token, ws_url};
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::sidebyside::Tally;
use walletd_wallet::Holder;
use walletd_wallet::client::EngineClient;

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy, PartialEq)]
enum Link {
    WebSocket,
    Sse,
}

fn main() {
    let holders = arg(0, 16).clamp(1, 256);
    let flows = arg(1, 10).clamp(1, 1000);
    let rounds = arg(2, 2).clamp(1, 10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let issuer = Arc::new(NodeIssuer::start());
        let w = walletd_testkit::WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
            // The per-user budgets are off: every round reuses the same users.
            .with_config(
                &engine::config()
                    .limit("rate_limits.engine_flows_per_user", 0)
                    .limit("rate_limits.engine_connections_per_user", 0),
            )
            .env("RUST_LOG", walletd_testkit::QUIET_LOG_FILTER)
            .start()
            .await;
        let base = w.http_url();
        let ws = ws_url(&w);
        // Warm-up (JIT in Node, connection pools), not measured: WALLETD_BENCH_WARMUP flows per link in two
        // alternating halves (walletd_testkit::sidebyside::warmup_flows_from_env says why).
        let warm = (walletd_testkit::sidebyside::warmup_flows_from_env() / (2 * holders)).max(1);
        for _ in 0..2 {
            for link in [Link::WebSocket, Link::Sse] {
                let _ = run(&issuer, link, &ws, &base, holders, warm).await;
            }
        }
        println!("holders {holders}, flows per holder {flows} (pre-authorized code, DPoP, nonce endpoint, 1 proof)");
        let (mut all_ws, mut all_sse) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            for link in [Link::WebSocket, Link::Sse] {
                let (lat, failures, elapsed) = run(&issuer, link, &ws, &base, holders, flows).await;
                let label = if link == Link::WebSocket {
                    "websocket"
                } else {
                    "sse      "
                };
                print(&format!("round {round} {label}"), &lat, failures, elapsed);
                if link == Link::WebSocket {
                    all_ws.push((lat, elapsed));
                } else {
                    all_sse.push((lat, elapsed));
                }
            }
        }
        let pooled = |runs: Vec<(Vec<f64>, Duration)>| {
            let total: Duration = runs.iter().map(|r| r.1).sum();
            (runs.into_iter().flat_map(|r| r.0).collect::<Vec<_>>(), total)
        };
        let (ws_lat, ws_time) = pooled(all_ws);
        let (sse_lat, sse_time) = pooled(all_sse);
        let ws_rate = print("all     websocket", &ws_lat, 0, ws_time);
        let sse_rate = print("all     sse      ", &sse_lat, 0, sse_time);
        println!("ratio sse/websocket throughput {:.2}x", sse_rate / ws_rate);
    });
}

/// Prints one line of figures; returns flows/s.
fn print(label: &str, lat: &[f64], failures: usize, elapsed: Duration) -> f64 {
    let figures = Tally {
        latencies_ms: lat.to_vec(),
        failures,
        elapsed,
        ..Tally::default()
    }
    .figures();
    figures.print(label);
    figures.rate
}

/// Fresh offers for `n` flows (created before the clock starts: they are test hooks, not part of the flow).
async fn offers(issuer: &NodeIssuer, n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(issuer.offer(json!({"grant": "pre"})).await["offer_json"].clone());
    }
    out
}

/// `holders` sessions over `link`, each running `flows` issuances one after the other; latencies (ms), failures,
/// wall time.
async fn run(
    issuer: &NodeIssuer,
    link: Link,
    ws: &str,
    base: &str,
    holders: usize,
    flows: usize,
) -> (Vec<f64>, usize, Duration) {
    let mut per_holder = Vec::new();
    for _ in 0..holders {
        per_holder.push(offers(issuer, flows).await);
    }
    let mut clients = Vec::new();
    for h in 0..holders {
        let t = token(&format!("bench-{h}"), 3600);
        let mut c = match link {
            Link::WebSocket => EngineClient::connect(ws).await.expect("connect"),
            Link::Sse => EngineClient::connect_sse(base, &t, None).await.expect("sse session"),
        };
        c.handshake(&t, None).await.expect("handshake");
        clients.push(c);
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .zip(per_holder)
        .enumerate()
        .map(|(h, (mut c, offers))| {
            tokio::spawn(async move {
                let holder = Holder::new();
                let mut lat = Vec::new();
                let mut failures = 0;
                for (i, offer) in offers.into_iter().enumerate() {
                    let t = Instant::now();
                    let flow = format!("b{h}-{i}");
                    let start = json!({"offer": offer.to_string()});
                    match c.run_issuance(&holder, &flow, start, None, None).await {
                        Ok(v) if v["credentials"][0]["credential"].is_string() => {
                            lat.push(t.elapsed().as_secs_f64() * 1000.0)
                        }
                        _ => failures += 1,
                    }
                }
                c.close().await;
                (lat, failures)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.unwrap();
        lat.extend(l);
        failures += f;
    }
    (lat, failures, started.elapsed())
}
