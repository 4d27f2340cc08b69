//! What the engine enforces of the caller's tenant before it runs anything: an unknown or disabled tenant's tokens
//! are refused (at the handshake, and again at every flow start, so disabling a tenant ends its live sessions at
//! their next flow), a protocol outside the tenant's `allowed_protocols` is refused, and the per-user budgets of
//! connections and flow starts (`rate_limits.engine_*`, tenant overrides) are spent. Without a tenant directory
//! (no `tenants.source` and no database in the process) only the budgets apply.

use walletd_common::http::AuthUser;
use walletd_common::limits::{LimitKind, Limited};
use walletd_protocol::{ErrorCode, Protocol};

use crate::Engine;

/// Why the engine refuses: the API v2 code and message, and whether the session must end (the token is no longer
/// accepted) or only this flow is refused.
pub(crate) struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub end_session: bool,
    /// When a spent budget is available again (seconds; 0 for other refusals).
    pub retry_after_secs: u64,
}

impl Refusal {
    fn limited(l: Limited, what: &str) -> Refusal {
        Refusal {
            code: ErrorCode::TooManyRequests,
            message: format!("too many {what}; retry in {} s", l.retry_after_secs()),
            end_session: false,
            retry_after_secs: l.retry_after_secs(),
        }
    }
}

/// The tenant's protocol name as `allowed_protocols` lists it.
fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Oid4vci => "oid4vci",
        Protocol::Oid4vp => "oid4vp",
        Protocol::Vctm => "vctm",
    }
}

/// Checks the tenant exists and is enabled; returns its allowed protocols (empty: all).
async fn enabled_tenant(engine: &Engine, tenant_id: &str) -> Result<Vec<String>, Refusal> {
    let Some(directory) = engine.directory() else {
        return Ok(Vec::new());
    };
    match directory.tenant(tenant_id).await {
        Ok(Some(t)) if t.enabled => Ok(t.allowed_protocols),
        Ok(Some(_)) => Err(Refusal {
            code: ErrorCode::Forbidden,
            message: format!("tenant `{tenant_id}` is disabled"),
            end_session: true,
            retry_after_secs: 0,
        }),
        Ok(None) => Err(Refusal {
            code: ErrorCode::Forbidden,
            message: format!("unknown tenant `{tenant_id}`"),
            end_session: true,
            retry_after_secs: 0,
        }),
        Err(e) => {
            tracing::warn!(tenant = %tenant_id, error = %e, "cannot read the tenant; refusing until it can be checked");
            Err(Refusal {
                code: ErrorCode::InternalError,
                message: "the tenant's configuration cannot be read now; try again".into(),
                end_session: false,
                retry_after_secs: 0,
            })
        }
    }
}

/// A new session of `user`: its tenant is usable and the user's connection budget is not spent.
pub(crate) async fn admit_session(engine: &Engine, user: &AuthUser) -> Result<(), Refusal> {
    enabled_tenant(engine, &user.tenant_id).await?;
    engine
        .rate_limits()
        .check(LimitKind::EngineConnections, Some(&user.tenant_id), &user.user_id)
        .await
        .map_err(|l| Refusal::limited(l, "connections"))
}

/// A `flow_start` of `protocol`: the tenant is still usable, allows the protocol (VCTM, a read of public type
/// metadata, is always allowed), and the user's flow budget is not spent.
pub(crate) async fn admit_flow(engine: &Engine, user: &AuthUser, protocol: Protocol) -> Result<(), Refusal> {
    let allowed = enabled_tenant(engine, &user.tenant_id).await?;
    let name = protocol_name(protocol);
    if protocol != Protocol::Vctm && !allowed.is_empty() && !allowed.iter().any(|p| p.eq_ignore_ascii_case(name)) {
        return Err(Refusal {
            code: ErrorCode::Forbidden,
            message: format!(
                "protocol `{name}` is not allowed for tenant `{}` (allowed: {})",
                user.tenant_id,
                allowed.join(", ")
            ),
            end_session: false,
            retry_after_secs: 0,
        });
    }
    engine
        .rate_limits()
        .check(LimitKind::EngineFlows, Some(&user.tenant_id), &user.user_id)
        .await
        .map_err(|l| Refusal::limited(l, "flow starts"))
}
