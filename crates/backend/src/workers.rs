//! Background work of the backend role: trust refresh of registered issuers/verifiers before their verdict's TTL
//! runs out, cleanup of expired WebAuthn challenges and old storage tombstones, and the signing-key rotation hook.
//!
//! Time comes from a [`Clock`], so tests drive the schedule with a [`ManualClock`] and [`Workers::tick`]; the
//! process runs [`Workers::spawn`], which ticks once per `tick_interval` of real time.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use walletd_db::{EntityKind, Store, TrustState, now_millis};
use walletd_trust::{Action, EvaluationRequest, Subject, TenantTrustSettings, TrustClient, TrustConfig};

/// A source of "now" in milliseconds since the epoch.
pub trait Clock: Send + Sync {
    /// The current time, milliseconds since the epoch.
    fn now_millis(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        now_millis()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `start` (milliseconds).
    pub fn new(start: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Called by the rotation task; the argument is the clock's now. Rotation itself belongs to the auth role's
/// `KeyRing` (see [`WorkerSettings::key_rotation`]).
pub type KeyRotationHook = Arc<dyn Fn(i64) + Send + Sync>;

/// Schedules and limits of the workers.
#[derive(Clone)]
pub struct WorkerSettings {
    /// How often the trust task looks for verdicts that are due.
    pub trust_interval: Duration,
    /// Verdict lifetime for tenants without their own `trust_config.trust_ttl`.
    pub default_trust_ttl: Duration,
    /// A verdict is refreshed once this fraction of its TTL has passed (before it expires).
    pub refresh_fraction: f64,
    /// Most entities refreshed per tick and kind (bounds each tick's work).
    pub trust_batch: i64,
    /// How often expired challenges and old tombstones are removed.
    pub cleanup_interval: Duration,
    /// Tombstones older than this are purged (`storage.tombstone_retention`).
    pub tombstone_retention: Duration,
    /// How often the rotation hook runs; `None` never.
    pub key_rotation_interval: Option<Duration>,
    /// The rotation hook; `None` is the explicit no-op (the auth role rotates its own keys in its maintenance
    /// task, so a backend worker must not rotate a second time).
    pub key_rotation: Option<KeyRotationHook>,
    /// Real-time period of [`Workers::spawn`]'s loop.
    pub tick_interval: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            trust_interval: Duration::from_secs(60),
            default_trust_ttl: Duration::from_secs(300),
            refresh_fraction: 0.8,
            trust_batch: 200,
            cleanup_interval: Duration::from_secs(300),
            tombstone_retention: Duration::from_secs(30 * 24 * 3600),
            key_rotation_interval: None,
            key_rotation: None,
            tick_interval: Duration::from_secs(1),
        }
    }
}

/// What one [`Workers::tick`] did (for logs and tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Trust verdicts evaluated and stored.
    pub trust_refreshed: usize,
    /// Expired challenges removed (`None` when cleanup was not due).
    pub challenges_removed: Option<u64>,
    /// Tombstones purged (`None` when cleanup was not due).
    pub tombstones_purged: Option<u64>,
    /// Whether the rotation hook ran.
    pub rotated: bool,
}

/// The backend's background tasks.
pub struct Workers {
    store: Store,
    trust: TrustClient,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
    next_trust: i64,
    next_cleanup: i64,
    next_rotation: Option<i64>,
}

impl Workers {
    /// Workers over `store`. The trust client is built from `trust` with caching off, so each refresh asks the
    /// PDP rather than reading back the verdict being refreshed.
    pub fn new(
        store: Store,
        trust: &TrustConfig,
        clock: Arc<dyn Clock>,
        settings: WorkerSettings,
    ) -> Result<Self, walletd_trust::TrustError> {
        let mut cfg = trust.clone();
        cfg.cache_ttl = Duration::ZERO;
        cfg.stale_ttl = Duration::ZERO;
        let trust = TrustClient::new(cfg)?;
        let now = clock.now_millis();
        let next_rotation = settings.key_rotation_interval.map(|d| now + millis(d));
        Ok(Workers {
            store,
            trust,
            clock,
            settings,
            // Trust refresh and cleanup run on the first tick, then on their intervals.
            next_trust: now,
            next_cleanup: now,
            next_rotation,
        })
    }

