//! What a refusal over a limit says. The rate limits themselves (per user, per wallet instance) are budgets of the
//! process's shared limiter (`walletd_common::limits`, `LimitKind::WalletProviderPerUser` and
//! `WalletProviderPerInstance`): one budget across replicas when Redis is configured, overridable per tenant. The
//! quotas (unexpired attestations per instance, pending challenges per tenant) are counted in the database.

use std::time::Duration;

/// Over a limit or quota: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// How long until one more request is allowed.
    pub retry_after: Duration,
    /// What was limited (`user`, `instance`, `instance (unexpired attestations)`, ...).
    pub what: &'static str,
}

impl std::fmt::Display for RateLimited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many attestations for this {}; retry in {} s",
            self.what,
            self.retry_after.as_secs().max(1)
        )
    }
}
