//! Engine benchmark: N concurrent holders run pre-authorized OID4VCI flows against the local Node issuer
//! (tests/interop) through a real walletd engine process, and the same N holders run the same flow directly
//! against the issuer in the same run; then the RSS cost of idle authenticated WebSocket connections.
//!
//! Run: `cargo bench -p walletd --bench engine -- [holders] [flows_per_holder] [idle_connections]`
//! (defaults 16, 10, 10000; needs `npm ci` in tests/interop). Everything runs on 127.0.0.1; the holders, the
//! engine and the issuer share the machine's cores, so the figures are end-to-end, not the engine alone.
//! WALLETD_BENCH_ENGINE_FIRST=1 opens with the engine side; WALLETD_BENCH_BLOCKS=n alternates n blocks of each side.
//! ENGINE_BENCH_WORKERS=n runs the engine process with `server.worker_threads: n`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use walletd_engine::oid4vci::dpop::Dpop;
use walletd_protocol::oid4vci::well_known_url;
use walletd_testkit::cpu::CpuMeter;
use walletd_testkit::engine::{self, token, ws_url};
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::sidebyside::{self, Tally};
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

fn main() {
    let holders = arg(0, 16).clamp(1, 256);
    let flows = arg(1, 10).clamp(1, 1000);
    let idle = arg(2, 10_000).clamp(0, 10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let issuer = Arc::new(NodeIssuer::start());
        // Engine process: access logs and per-flow logs off (they would dominate and are not the engine's cost).
        // ENGINE_BENCH_YAML: extra `engine:` lines (indented two spaces) to compare settings, e.g. buffer sizes.
        let extra = std::env::var("ENGINE_BENCH_YAML").unwrap_or_default();
        // ENGINE_BENCH_WORKERS: the engine process's `server.worker_threads` (engine::with_bench_knobs).
        let w = walletd_testkit::WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
            .with_config(&engine::with_bench_knobs(
                engine::config_with(&extra)
                    .limit("rate_limits.engine_flows_per_user", 0)
                    .limit("rate_limits.engine_connections_per_user", 0),
            ))
            .env("RUST_LOG", walletd_testkit::QUIET_LOG_FILTER)
            .start()
            .await;
        let url = ws_url(&w);
        // Whose CPU a flow costs, per side: the engine process, the Node issuer, this process (the holders).
        let procs = [("engine", w.pid()), ("node", issuer.pid()), ("holder", std::process::id())];

        // Warm-up (JIT in Node, connection pools), not measured: WALLETD_BENCH_WARMUP flows per side, in two
        // alternating halves so neither side is the one that meets a cold peer.
        let warm = (sidebyside::warmup_flows_from_env() / (2 * holders)).max(1);
        for _ in 0..2 {
            let _ = run_direct(&issuer, &procs, holders, warm).await;
            let _ = run_engine(&issuer, &procs, &url, holders, warm).await;
        }

        // WALLETD_BENCH_ENGINE_FIRST=1 opens with the engine side, WALLETD_BENCH_BLOCKS=n alternates n blocks of
        // each side (walletd_testkit::sidebyside; the suite sets both).
        let blocks = sidebyside::blocks_from_env().min(flows);
        let per_block = (flows / blocks).max(1);
        let (engine, direct) = sidebyside::interleaved(
            blocks,
            sidebyside::engine_first_from_env(),
            || run_engine(&issuer, &procs, &url, holders, per_block),
            || run_direct(&issuer, &procs, holders, per_block),
        )
        .await;
        let cpu = Tally::cpu_line(&direct, &engine);
        let (engine, direct) = (engine.figures(), direct.figures());
        println!("holders {holders}, flows per holder {} in {blocks} block(s) (pre-authorized code, DPoP, nonce endpoint, 1 proof)", per_block * blocks);
        direct.print("direct  ");
        engine.print("engine  ");
        println!(
            "ratio engine/direct throughput {:.2}x; p50 overhead {:.1} ms; p99 overhead {:.1} ms",
            engine.rate / direct.rate,
            engine.p50 - direct.p50,
            engine.p99 - direct.p99
        );
        println!("{cpu}");

        if idle > 0 {
            idle_rss(&w, &url, idle).await;
        }
    });
}

/// Fresh offers for `n` flows (created before the clock starts: they are test hooks, not part of the flow).
async fn offers(issuer: &NodeIssuer, n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(issuer.offer(json!({"grant": "pre"})).await["offer_json"].clone());
    }
    out
}

