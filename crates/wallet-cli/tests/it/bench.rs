//! Embedded engine vs remote engine over loopback, same run, same peers (the interop issuer and verifier): issuance
//! and presentation flows per second with p50/p99. Ignored by default (a measurement, not a check):
//!
//! `BENCH_FLOWS=40 cargo test -p walletd-wallet-cli --test it --release -- --ignored --nocapture bench`

use std::time::{Duration, Instant};

use serde_json::json;
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};
use walletd_testkit::{WalletdBuilder, engine};
use walletd_wallet::agent::{Agent, AgentLimits, AutoConsent};
use walletd_wallet::device::DeviceConfig;
use walletd_wallet::embedded::EmbeddedEngine;
use walletd_wallet::store::{HolderKeyRecord, WalletData};

fn stats(name: &str, mut times: Vec<Duration>, total: Duration) -> String {
    times.sort();
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "{name}: {} flows, {:.1} flows/s, p50 {:.1} ms, p99 {:.1} ms",
        times.len(),
        times.len() as f64 / total.as_secs_f64(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3
    )
}

async fn run(label: &str, agent: &mut Agent, issuer: &NodeIssuer, verifier: &NodeVerifier, n: usize) -> Vec<String> {
    let key = HolderKeyRecord::generate();
    let mut wallet = WalletData::default();
    wallet.keys.push(key.clone());
    let (mut issue, mut present) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for _ in 0..n {
        let offer = issuer.offer(json!({"grant": "pre"})).await;
        let t = Instant::now();
        let issued = agent
            .accept_offer(offer["offer"].as_str().unwrap(), &key, &mut AutoConsent)
            .await
            .unwrap();
        issue.push(t.elapsed());
        if wallet.credentials.is_empty() {
            wallet.credentials.extend(issued.credentials);
        }
    }
    let issue_total = started.elapsed();
    let vct = format!("{}/vct/pid", issuer.url);
    let started = Instant::now();
    for _ in 0..n {
        let req = verifier
            .request(json!({"scheme": "x509_hash", "claims": ["given_name"], "vct": vct}))
            .await;
        let t = Instant::now();
        agent
            .present(req["url"].as_str().unwrap(), &wallet, &mut AutoConsent)
            .await
            .unwrap();
        present.push(t.elapsed());
    }
    let present_total = started.elapsed();
    vec![
        stats(&format!("{label} issuance"), issue, issue_total),
        stats(&format!("{label} presentation"), present, present_total),
    ]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run with --ignored"]
async fn bench_embedded_vs_remote_engine() {
    let n: usize = std::env::var("BENCH_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let cfg = DeviceConfig::from_yaml("egress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\n").unwrap();
    let embedded = EmbeddedEngine::new(&cfg).unwrap();
    let mut agent = embedded.agent(AgentLimits::default()).await.unwrap();
    let mut lines = run("embedded", &mut agent, &issuer, &verifier, n).await;

    // The embedded engine has no flow budget; the remote one gets none either, so N may exceed a minute's default.
    let remote = WalletdBuilder::new(crate::support::walletd_bin())
        .with_config(&engine::config().set("rate_limits.engine_flows_per_user", 0))
        .start()
        .await;
    let url = engine::ws_url(&remote);
    let mut agent = Agent::connect(&url, &engine::token("bench", 600), AgentLimits::default())
        .await
        .unwrap();
    lines.extend(run("remote (loopback WebSocket)", &mut agent, &issuer, &verifier, n).await);
    for l in lines {
        println!("{l}");
    }
}
