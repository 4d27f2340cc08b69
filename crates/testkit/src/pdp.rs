//! A test AuthZEN PDP on 127.0.0.1: answers `POST /evaluation` with a decision the test chooses and records every
//! request it gets, so a test can check what walletd asked.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};

/// The requests a PDP received, in order.
pub type Seen = Arc<Mutex<Vec<Value>>>;

/// A PDP answering each evaluation request with `answer(request)`; returns its base URL and what it saw.
pub async fn serve<F>(answer: F) -> (String, Seen)
where
    F: Fn(&Value) -> Value + Send + Sync + 'static,
{
    let seen: Seen = Arc::default();
    let recorded = seen.clone();
    let answer = Arc::new(answer);
    let app = axum::Router::new().route(
        "/evaluation",
        post(move |Json(body): Json<Value>| {
            let recorded = recorded.clone();
            let answer = answer.clone();
            async move {
                recorded.lock().unwrap_or_else(|p| p.into_inner()).push(body.clone());
                Json(answer(&body))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind PDP");
    let url = format!("http://{}", listener.local_addr().expect("PDP address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// A PDP answering every evaluation with `decision` (reason `listed` or `not on the list`) and `framework` in
/// `context.trust_metadata`. Resolution-only requests (no key) for a DID in `documents` are answered with that
/// document as `context.trust_metadata`.
pub async fn answering(decision: bool, framework: &'static str, documents: Vec<Value>) -> (String, Seen) {
    serve(move |body| {
        let keyless = body["resource"].get("key").is_none_or(Value::is_null);
        if keyless && let Some(doc) = documents.iter().find(|d| d["id"] == body["subject"]["id"]) {
            return json!({"decision": true, "context": {"trust_metadata": doc}});
        }
        let reason = if decision { "listed" } else { "not on the list" };
        json!({"decision": decision, "context": {"reason": reason, "trust_metadata": {"framework": framework}}})
    })
    .await
}

/// [`answering`] with framework `test-lote` and no DID documents.
pub async fn deciding(decision: bool) -> (String, Seen) {
    answering(decision, "test-lote", Vec::new()).await
}

/// [`answering`] with framework `test-lote` and the DID `documents` it resolves.
pub async fn resolving(decision: bool, documents: Vec<Value>) -> (String, Seen) {
    answering(decision, "test-lote", documents).await
}

/// A PDP that trusts subjects whose id starts with `good`, with its `name` as the reason (tells PDPs apart).
pub async fn trusting_good_subjects(name: &'static str) -> (String, Seen) {
    serve(move |body| {
        let id = body["subject"]["id"].as_str().unwrap_or_default();
        json!({"decision": id.starts_with("good"), "context": {"reason": name}})
    })
    .await
}

/// A PDP that trusts everything, with its `name` as the reason.
pub async fn trusting_all(name: &'static str) -> (String, Seen) {
    serve(move |_| json!({"decision": true, "context": {"reason": name}})).await
}
