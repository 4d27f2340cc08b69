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

/// Whether a failing check takes the process out of service.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// The roles cannot serve without it (the database): a failure makes `/readyz` 503.
    Required,
    /// The roles keep serving without it, degraded (Redis: rate limits count per process, the registry cache is
    /// per process): a failure is reported but `/readyz` stays 200, so an outage of a shared cache does not take
    /// every replica out of its load balancer at once.
    Optional,
}

/// What `/readyz` found: overall readiness, each check's result, and the optional checks that failed.
pub struct ReadinessReport {
    /// Ready for traffic (not draining, every required check passed).
    pub ready: bool,
    /// Each check's result: `ok` or a short reason.
    pub checks: BTreeMap<String, String>,
    /// Optional dependencies that failed: the process serves, degraded.
    pub degraded: Vec<String>,
}

/// The dependency checks behind `/readyz`, and the draining flag set at shutdown.
#[derive(Clone)]
pub struct Readiness {
    checks: Vec<(String, CheckFn, Need)>,
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

    /// Adds a named check of a dependency the process cannot serve without (`database`, `registry`, ...).
    pub fn add<F, Fut>(&mut self, name: impl Into<String>, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks
            .push((name.into(), Arc::new(move || Box::pin(check())), Need::Required));
    }

    /// Adds a named check of a dependency the process serves without, degraded (`redis`): reported, never a 503.
    pub fn add_optional<F, Fut>(&mut self, name: impl Into<String>, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks
            .push((name.into(), Arc::new(move || Box::pin(check())), Need::Optional));
    }

    /// Marks the process as shutting down: `/readyz` answers 503 so load balancers stop sending traffic.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Runs every check concurrently, each under the timeout.
    pub async fn run(&self) -> ReadinessReport {
        let results = futures::future::join_all(self.checks.iter().map(|(name, check, need)| {
            let fut = check();
            let timeout = self.timeout;
            async move {
                let outcome = match tokio::time::timeout(timeout, fut).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(reason)) => Err(reason),
                    Err(_) => Err(format!("no answer within {timeout:?}")),
                };
                (name.clone(), *need, outcome)
            }
        }))
        .await;
        let mut report = ReadinessReport {
            ready: !self.draining.load(Ordering::SeqCst),
            checks: BTreeMap::new(),
            degraded: Vec::new(),
        };
        for (name, need, outcome) in results {
            let result = match outcome {
                Ok(()) => "ok".to_string(),
                Err(reason) if need == Need::Optional => {
                    report.degraded.push(name.clone());
                    reason
                }
                Err(reason) => {
                    report.ready = false;
                    reason
                }
            };
            report.checks.insert(name, result);
        }
        report
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
    /// Whether `/metrics` is served here (`false` when it is on the admin listener). The recorder is the process's
    /// one ([`crate::telemetry::metrics_handle`]), fetched per scrape so that start-up never waits for it.
    pub metrics: bool,
}

/// The health routes: `/healthz`, `/readyz`, `/status`, and `/metrics` when `state.metrics` is set.
pub fn health_routes(state: HealthState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status));
    if state.metrics {
        router = router.route("/metrics", get(metrics));
    }
    router.with_state(state)
}

/// Just `/metrics`, for the admin listener.
pub fn metrics_route() -> Router {
    Router::new().route("/metrics", get(metrics_page))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<HealthState>) -> Response {
    let report = state.readiness.run().await;
    let code = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let status = match (report.ready, report.degraded.is_empty()) {
        (false, _) => "not_ready",
        (true, true) => "ready",
        (true, false) => "degraded",
    };
    let body = json!({"status": status, "checks": report.checks, "degraded": report.degraded});
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
    if !state.metrics {
        return StatusCode::NOT_FOUND.into_response();
    }
    metrics_page().await
}

async fn metrics_page() -> Response {
    render_metrics(&crate::telemetry::metrics_handle_async().await)
}

fn render_metrics(handle: &PrometheusHandle) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
