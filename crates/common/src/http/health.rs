//! `/healthz`, `/readyz`, `/status` and `/metrics`, served by every role.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

/// One dependency check: `Ok` when the dependency answers, else a short reason without secrets.
pub type CheckFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The dependency checks behind `/readyz`, and the draining flag set at shutdown.
#[derive(Clone)]
pub struct Readiness {
    checks: Vec<(String, CheckFn)>,
    timeout: Duration,
    draining: Arc<AtomicBool>,
}

impl Readiness {
    /// No checks yet; each one gets `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Readiness {
            checks: Vec::new(),
            timeout,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Adds a named check (`database`, `redis`, `registry`, ...).
    pub fn add<F, Fut>(&mut self, name: impl Into<String>, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push((name.into(), Arc::new(move || Box::pin(check()))));
    }

    /// Marks the process as shutting down: `/readyz` answers 503 so load balancers stop sending traffic.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Runs every check concurrently, each under the timeout. Returns overall readiness and per-check results.
    pub async fn run(&self) -> (bool, BTreeMap<String, String>) {
        let results = futures::future::join_all(self.checks.iter().map(|(name, check)| {
            let fut = check();
            let timeout = self.timeout;
            async move {
                let outcome = match tokio::time::timeout(timeout, fut).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(reason)) => Err(reason),
                    Err(_) => Err(format!("no answer within {timeout:?}")),
                };
                (name.clone(), outcome)
            }
        }))
        .await;
        let mut ready = !self.draining.load(Ordering::SeqCst);
        let mut report = BTreeMap::new();
        for (name, outcome) in results {
            match outcome {
                Ok(()) => {
                    report.insert(name, "ok".to_string());
                }
                Err(reason) => {
                    ready = false;
                    report.insert(name, reason);
                }
            }
        }
        (ready, report)
    }
}

/// What `/status` reports.
#[derive(Debug, Clone)]
pub struct StatusInfo {
    /// Role names, sorted.
    pub roles: Vec<&'static str>,
    /// Capabilities, sorted and unique.
    pub capabilities: BTreeSet<String>,
}

/// State of the health routes.
#[derive(Clone)]
pub struct HealthState {
    pub readiness: Readiness,
    pub status: Arc<StatusInfo>,
    /// `None` when `/metrics` is served elsewhere (the admin listener).
    pub metrics: Option<PrometheusHandle>,
}

/// The health routes: `/healthz`, `/readyz`, `/status`, and `/metrics` when `state.metrics` is set.
pub fn health_routes(state: HealthState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status));
    if state.metrics.is_some() {
        router = router.route("/metrics", get(metrics));
    }
    router.with_state(state)
}

/// Just `/metrics`, for the admin listener.
pub fn metrics_route(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let h = handle.clone();
            async move { render_metrics(&h) }
        }),
    )
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<HealthState>) -> Response {
    let (ready, checks) = state.readiness.run().await;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if ready { "ready" } else { "not_ready" }, "checks": checks});
    (code, Json(body)).into_response()
}

async fn status(State(state): State<HealthState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "service": "wallet-backend",
        "roles": state.status.roles,
        "api_version": 2,
        "capabilities": state.status.capabilities,
    }))
}

async fn metrics(State(state): State<HealthState>) -> Response {
    match &state.metrics {
        Some(h) => render_metrics(h),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn render_metrics(handle: &PrometheusHandle) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
