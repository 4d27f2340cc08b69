//! The wallet provider's background task: every `status_list_refresh` it re-signs the status list from the
//! database (so revocations made by other replicas are published) and purges expired attestations and challenges.

use std::time::Duration;

use crate::service::WalletProviderService;

/// Spawns the refresh loop; it runs until the process ends.
pub fn spawn_worker(service: WalletProviderService) -> tokio::task::JoinHandle<()> {
    let every = service.settings().status_list_refresh;
    tokio::spawn(async move {
        // The first run comes shortly after start-up; a status list asked for before it is built on demand.
        let mut tick = walletd_common::background::interval(every.max(Duration::from_secs(1)));
        loop {
            tick.tick().await;
            run_once(&service).await;
        }
    })
}

/// One step of the worker: refresh the list, then purge. Failures are logged and retried on the next tick.
pub async fn run_once(service: &WalletProviderService) {
    if let Err(e) = service.refresh_status_list().await {
        tracing::warn!(error = %e, "status list refresh failed");
    }
    match service.purge_expired().await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(rows = n, "expired wallet-provider rows purged"),
        Err(e) => tracing::warn!(error = %e, "wallet-provider purge failed"),
    }
}