    /// Runs every task that is due at the clock's now.
    pub async fn tick(&mut self) -> TickReport {
        let now = self.clock.now_millis();
        let mut report = TickReport::default();
        if now >= self.next_trust {
            self.next_trust = now + millis(self.settings.trust_interval);
            report.trust_refreshed = self.refresh_trust(now).await;
        }
        if now >= self.next_cleanup {
            self.next_cleanup = now + millis(self.settings.cleanup_interval);
            let (c, t) = self.cleanup(now).await;
            report.challenges_removed = Some(c);
            report.tombstones_purged = Some(t);
        }
        if let (Some(due), Some(every)) = (self.next_rotation, self.settings.key_rotation_interval)
            && now >= due
        {
            self.next_rotation = Some(now + millis(every));
            if let Some(hook) = &self.settings.key_rotation {
                hook(now);
                report.rotated = true;
            }
        }
        report
    }

    /// Ticks every `tick_interval` for the life of the process, the first time shortly after start-up
    /// ([`walletd_common::background::interval`]).
    pub fn spawn(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut every = walletd_common::background::interval(self.settings.tick_interval);
            loop {
                every.tick().await;
                let report = self.tick().await;
                if report != TickReport::default() {
                    tracing::debug!(?report, "backend workers ran");
                }
            }
        })
    }

    async fn refresh_trust(&self, now: i64) -> usize {
        let tenants = match self.store.list_tenants().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "trust refresh: cannot list tenants");
                return 0;
            }
        };
        let ttl_of = |t: Option<u64>| t.map(Duration::from_secs).unwrap_or(self.settings.default_trust_ttl);
        let by_tenant: HashMap<String, (TenantTrustSettings, i64)> = tenants
            .iter()
            .map(|t| {
                let ttl = ttl_of(t.trust_config.trust_ttl);
                let margin = (millis(ttl) as f64 * self.settings.refresh_fraction) as i64;
                let mut settings = t.trust_settings();
                // The tenant's TTL decides when to refresh; the client must not answer from its own cache.
                settings.cache_ttl = Some(Duration::ZERO);
                (t.id.clone(), (settings, margin))
            })
            .collect();
        // The shortest refresh margin of any tenant selects the candidates; each is then checked against its own.
        let min_margin = by_tenant
            .values()
            .map(|(_, m)| *m)
            .min()
            .unwrap_or(millis(self.settings.default_trust_ttl));
        let due = match self
            .store
            .trust_due(now - min_margin + 1, self.settings.trust_batch)
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "trust refresh: cannot list due entities");
                return 0;
            }
        };
        let mut refreshed = 0;
        for d in due {
            let Some((tenant, margin)) = by_tenant.get(&d.tenant_id) else {
                continue;
            };
            if d.evaluated_at.is_some_and(|at| now - at < *margin) {
                continue;
            }
            let action = match d.kind {
                EntityKind::Issuer => "credential-issuer",
                EntityKind::Verifier => "credential-verifier",
            };
            let request = EvaluationRequest {
                subject: Subject {
                    kind: "key".into(),
                    id: d.entity.clone(),
                },
                resource: None,
                action: Some(Action { name: action.into() }),
                context: Default::default(),
            };
            let verdict = self.trust.evaluate(tenant, &request).await;
            let status = match verdict.trusted {
                Some(true) => "trusted",
                Some(false) => "untrusted",
                None => "unknown",
            };
            let state = TrustState {
                status: Some(status.into()),
                framework: verdict.framework.clone(),
                evaluated_at: Some(now),
            };
            match self.store.set_trust(d.kind, d.id, &state).await {
                Ok(()) => refreshed += 1,
                Err(e) => tracing::warn!(error = %e, "trust refresh: cannot store the verdict"),
            }
        }
        refreshed
    }

    async fn cleanup(&self, now: i64) -> (u64, u64) {
        let challenges = self.store.delete_expired_challenges(now).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "removing expired challenges failed");
            0
        });
        let cutoff = now - millis(self.settings.tombstone_retention);
        let tombstones = self
            .store
            .blob_purge_tombstones(None, cutoff)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "tombstone purge failed");
                0
            });
        (challenges, tombstones)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}
