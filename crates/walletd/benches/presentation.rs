//! Presentation benchmark: the same holder presents the same credential to the same Node verifier (tests/interop)
//! N times engine-mediated (OID4VP through a real walletd engine process: request fetch and checks, selection,
//! sign_presentation over the socket, direct_post by the engine) and N times directly (the holder fetches and
//! checks the request with the engine's parser, matches, signs and posts itself), in the same run. DCQL,
//! direct_post, x509_san_dns; every presentation is verified by the Node verifier.
//!
//! Run: `cargo bench -p walletd --bench presentation -- [n] [concurrency]` (defaults 100 and 1; needs `npm ci` in
//! tests/interop). With concurrency c, c holders' sessions (engine side) or tasks (direct side) each run n/c
//! presentations at once. Everything runs on 127.0.0.1 and shares the machine's cores: end-to-end figures, not the
//! engine alone. WALLETD_BENCH_ENGINE_FIRST=1 measures the engine side first (the suite alternates the order);
//! WALLETD_BENCH_BLOCKS=n alternates n blocks of each side.
//! ENGINE_BENCH_WORKERS=n runs the engine process with `server.worker_threads: n`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use walletd_engine::oid4vp::request;
use walletd_testkit::cpu::CpuMeter;
use walletd_testkit::holder::{connected, issued};
use walletd_testkit::interop::{NodeIssuer, NodeVerifier};
use walletd_testkit::sidebyside::{self, Tally};
use walletd_testkit::{LOOPBACK_V6, Walletd, WalletdBuilder, engine};
use walletd_wallet::Holder;
use walletd_wallet::client::PresentAnswer;
use walletd_wallet::present::StoredCredential;

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = arg(0, 100).clamp(1, 10_000);
    let conc = arg(1, 1).clamp(1, 64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n, conc));
}