/// The processes whose CPU time a block measures.
type Procs = [(&'static str, u32)];

async fn run_engine(issuer: &NodeIssuer, procs: &Procs, url: &str, holders: usize, flows: usize) -> Tally {
    let mut per_holder = Vec::new();
    for _ in 0..holders {
        per_holder.push(offers(issuer, flows).await);
    }
    let mut clients = Vec::new();
    for h in 0..holders {
        let mut c = EngineClient::connect(url).await.expect("connect");
        c.handshake(&token(&format!("bench-{h}"), 3600), None)
            .await
            .expect("handshake");
        clients.push(c);
    }
    let meter = CpuMeter::start(procs);
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
                    let r = c
                        .run_issuance(
                            &holder,
                            &format!("b{h}-{i}"),
                            json!({"offer": offer.to_string()}),
                            None,
                            None,
                        )
                        .await;
                    match r {
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
    Tally::collect(tasks, started).await.with_cpu(meter.stop())
}

async fn run_direct(issuer: &NodeIssuer, procs: &Procs, holders: usize, flows: usize) -> Tally {
    let mut per_holder = Vec::new();
    for _ in 0..holders {
        per_holder.push(offers(issuer, flows).await);
    }
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let meter = CpuMeter::start(procs);
    let started = Instant::now();
    let tasks: Vec<_> = per_holder
        .into_iter()
        .map(|offers| {
            let http = http.clone();
            tokio::spawn(async move {
                let holder = Holder::new();
                let mut lat = Vec::new();
                let mut failures = 0;
                for offer in offers {
                    let t = Instant::now();
                    match direct_flow(&http, &holder, &offer).await {
                        Some(_) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        None => failures += 1,
                    }
                }
                (lat, failures)
            })
        })
        .collect();
    Tally::collect(tasks, started).await.with_cpu(meter.stop())
}

/// The same requests the engine makes for a pre-authorized offer (issuer metadata, AS metadata, token with DPoP and
/// its nonce retry, nonce endpoint, one JWT proof, credential request), made by the holder itself.
async fn direct_flow(http: &reqwest::Client, holder: &Holder, offer: &Value) -> Option<String> {
    let issuer = offer["credential_issuer"].as_str()?;
    let config_id = offer["credential_configuration_ids"][0].as_str()?;
    let code =
        offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"].as_str()?;
    let get = |u: url::Url| async move { http.get(u).send().await.ok()?.json::<Value>().await.ok() };
    let meta = get(well_known_url(issuer, "openid-credential-issuer")?).await?;
    let as_meta = get(well_known_url(issuer, "oauth-authorization-server")?).await?;
    let token_endpoint = as_meta["token_endpoint"].as_str()?;
    let mut dpop = Dpop::new();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:pre-authorized_code")
        .append_pair("pre-authorized_code", code)
        .finish();
    let mut tokens = None;
    for _ in 0..2 {
        let resp = http
            .post(token_endpoint)
            .header("DPoP", dpop.proof(&reqwest::Method::POST, token_endpoint, None))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone())
            .send()
            .await
            .ok()?;
        let nonce = resp
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let ok = resp.status().is_success();
        let body: Value = resp.json().await.ok()?;
        if ok {
            tokens = Some(body);
            break;
        }
        dpop.nonce = Some(nonce?);
    }
    let tokens = tokens?;
    let access = tokens["access_token"].as_str()?;
    let nonce: Value = http
        .post(meta["nonce_endpoint"].as_str()?)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let proof = holder.proof_jwt(issuer, nonce["c_nonce"].as_str(), None);
    let endpoint = meta["credential_endpoint"].as_str()?;
    let resp: Value = http
        .post(endpoint)
        .header("authorization", format!("DPoP {access}"))
        .header("DPoP", dpop.proof(&reqwest::Method::POST, endpoint, Some(access)))
        .json(&json!({"credential_configuration_id": config_id, "proofs": {"jwt": [proof]}}))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    resp["credentials"][0]["credential"].as_str().map(str::to_string)
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Opens `k` authenticated sockets (handshake completed) and holds them idle; RSS of the engine process before and
/// after, divided by `k`. The client side uses small tungstenite buffers so that 10 000 sockets fit in this process.
async fn idle_rss(w: &walletd_testkit::Walletd, url: &str, k: usize) {
    let pid = w.pid();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = vm_rss_kib(pid);
    let fds_before = open_fds(pid);
    let cfg = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024);
    let token = token("idle", 3600);
    let hs = json!({"type": "handshake", "app_token": token}).to_string();
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(k);
    let mut failed = 0usize;
    // Batches of 200 in flight: fast, without a SYN flood against the listen backlog.
    for chunk in (0..k).collect::<Vec<_>>().chunks(200) {
        let opened = futures::future::join_all(chunk.iter().map(|_| {
            let hs = hs.clone();
            async move {
                let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(cfg), true)
                    .await
                    .ok()?;
                ws.send(Message::Text(hs.into())).await.ok()?;
                let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
                    .await
                    .ok()??
                    .ok()?;
                matches!(&reply, Message::Text(t) if t.contains("handshake_complete")).then_some(ws)
            }
        }))
        .await;
        for s in opened {
            match s {
                Some(ws) => sockets.push(ws),
                None => failed += 1,
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    let open_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = vm_rss_kib(pid);
    let fds_after = open_fds(pid);
    let n = sockets.len().max(1) as f64;
    // The sessions are still there and served: a sample answers an invalid frame with `error`.
    let mut answered = 0;
    let step = (sockets.len() / 20).max(1);
    for ws in sockets.iter_mut().step_by(step) {
        if ws.send(Message::Text("{not json".into())).await.is_ok()
            && let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await
            && t.contains("INVALID_MESSAGE")
        {
            answered += 1;
        }
    }
    println!(
        "idle authenticated connections: {} open ({failed} failed) in {open_secs:.1} s; engine open fds {fds_before} -> \
         {fds_after}; engine VmRSS {before} KiB -> {after} KiB = {:.2} KiB per connection; {answered}/{} sampled \
         sessions still answer",
        sockets.len(),
        (after.saturating_sub(before)) as f64 / n,
        sockets.len().div_ceil(step)
    );
    drop(sockets);
}
