//! Split benchmark: the split topology of deploy/local (every role its own process, PostgreSQL, Redis, nginx in
//! front) against one `--mode=all` process on PostgreSQL reached directly, with the same holders in the same run:
//! pre-authorized OID4VCI issuance flows per second over the WebSocket (Node issuer of tests/interop) and storage
//! PUT and GET requests per second. Prints the figures, the split/all ratios and the load average.
//!
//! Run: `cargo bench -p walletd --bench split -- [holders] [flows_per_holder] [blobs_per_holder]`
//! (defaults 8, 10, 100; needs nginx, redis-server and `npm ci` in tests/interop). Everything shares the machine's
//! cores: the figures are end to end on one host, the ratio is the cost of the extra hops and processes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use walletd_testkit::authenticator::VirtualAuthenticator;
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::topology::Topology;
use walletd_testkit::{Config, HttpTarget, Target, TestDatabase, ceremony, http_client, jwt::b64u};
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

/// The same settings for both deployments: loopback peers allowed, warnings-only logs (and the `started` line the
/// harness waits for), rate limits counted (in Redis for the split, in process for all) but out of reach.
const ENV: [(&str, &str); 7] = [
    ("WALLET_EGRESS__ALLOW_HTTP", "true"),
    ("WALLET_EGRESS__ALLOWED_CIDRS", "[\"127.0.0.1/32\", \"::1/128\"]"),
    ("WALLET_LOGGING__LEVEL", "warn,walletd::serve=info"),
    ("WALLET_AUTH__RATE_LIMIT_PER_IP", "1000000"),
    ("WALLET_RATE_LIMITS__STORAGE_WRITES_PER_USER", "1000000"),
    ("WALLET_RATE_LIMITS__ENGINE_FLOWS_PER_USER", "1000000"),
    ("WALLET_RATE_LIMITS__ENGINE_CONNECTIONS_PER_USER", "1000000"),
];

fn main() {
    let holders = arg(0, 8).clamp(1, 128);
    let flows = arg(1, 10).clamp(1, 1000);
    let blobs = arg(2, 100).clamp(1, 10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let issuer = Arc::new(NodeIssuer::start());
        let db = TestDatabase::postgres().await;
        let mut builder = walletd_testkit::WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
            .with_config(&Config::new().mode("all").database(db.url()));
        for (k, v) in ENV {
            builder = builder.env(k, v);
        }
        let all = builder.start().await;
        let mut env: Vec<(&str, &str)> = ENV.to_vec();
        let origins = format!("[\"{}\"]", ceremony::ORIGIN);
        env.push(("WALLET_WEBAUTHN__RP_ORIGINS", &origins));
        let split = Topology::up(env!("CARGO_BIN_EXE_walletd"), &env);

        let all_target = Target(all.http_url());
        let all_ws = format!("{}/api/v2/wallet", all.http_url().replace("http://", "ws://"));
        let deployments = [
            ("all   ", all_target, all_ws),
            ("split ", split.public(), split.ws_url()),
        ];
        let load_before = loadavg();
        let mut results = Vec::new();
        for (label, target, ws) in &deployments {
            let token = register(target).await;
            // Warm-up (connection pools, JWKS caches, Node's JIT), not measured.
            let _ = issuance(&issuer, ws, &token, 2, 2).await;
            let _ = storage(target, &token, 2, 2, "warm").await;
            let flows_per_s = issuance(&issuer, ws, &token, holders, flows).await;
            let (put_per_s, get_per_s) = storage(target, &token, holders, blobs, "bench").await;
            println!(
                "{label} issuance {flows_per_s:8.1} flows/s   storage PUT {put_per_s:8.1}/s   GET {get_per_s:8.1}/s"
            );
            results.push((flows_per_s, put_per_s, get_per_s));
        }
        let (a, s) = (results[0], results[1]);
        println!(
            "holders {holders}, flows per holder {flows}, blobs per holder {blobs}; split/all: issuance {:.2}x, PUT {:.2}x, GET {:.2}x",
            s.0 / a.0,
            s.1 / a.1,
            s.2 / a.2
        );
        println!("load average before: {load_before}; after: {}", loadavg());
        drop(split);
    });
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Registers a user; its access token.
async fn register(at: &impl HttpTarget) -> String {
    let mut va = VirtualAuthenticator::new();
    let r = ceremony::register(at, &mut va, None, b"bench").await;
    assert_eq!(r.status, 200, "register: {}", r.body);
    r.body["appToken"].as_str().unwrap().to_string()
}

/// `holders` sessions each run `flows` pre-authorized issuances; flows per second (failures abort).
async fn issuance(issuer: &NodeIssuer, ws: &str, token: &str, holders: usize, flows: usize) -> f64 {
    let mut offers: Vec<Vec<Value>> = Vec::new();
    for _ in 0..holders {
        let mut mine = Vec::new();
        for _ in 0..flows {
            mine.push(issuer.offer(json!({"grant": "pre"})).await["offer"].clone());
        }
        offers.push(mine);
    }
    let mut clients = Vec::new();
    for _ in 0..holders {
        let mut c = EngineClient::connect(ws).await.expect("connect");
        c.handshake(token, None).await.expect("handshake");
        clients.push(c);
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .zip(offers)
        .enumerate()
        .map(|(h, (mut c, offers))| {
            tokio::spawn(async move {
                let holder = Holder::new();
                for (i, offer) in offers.into_iter().enumerate() {
                    let id = format!("b{h}-{i}");
                    tokio::time::timeout(
                        Duration::from_secs(60),
                        c.run_issuance(&holder, &id, json!({"offer": offer}), None, None),
                    )
                    .await
                    .expect("flow hung")
                    .expect("flow failed");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (holders * flows) as f64 / started.elapsed().as_secs_f64()
}

/// `holders` writers each PUT `blobs` blobs of 1 KiB, then GET them; PUTs and GETs per second.
async fn storage(at: &Target, token: &str, holders: usize, blobs: usize, prefix: &str) -> (f64, f64) {
    let client = http_client();
    let data = b64u(&[7u8; 1024]);
    let mut rates = [0.0; 2];
    for (phase, rate) in rates.iter_mut().enumerate() {
        let started = Instant::now();
        let tasks: Vec<_> = (0..holders)
            .map(|h| {
                let (client, base, token, data) = (client.clone(), at.base_url(), token.to_string(), data.clone());
                let prefix = prefix.to_string();
                tokio::spawn(async move {
                    for i in 0..blobs {
                        let url = format!("{base}/storage/credentials/{prefix}-{h}-{i}");
                        let req = if phase == 0 {
                            client.put(url).json(&json!({"data": data}))
                        } else {
                            client.get(url)
                        };
                        let r = req.bearer_auth(&token).send().await.expect("request");
                        assert!(r.status().is_success(), "{}", r.status());
                        let _ = r.bytes().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        *rate = (holders * blobs) as f64 / started.elapsed().as_secs_f64();
    }
    (rates[0], rates[1])
}
