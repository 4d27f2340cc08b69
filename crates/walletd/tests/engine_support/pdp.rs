//! A small AuthZEN PDP on 127.0.0.1 for the engine suites, and an engine-only walletd that asks it.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};

/// The requests a PDP received, in order.
pub type Seen = Arc<Mutex<Vec<Value>>>;

/// A PDP answering every evaluation with `decision` (reason `listed` or `not on the list`) and `framework` in
/// `context.trust_metadata`, recording the requests it gets. Resolution-only requests (no key) for a DID in
/// `documents` are answered with that document as `context.trust_metadata`.
pub async fn pdp_answering(decision: bool, framework: &'static str, documents: Vec<Value>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let documents = Arc::new(documents);
    let app = axum::Router::new().route(
        "/evaluation",
        post(move |Json(body): Json<Value>| {
            let s = s.clone();
            let documents = documents.clone();
            async move {
                s.lock().unwrap().push(body.clone());
                let keyless = body["resource"].get("key").is_none_or(Value::is_null);
                if keyless && let Some(doc) = documents.iter().find(|d| d["id"] == body["subject"]["id"]) {
                    return Json(json!({"decision": true, "context": {"trust_metadata": doc}}));
                }
                let reason = if decision { "listed" } else { "not on the list" };
                Json(json!({"decision": decision, "context": {"reason": reason, "trust_metadata": {"framework": framework}}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// [`pdp_answering`] with framework `test-lote` and no DID documents.
pub async fn pdp(decision: bool) -> (String, Seen) {
    pdp_answering(decision, "test-lote", Vec::new()).await
}

/// [`pdp_answering`] with framework `test-lote` and the DID `documents` it resolves.
pub async fn pdp_with(decision: bool, documents: Vec<Value>) -> (String, Seen) {
    pdp_answering(decision, "test-lote", documents).await
}

/// An engine-only walletd (like [`super::engine`]) whose global PDP is `pdp_url`; `extra_engine` adds `engine:`
/// lines (indented two spaces).
pub async fn engine_with_pdp(pdp_url: &str, extra_engine: &str) -> walletd_testkit::Walletd {
    let yaml = format!(
        "jwt:\n  secret: {}\negress:\n  allow_http: true\n  allowed_cidrs: [127.0.0.1/32]\nengine:\n  outbound_timeout: 3s\n{extra_engine}trust:\n  default_endpoint: {pdp_url}\n  timeout: 2s\n",
        super::SECRET
    );
    walletd_testkit::WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .mode("engine")
        .config(&yaml)
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
