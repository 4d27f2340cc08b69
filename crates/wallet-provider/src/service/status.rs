//! The signed status list: rebuilt from the database (the revoked, unexpired attestations) by the worker every
//! `status_list_refresh`, after each revocation in this process, and on first request; served from memory.

use std::sync::RwLock;
use std::time::Duration;

use serde_json::json;
use walletd_db::now_millis;

use super::{STATUS_LIST_TYP, WalletProviderService, WpError, millis, secs};
use crate::signer::sign_jwt;
use crate::statuslist::StatusBits;

/// The current status list token.
#[derive(Debug, Clone)]
pub struct StatusListToken {
    /// The compact `statuslist+jwt`.
    pub jwt: String,
    /// How long clients may cache it (the refresh interval).
    pub max_age: Duration,
}

#[derive(Default)]
pub(super) struct StatusCache {
    current: RwLock<Option<StatusListToken>>,
    /// Serialises rebuilds so a burst of revocations signs once per step, not once per request.
    rebuild: tokio::sync::Mutex<()>,
}

impl WalletProviderService {
    /// The status list token, built now if none is cached yet.
    pub async fn status_list(&self) -> Result<StatusListToken, WpError> {
        if let Some(t) = self.cached_status_list() {
            return Ok(t);
        }
        self.refresh_status_list().await
    }

    fn cached_status_list(&self) -> Option<StatusListToken> {
        self.inner
            .status
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Rebuilds and re-signs the status list from the database.
    pub async fn refresh_status_list(&self) -> Result<StatusListToken, WpError> {
        let _one_at_a_time = self.inner.status.rebuild.lock().await;
        let s = &self.inner.settings;
        let now = now_millis();
        let mut bits = StatusBits::new(s.status_list_size);
        for idx in self.inner.store.revoked_wp_status_indexes(now).await? {
            bits.revoke(u64::try_from(idx).unwrap_or(u64::MAX));
        }
        // Valid for two refresh intervals: a cached copy served up to one interval old is still unexpired.
        let exp = now.saturating_add(millis(s.status_list_refresh).saturating_mul(2));
        let claims = json!({
            "sub": s.status_list_uri(),
            "iss": s.issuer,
            "iat": secs(now),
            "exp": secs(exp),
            "ttl": s.status_list_refresh.as_secs(),
            "status_list": bits.claim(),
        });
        let jwt = sign_jwt(self.inner.signer.as_ref(), STATUS_LIST_TYP, &claims).await?;
        let token = StatusListToken {
            jwt,
            max_age: s.status_list_refresh,
        };
        *self.inner.status.current.write().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// Deletes attestations expired for longer than the status list's lifetime (their indexes become free) and
    /// expired challenges.
    pub async fn purge_expired(&self) -> Result<u64, WpError> {
        let now = now_millis();
        let grace = millis(self.inner.settings.status_list_refresh).saturating_mul(2);
        Ok(self
            .inner
            .store
            .purge_wallet_provider(now.saturating_sub(grace), now)
            .await?)
    }
}
