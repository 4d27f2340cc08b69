//! Listeners, the `started` announcement, and graceful shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::ServiceExt;
use axum::extract::Request;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Layer as _;
use tower::util::MapRequestLayer;
use walletd_common::http::strip_tenant_prefix;

use crate::app::{self, Plan};

/// How long after start-up the system CA roots are read (see `run`).
const CA_ROOTS_AFTER_START: Duration = Duration::from_millis(500);

/// Runs walletd until SIGTERM/SIGINT, then drains: stop accepting, let in-flight requests finish within
/// `server.shutdown_grace`, exit.
pub async fn run(plan: Plan) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // Listening for the signals before anything can answer a request: one sent as soon as the process looks
    // ready (its `started` line, its first /readyz) must start the drain, not be lost or kill it outright.
    let mut signals = ShutdownSignals::install()?;
    let app = app::build(&plan).await?;
    let server = &plan.config.server;

    let http = bind(server.listen, server.http_port, "http").await?;
    let ws = match (&app.ws, server.ws_port) {
        (Some(_), Some(port)) => Some(bind(server.listen, port, "ws").await?),
        _ => None,
    };
    let admin = match (&app.admin, server.admin_port) {
        (Some(_), Some(port)) => {
            let listen = plan.config.admin.listen;
            if !listen.is_loopback() {
                // The admin API changes tenants and issuers: it belongs on a private interface behind its token.
                tracing::warn!(
                    admin_listen = %listen,
                    "the admin API is reachable beyond loopback (admin.listen); keep its port off public networks"
                );
            }
            Some(bind(listen, port, "admin").await?)
        }
        _ => None,
    };

    let shutdown = CancellationToken::new();
    let addr_of = |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.to_string());
    tracing::info!(
        roles = %plan.roles,
        http = %http.local_addr()?,
        ws = addr_of(&ws),
        admin = addr_of(&admin),
        startup_ms = started.elapsed().as_millis() as u64,
        worker_threads = tokio::runtime::Handle::current().metrics().num_workers(),
        "started"
    );

    // The system CA roots (about 145 files, a few milliseconds of CPU) are read shortly after start-up rather than
    // by the first outbound TLS handshake, and not during start-up, whose first readiness probe they slowed on a
    // busy machine. An earlier handshake reads them itself. Without them every outbound HTTPS request fails; the
    // roles that need none keep serving, and the log says why.
    tokio::spawn(async {
        tokio::time::sleep(CA_ROOTS_AFTER_START).await;
        let loaded = tokio::task::spawn_blocking(walletd_egress::tls::load_system_roots).await;
        if let Ok(Err(e)) = loaded {
            tracing::error!(error = %e, "cannot load the system CA roots: every outbound HTTPS request will fail");
        }
    });

    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(serve_listener(http, app.http, shutdown.clone()));
    if let (Some(l), Some(r)) = (ws, app.ws) {
        servers.spawn(serve_listener(l, r, shutdown.clone()));
    }
    if let (Some(l), Some(r)) = (admin, app.admin) {
        servers.spawn(serve_listener(l, r, shutdown.clone()));
    }

    tokio::select! {
        signal = signals.recv() => {
            tracing::info!(signal, grace_ms = server.shutdown_grace.as_millis() as u64, "shutting down");
        }
        Some(result) = servers.join_next() => {
            // A listener ended without being asked to: that is a failure, not a shutdown.
            result.context("listener task failed")??;
            anyhow::bail!("a listener stopped unexpectedly");
        }
    }
    app.readiness.start_draining();
    if let Some(engine) = &app.engine {
        // WebSockets outlive axum's graceful shutdown (they are upgraded): close them with 1001 first.
        engine.shutdown(server.shutdown_grace.min(Duration::from_secs(5))).await;
    }
    shutdown.cancel();

    let drained = tokio::time::timeout(server.shutdown_grace, async {
        while let Some(result) = servers.join_next().await {
            if let Ok(Err(e)) = result {
                tracing::warn!(error = %e, "listener ended with an error during shutdown");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("shutdown grace period over; closing the remaining connections");
        servers.abort_all();
    }
    if let Some(store) = app.store {
        // Bounded: a wedged database must not keep the process alive past its grace period.
        let _ = tokio::time::timeout(Duration::from_secs(2), store.close()).await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn bind(ip: std::net::IpAddr, port: u16, name: &str) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({name} listener)"))
}

async fn serve_listener(listener: TcpListener, router: Router, shutdown: CancellationToken) -> anyhow::Result<()> {
    // The `/t/{tenant}` alias must rewrite the path before routing, so it wraps the router from outside.
    let app = MapRequestLayer::new(strip_tenant_prefix).layer(router);
    // Small frames written back to back (WebSocket progress frames, then the terminal frame) must not wait for the
    // peer's delayed ACK: without TCP_NODELAY every engine flow lost ~80 ms to Nagle (see docs/performance.md).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
    .context("server error")
}

/// The termination signals (SIGTERM, SIGINT), listened for from the moment [`ShutdownSignals::install`] returns.
struct ShutdownSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<ShutdownSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ShutdownSignals {
                term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignals {})
    }

    /// Resolves with the name of the first termination signal received since `install`.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "ctrl-c"
        }
    }
}
