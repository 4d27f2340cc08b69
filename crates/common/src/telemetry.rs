//! Logging (tracing, JSON lines on stdout) and the Prometheus metrics recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

use crate::config::{LogFormat, LoggingConfig};

/// Libraries that print protocol payloads (WebSocket frames, HTTP/2 frames, TLS records, request URLs with codes,
/// SQL statements) at DEBUG or TRACE: app tokens, pre-authorized codes, proofs, credentials, refresh tokens and
/// vp_tokens would reach the log. Their events are capped at INFO whatever `RUST_LOG` or `logging.level` asks for.
/// Matched by target prefix (`hyper` covers `hyper::proto::h1`, not `hyper_util`, hence both).
pub const PAYLOAD_LOGGERS: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "hickory_proto",
    "hickory_resolver",
    "sqlx",
    "redis",
    "tower_http",
    "axum::rejection",
    "webauthn_rs_core",
];

/// The cap applied on top of the configured filter: every target at any level, except [`PAYLOAD_LOGGERS`] above
/// INFO.
pub fn payload_caps() -> Targets {
    PAYLOAD_LOGGERS
        .iter()
        .fold(Targets::new().with_default(LevelFilter::TRACE), |t, target| {
            t.with_target(*target, LevelFilter::INFO)
        })
}

/// Installs the global log subscriber. `RUST_LOG` overrides `logging.level` when set; either way the
/// [`payload_caps`] apply. Idempotent.
pub fn init_logging(cfg: &LoggingConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = match cfg.format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stdout)
            .boxed(),
        LogFormat::Text => fmt::layer().with_writer(std::io::stdout).boxed(),
    };
    // The caps are a second filter beside the configured one (not a directive added to it), so a directive such as
    // `RUST_LOG=tungstenite=trace` cannot lift them.
    let result = tracing_subscriber::registry()
        .with(layer.with_filter(filter.and(payload_caps())))
        .try_init();
    // A second initialisation (tests running several servers in one process) keeps the first subscriber.
    let _ = result;
}

mod early_metrics;

/// The process's global recorder: installed in the first instant ([`start_metrics_recorder`]), it holds what is
/// recorded until the Prometheus recorder exists, then forwards to it (`early_metrics`).
static EARLY: std::sync::LazyLock<early_metrics::Deferring> = std::sync::LazyLock::new(Default::default);

/// Whether [`EARLY`] became the global recorder (it does not when an embedding program installed its own first).
static EARLY_IS_GLOBAL: OnceLock<bool> = OnceLock::new();

/// Makes [`EARLY`] the global recorder, once. Cheap: no clock calibration.
fn install_early_recorder() -> bool {
    *EARLY_IS_GLOBAL.get_or_init(|| metrics::set_global_recorder(std::sync::LazyLock::force(&EARLY)).is_ok())
}

/// The Prometheus recorder's handle, once built.
static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, built on first use and installed behind the global recorder.
pub fn metrics_handle() -> PrometheusHandle {
    METRICS
        .get_or_init(|| {
            install_early_recorder();
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // When an embedding program's recorder is global instead, this handle renders nothing: the embedder's
            // choice.
            EARLY.install(Box::new(recorder));
            handle
        })
        .clone()
}

/// Whether metric handles taken now record anything worth keeping them for: true once the process's global
/// recorder is installed (handles taken before the Prometheus recorder exists hold their values and forward to it
/// later), false when no recorder of walletd's is global (a test or an embedder that never started one, or an
/// embedder's own recorder installed first, whose handles it alone knows).
pub fn metrics_recorder_global() -> bool {
    EARLY_IS_GLOBAL.get().copied().unwrap_or(false)
}

/// Installs the process's global recorder at once and builds the Prometheus recorder behind it on a thread of its
/// own, so that nothing waits for it: building it calibrates the recorder's clock (quanta) by spinning on the system
/// clock for milliseconds, up to 200 ms on a busy machine, which made it the longest single step of start-up.
/// Nothing recorded meanwhile is lost: the global recorder holds it and replays it into the Prometheus recorder
/// (before, a busy machine's first requests went missing from `/metrics`). (The thread keeps the process's
/// priority: at nice 19 it was starved on a busy machine.)
pub fn start_metrics_recorder() {
    install_early_recorder();
    let spawned = std::thread::Builder::new().name("metrics-clock".into()).spawn(|| {
        metrics_handle();
    });
    if let Err(e) = spawned {
        // No thread to spare: the recorder is then built on first use (`metrics_handle`).
        tracing::debug!(error = %e, "cannot start the metrics recorder's thread");
    }
}

/// [`metrics_handle`] from async code: waits for the recorder (normally installed long before) without blocking the
/// runtime's worker.
pub async fn metrics_handle_async() -> PrometheusHandle {
    // Installed (the usual case after start-up): no trip to the blocking pool per scrape.
    if let Some(handle) = METRICS.get() {
        return handle.clone();
    }
    match tokio::task::spawn_blocking(metrics_handle).await {
        Ok(handle) => handle,
        Err(_) => metrics_handle(),
    }
}

/// Folds the recorded histogram samples into the recorder's summaries every `interval` for as long as the runtime
/// runs (`0`: never; then only a scrape of `/metrics` does). The recorder keeps every sample until then: a process
/// that is not scraped would otherwise grow by one sample per timed event (every request), which the 10-minute soak
/// showed as RSS rising by about 1.5 MiB a minute under 1 300 requests/s (docs/performance.md, "Memory").
/// Must be called within a tokio runtime.
pub fn spawn_metrics_upkeep(interval: std::time::Duration) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = crate::background::interval(interval);
        tick.tick().await;
        let handle = metrics_handle_async().await;
        loop {
            handle.run_upkeep();
            tick.tick().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn payload_loggers_are_capped_at_info() {
        let caps = payload_caps();
        assert!(caps.would_enable("tungstenite::protocol", &Level::INFO));
        assert!(!caps.would_enable("tungstenite::protocol", &Level::DEBUG));
        assert!(!caps.would_enable("tokio_tungstenite", &Level::TRACE));
        assert!(!caps.would_enable("h2::codec", &Level::DEBUG));
        assert!(!caps.would_enable("sqlx::query", &Level::DEBUG));
        assert!(caps.would_enable("walletd_engine::session", &Level::TRACE));
    }
}
