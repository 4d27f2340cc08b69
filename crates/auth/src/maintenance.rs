//! Background work of the auth role: advancing key rotation and deleting expired ceremonies.

use std::time::Duration;

use walletd_common::config::Config;
use walletd_store::{Store, now_millis};

use crate::keyring::KeyRing;

/// Spawns the auth role's periodic task on the current runtime. It rotates the signing key every
/// `auth.key_rotation_interval` (when set), activates published keys after `auth.key_publish_delay`, drops old keys
/// once `jwt.access_token_ttl + jwt.leeway` has passed, and deletes expired challenges.
pub fn spawn_maintenance(ring: KeyRing, store: Store, config: &Config) -> tokio::task::JoinHandle<()> {
    let rotation = config.auth.key_rotation_interval;
    let publish_delay = config.auth.key_publish_delay;
    let retain = config.jwt.access_token_ttl + config.jwt.leeway;
    // Fine enough to activate a published key close to its due time, coarse enough to cost nothing.
    let tick = Duration::from_secs(5).min(publish_delay.max(Duration::from_millis(200)));
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_rotation = tokio::time::Instant::now();
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            interval.tick().await;
            if let Some(every) = rotation
                && last_rotation.elapsed() >= every
            {
                last_rotation = tokio::time::Instant::now();
                if let Err(e) = ring.rotate(publish_delay, retain) {
                    tracing::error!(error = %e, "signing key rotation failed");
                }
            }
            ring.tick();
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
