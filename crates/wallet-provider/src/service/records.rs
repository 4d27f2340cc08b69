//! What every issuance shares: finding or creating the wallet instance, the limits and quota, and recording the
//! attestation under a free status list index.

use rand::Rng;
use walletd_common::limits::LimitKind;
use walletd_db::{AttestationRecord, StoreError, WalletInstance, now_millis};

use super::{Caller, WalletProviderService, WpError};
use crate::limits::RateLimited;

/// How many random indexes are tried before the list counts as full.
const INDEX_PROBES: usize = 16;

impl WalletProviderService {
    /// The instance `key_ref` names, created for the caller on first use. Refused when revoked or when it belongs
    /// to another tenant or user.
    pub(super) async fn instance_for(
        &self,
        caller: &Caller,
        key_ref: &str,
        passkey_id: Option<&str>,
    ) -> Result<WalletInstance, WpError> {
        let store = &self.inner.store;
        let now = now_millis();
        let found = match store.wallet_instance_by_ref(key_ref).await? {
            Some(i) => i,
            None => {
                let new = WalletInstance {
                    id: uuid::Uuid::new_v4().to_string(),
                    tenant_id: caller.tenant_id.clone(),
                    key_ref: key_ref.to_string(),
                    user_id: caller.user_id.clone(),
                    passkey_id: passkey_id.map(str::to_string),
                    created_at: now,
                    last_seen_at: now,
                    revoked_at: None,
                };
                match store.insert_wallet_instance(&new).await {
                    Ok(()) => {
                        tracing::info!(instance = %new.id, tenant = %new.tenant_id, "wallet instance created");
                        return Ok(new);
                    }
                    // A concurrent request created it: use that one.
                    Err(StoreError::Conflict(_)) => store
                        .wallet_instance_by_ref(key_ref)
                        .await?
                        .ok_or_else(|| WpError::NotFound("wallet instance vanished".into()))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        self.check_owned(caller, &found)?;
        store.touch_wallet_instance(&found.id, now).await?;
        Ok(found)
    }

    /// The caller's own instance `id` (service route naming an instance).
    pub(super) async fn named_instance(&self, caller: &Caller, id: &str) -> Result<WalletInstance, WpError> {
        let found = self
            .inner
            .store
            .wallet_instance(&caller.tenant_id, id)
            .await?
            // Another tenant's instance id is answered like a foreign one, without saying it exists.
            .ok_or(WpError::InstanceNotOwned)?;
        self.check_owned(caller, &found)?;
        Ok(found)
    }

    fn check_owned(&self, caller: &Caller, i: &WalletInstance) -> Result<(), WpError> {
        if i.tenant_id != caller.tenant_id || i.user_id != caller.user_id {
            return Err(WpError::InstanceNotOwned);
        }
        if i.revoked_at.is_some() {
            return Err(WpError::InstanceRevoked);
        }
        Ok(())
    }

    /// Per-user rate limit (checked before any work).
    pub(super) async fn limit_user(&self, caller: &Caller) -> Result<(), WpError> {
        self.inner
            .limits
            .check(
                LimitKind::WalletProviderPerUser,
                Some(&caller.tenant_id),
                &caller.user_id,
            )
            .await
            .map_err(|l| {
                WpError::RateLimited(RateLimited {
                    retry_after: l.retry_after,
                    what: "user",
                })
            })
    }

    /// Per-instance rate limit and the quota of unexpired attestations.
    pub(super) async fn limit_instance(&self, instance: &WalletInstance) -> Result<(), WpError> {
        self.inner
            .limits
            .check(
                LimitKind::WalletProviderPerInstance,
                Some(&instance.tenant_id),
                &instance.id,
            )
            .await
            .map_err(|l| {
                WpError::RateLimited(RateLimited {
                    retry_after: l.retry_after,
                    what: "instance",
                })
            })?;
        let live = self
            .inner
            .store
            .count_live_wp_attestations(&instance.id, now_millis())
            .await?;
        if live >= i64::from(self.inner.settings.max_live_per_instance) {
            return Err(WpError::RateLimited(RateLimited {
                retry_after: self.inner.settings.key_attestation_ttl,
                what: "instance (unexpired attestations)",
            }));
        }
        Ok(())
    }

    /// Records an attestation of `kind` for `instance` under a random free status list index; returns the index.
    /// Random rather than sequential, so an index says nothing about when or in which order it was issued.
    pub(super) async fn record(
        &self,
        instance: &WalletInstance,
        kind: &str,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<i64, WpError> {
        let size = self.inner.settings.status_list_size;
        for _ in 0..INDEX_PROBES {
            let idx = i64::from(rand::rng().random_range(0..size));
            let rec = AttestationRecord {
                id: uuid::Uuid::new_v4().to_string(),
                tenant_id: instance.tenant_id.clone(),
                instance_id: instance.id.clone(),
                kind: kind.to_string(),
                status_idx: idx,
                issued_at,
                expires_at,
            };
            match self.inner.store.insert_wp_attestation(&rec).await {
                Ok(()) => return Ok(idx),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(WpError::StatusListFull)
    }
}
