//! Background work of the auth role: the shared key ring's schedule and deleting expired ceremonies.

use std::time::Duration;

use walletd_common::config::Config;
use walletd_db::{Store, now_millis};

use crate::keyring::KeyRing;

/// Spawns the auth role's periodic task on the current runtime. Every `auth.key_reload_interval` it rotates the
/// signing key when the newest key is older than `auth.key_rotation_interval` (one replica wins), reloads the key
/// ring written by any replica and deletes retired keys; every minute it deletes expired challenges. Switching to
/// a published key needs no tick: the ring picks the signing key by its `use_from` time on every signature.
pub fn spawn_maintenance(ring: KeyRing, store: Store, config: &Config) -> tokio::task::JoinHandle<()> {
    let tick = config.auth.key_reload_interval;
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            interval.tick().await;
            if let Err(e) = ring.rotate_if_due().await {
                tracing::error!(error = %e, "signing key rotation failed");
            }
            match ring.drop_retired().await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "retired signing keys removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "removing retired signing keys failed"),
            }
            if let Err(e) = ring.reload().await {
                tracing::warn!(error = %e, "reloading the signing key ring failed; the keys already loaded stay");
            }
            if last_cleanup.elapsed() >= Duration::from_secs(60) {
                last_cleanup = tokio::time::Instant::now();
                match store.delete_expired_challenges(now_millis()).await {
                    Ok(n) if n > 0 => tracing::debug!(deleted = n, "expired WebAuthn challenges removed"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "removing expired challenges failed"),
                }
            }
        }
    })
}