/// What both sides share: the peers, the holder and its credential, the request options.
struct Setup {
    verifier: NodeVerifier,
    /// Whose CPU a presentation costs: the engine process, the Node verifier, this process (the holders).
    procs: [(&'static str, u32); 3],
    holder: Holder,
    wallet: Vec<StoredCredential>,
    opts: serde_json::Value,
}

async fn run(n: usize, conc: usize) {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .with_config(&engine::with_bench_knobs(
            engine::config()
                .egress_allow_cidr(LOOPBACK_V6)
                .limit("rate_limits.engine_flows_per_user", 0)
                .limit("rate_limits.engine_connections_per_user", 0),
        ))
        .env("RUST_LOG", walletd_testkit::QUIET_LOG_FILTER)
        .start()
        .await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let opts = json!({"vct": format!("{}/vct/pid", issuer.url)});
    let setup = Arc::new(Setup {
        procs: [
            ("engine", w.pid()),
            ("node", verifier.pid()),
            ("holder", std::process::id()),
        ],
        verifier,
        holder,
        wallet,
        opts,
    });
    let per = (n / conc).max(1);
    // Warm-up (JIT in Node, connection pools), not measured: WALLETD_BENCH_WARMUP presentations per side, in two
    // alternating halves (walletd_testkit::sidebyside::warmup_flows_from_env says why).
    let warm = (sidebyside::warmup_flows_from_env() / (2 * conc)).max(1);
    for _ in 0..2 {
        let _ = engine_side(&w, &setup, conc, warm).await;
        let _ = direct_side(&setup, conc, warm).await;
    }
    // WALLETD_BENCH_ENGINE_FIRST=1 opens with the engine side, WALLETD_BENCH_BLOCKS=n alternates n blocks of each
    // side (walletd_testkit::sidebyside; the suite sets both).
    let blocks = sidebyside::blocks_from_env().min(per);
    let per_block = (per / blocks).max(1);
    let (engine, direct) = sidebyside::interleaved(
        blocks,
        sidebyside::engine_first_from_env(),
        || engine_side(&w, &setup, conc, per_block),
        || direct_side(&setup, conc, per_block),
    )
    .await;
    let cpu = Tally::cpu_line(&direct, &engine);
    let (engine, direct) = (engine.figures(), direct.figures());
    let per = per_block * blocks;
    println!("presentations: {per} per task, concurrency {conc}");
    direct.print("direct  ");
    engine.print("engine  ");
    println!(
        "presentations: n={} engine-mediated {:.1}/s, holder direct {:.1}/s, ratio {:.2}; p99 overhead {:.1} ms",
        per * conc,
        engine.rate,
        direct.rate,
        engine.rate / direct.rate,
        engine.p99 - direct.p99
    );
    println!("{cpu}");
}

/// `conc` engine sessions each run `per` presentations at once.
async fn engine_side(w: &Walletd, setup: &Arc<Setup>, conc: usize, per: usize) -> Tally {
    let mut clients = Vec::new();
    for _ in 0..conc {
        clients.push(connected(w, None).await);
    }
    let meter = CpuMeter::start(&setup.procs);
    let started = Instant::now();
    let tasks = clients
        .into_iter()
        .enumerate()
        .map(|(t, mut c)| {
            let s = setup.clone();
            tokio::spawn(async move {
                let (mut lat, mut failures) = (Vec::new(), 0);
                for i in 0..per {
                    let t0 = Instant::now();
                    let req = s.verifier.request(s.opts.clone()).await;
                    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
                    let done = c
                        .run_presentation(
                            &s.holder,
                            &s.wallet,
                            &format!("b{t}-{i}"),
                            start,
                            PresentAnswer::Consent,
                        )
                        .await;
                    if done.is_ok() && s.verifier.result(&req["id"]).await["verified"] == true {
                        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        failures += 1;
                    }
                }
                c.close().await;
                (lat, failures)
            })
        })
        .collect();
    Tally::collect(tasks, started).await.with_cpu(meter.stop())
}

/// `conc` tasks each run `per` presentations directly (the holder's own HTTP client, the engine's parser).
async fn direct_side(setup: &Arc<Setup>, conc: usize, per: usize) -> Tally {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let meter = CpuMeter::start(&setup.procs);
    let started = Instant::now();
    let tasks = (0..conc)
        .map(|_| {
            let (s, http) = (setup.clone(), http.clone());
            tokio::spawn(async move {
                let (mut lat, mut failures) = (Vec::new(), 0);
                for _ in 0..per {
                    let t0 = Instant::now();
                    let req = s.verifier.request(s.opts.clone()).await;
                    if direct_once(&http, &s, &req).await.is_some()
                        && s.verifier.result(&req["id"]).await["verified"] == true
                    {
                        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        failures += 1;
                    }
                }
                (lat, failures)
            })
        })
        .collect();
    Tally::collect(tasks, started).await.with_cpu(meter.stop())
}

/// One presentation by the holder itself: fetch and check the request object, match, sign, post.
async fn direct_once(http: &reqwest::Client, s: &Setup, req: &serde_json::Value) -> Option<()> {
    let text = http
        .get(req["request_uri_ref"].as_str()?)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    // The synchronous part in a function of its own: nothing of it lives across the post's await.
    let (response_uri, state, token) = sign_answer(&text, req, s, now)?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("vp_token", &token)
        .append_pair("state", &state)
        .finish();
    let resp = http
        .post(&response_uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .ok()?;
    resp.status().is_success().then_some(())
}

/// Checks the request object, matches the credential and signs the answer: (response_uri, state, vp_token).
fn sign_answer(text: &str, req: &serde_json::Value, s: &Setup, now: u64) -> Option<(String, String, String)> {
    let a = request::verify_request_object(text, req["client_id"].as_str(), None, now).ok()?;
    let r = request::validate(a).ok()?;
    let m = walletd_wallet::dcql::match_query(r.dcql_query.as_ref()?, &s.wallet)?;
    let params = json!({"audience": r.client_id, "nonce": r.nonce, "credentials_to_include": m.iter().map(|m|
        json!({"credential_id": m.credential_id, "credential_query_id": m.query_id, "disclosed_claims": m.disclosed_claims})).collect::<Vec<_>>()});
    let token = walletd_wallet::present::answer_sign_presentation(&params, &s.wallet, s.holder.key()).ok()?;
    Some((r.response_uri.clone(), r.state.clone().unwrap_or_default(), token))
}
