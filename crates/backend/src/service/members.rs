//! A tenant's invites and members (the accounts of a tenant), and reading the audit log.

use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use walletd_db::{AuditEntry, BlobOwner, Invite, now_millis};

use super::{AdminError, AdminService};

/// A new invite: both optional; a random code is generated when none is given.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    pub code: Option<String>,
    /// Absolute expiry, milliseconds since the epoch.
    pub expires_at: Option<i64>,
    /// Relative expiry in seconds (ignored when `expires_at` is given).
    pub expires_in: Option<i64>,
}

/// Which audit entries to read.
#[derive(Deserialize)]
pub struct AuditQuery {
    pub tenant_id: Option<String>,
    /// At most this many (1-1000, default 100), newest first.
    pub limit: Option<i64>,
}

fn valid_code(code: &str) -> bool {
    (4..=128).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl AdminService {
    /// The invites of tenant `t`.
    pub async fn list_invites(&self, t: &str) -> Result<Vec<Invite>, AdminError> {
        self.existing_tenant(t).await?;
        Ok(self.store.list_invites(t).await?)
    }

    /// Creates an invite for tenant `t`.
    pub async fn create_invite(&self, actor: &str, t: &str, b: NewInvite) -> Result<Invite, AdminError> {
        self.existing_tenant(t).await?;
        let code = match b.code {
            Some(c) if valid_code(&c) => c,
            Some(_) => {
                return Err(AdminError::Invalid(
                    "code must be 4-128 characters of [A-Za-z0-9._-]".into(),
                ));
            }
            None => {
                let bytes: [u8; 16] = rand::random();
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
            }
        };
        let expires_at = match (b.expires_at, b.expires_in) {
            (Some(at), _) => Some(at),
            (None, Some(secs)) if secs > 0 => Some(now_millis().saturating_add(secs.saturating_mul(1000))),
            (None, Some(_)) => return Err(AdminError::Invalid("expires_in must be positive".into())),
            (None, None) => None,
        };
        self.store.create_invite(t, &code, expires_at).await?;
        let invite = Invite {
            code,
            tenant_id: t.to_string(),
            created_at: now_millis(),
            expires_at,
            used_by: None,
            used_at: None,
        };
        // The code is a bearer secret for registration: the audit log records that an invite was made, not its code.
        self.audit(actor, "invite.create", Some(t), None, json!({"expires_at": expires_at}))
            .await?;
        Ok(invite)
    }

    /// Revokes invite `code` of tenant `t`.
    pub async fn delete_invite(&self, actor: &str, t: &str, code: &str) -> Result<(), AdminError> {
        self.existing_tenant(t).await?;
        self.store.delete_invite(t, code).await?;
        self.audit(actor, "invite.delete", Some(t), None, json!({})).await
    }

    /// The user ids of tenant `t`.
    pub async fn list_users(&self, t: &str) -> Result<Vec<String>, AdminError> {
        self.existing_tenant(t).await?;
        Ok(self.store.list_tenant_user_ids(t).await?)
    }

    /// Ends a membership. An account belongs to exactly one tenant (its passkeys' user handles embed the tenant),
    /// so this removes the account: passkeys, refresh tokens and blobs.
    pub async fn delete_user(&self, actor: &str, t: &str, user: &str) -> Result<(), AdminError> {
        self.existing_tenant(t).await?;
        let member = self.store.get_user(user).await?;
        if member.is_none_or(|u| u.tenant_id != t) {
            return Err(AdminError::NotFound(format!("no user `{user}` in tenant `{t}`")));
        }
        self.store
            .blob_delete_user(BlobOwner {
                tenant_id: t,
                user_id: user,
            })
            .await?;
        self.store.delete_user(user).await?;
        self.audit(actor, "user.delete", Some(t), Some(user.to_string()), json!({}))
            .await
    }

    /// Audit entries, newest first.
    pub async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, AdminError> {
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        Ok(self.store.list_audit(q.tenant_id.as_deref(), limit).await?)
    }
}
