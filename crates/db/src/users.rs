//! Accounts and their passkeys (auth role).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_millis};

/// An account. Belongs to exactly one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// UUID; the `sub` of the user's tokens.
    pub id: String,
    pub tenant_id: String,
    pub display_name: String,
    pub username: Option<String>,
    /// The web client's account settings, a JSON object.
    pub settings: serde_json::Value,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnCredential {
    /// Server-side id (UUID) used by the credential management routes.
    pub id: String,
    /// The authenticator's credential id.
    pub credential_id: Vec<u8>,
    pub user_id: String,
    /// The tenant the credential was registered in; logins take the tenant from here.
    pub tenant_id: String,
    /// The verifier's credential record (public key, policy) as JSON; opaque to the store.
    pub credential: String,
    pub sign_count: i64,
    pub nickname: Option<String>,
    pub prf_capable: bool,
    pub aaguid: Option<String>,
    /// Set once a sign-count regression was seen (possible cloned authenticator).
    pub clone_warning: bool,
    pub created_at: i64,
    pub last_used_at: i64,
}

/// Why a passkey could not be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialDeletion {
    Deleted,
    NotFound,
    /// It is the account's only passkey: deleting it would lock the user out.
    LastCredential,
}

const CREDENTIAL_COLUMNS: &str = "id, credential_id, user_id, tenant_id, credential, sign_count, nickname, prf_capable, \
                                  aaguid, clone_warning, created_at, last_used_at";

impl Store {
    /// Creates an account together with its first passkey, atomically. `Conflict` when the credential id is
    /// already registered.
    pub async fn create_user_with_credential(
        &self,
        user: &User,
        credential: &WebauthnCredential,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, display_name, username, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&user.id)
        .bind(&user.tenant_id)
        .bind(&user.display_name)
        .bind(user.username.as_deref())
        .bind(user.settings.to_string())
        .bind(user.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, "user"))?;
        insert_credential(&mut tx, credential).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One account by id.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, tenant_id, display_name, username, settings, created_at, updated_at FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    /// Replaces an account's settings object.
    pub async fn update_user_settings(&self, id: &str, settings: &serde_json::Value) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET settings = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(settings.to_string())
            .bind(now_millis())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user".into()));
        }
        Ok(())
    }

    /// Deletes an account with its passkeys and refresh tokens (its blobs belong to the storage role).
    pub async fn delete_user(&self, id: &str) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        for sql in [
            "DELETE FROM webauthn_credentials WHERE user_id = $1",
            "DELETE FROM refresh_tokens WHERE user_id = $1",
            "DELETE FROM webauthn_challenges WHERE user_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user".into()));
        }
        Ok(())
    }

    /// Adds a passkey to an existing account. `Conflict` when the credential id is already registered.
    pub async fn add_credential(&self, credential: &WebauthnCredential) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        insert_credential(&mut tx, credential).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The passkey with this authenticator credential id.
    pub async fn get_credential_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<WebauthnCredential>, StoreError> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE credential_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(credential_id.to_vec())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| credential_from_row(&r)).transpose()
    }

    /// An account's passkeys, oldest first.
    pub async fn list_credentials(&self, user_id: &str) -> Result<Vec<WebauthnCredential>, StoreError> {
        let sql =
            format!("SELECT {CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(credential_from_row).collect()
    }

    /// Records a successful use: the new sign count (never lowered), the clone flag and the time.
    pub async fn record_credential_use(
        &self,
        id: &str,
        sign_count: i64,
        clone_warning: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webauthn_credentials SET sign_count = CASE WHEN sign_count > $2 THEN sign_count ELSE $2 END, \
             clone_warning = CASE WHEN clone_warning = 1 THEN 1 ELSE $3 END, last_used_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(sign_count)
        .bind(i64::from(clone_warning))
        .bind(now_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Renames one of the user's passkeys; `false` when the user has no such passkey.
    pub async fn rename_credential(&self, user_id: &str, id: &str, nickname: Option<&str>) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE webauthn_credentials SET nickname = $3 WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .bind(nickname)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes one of the user's passkeys unless it is the last one, in one statement (two concurrent deletes of
    /// the last two passkeys cannot both succeed on PostgreSQL's row locks or SQLite's single writer).
    pub async fn delete_credential_unless_last(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<CredentialDeletion, StoreError> {
        let done = sqlx::query(
            "DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2 \
             AND (SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = $2) > 1",
        )
        .bind(id)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 1 {
            return Ok(CredentialDeletion::Deleted);
        }
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT sign_count FROM webauthn_credentials WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(match exists {
            Some(_) => CredentialDeletion::LastCredential,
            None => CredentialDeletion::NotFound,
        })
    }
}

async fn insert_credential(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    c: &WebauthnCredential,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webauthn_credentials (id, credential_id, user_id, tenant_id, credential, sign_count, nickname, \
         prf_capable, aaguid, clone_warning, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&c.id)
    .bind(c.credential_id.clone())
    .bind(&c.user_id)
    .bind(&c.tenant_id)
    .bind(&c.credential)
    .bind(c.sign_count)
    .bind(c.nickname.as_deref())
    .bind(i64::from(c.prf_capable))
    .bind(c.aaguid.as_deref())
    .bind(i64::from(c.clone_warning))
    .bind(c.created_at)
    .bind(c.last_used_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_or(e, "webauthn credential"))?;
    Ok(())
}

fn conflict_or(e: sqlx::Error, what: &str) -> StoreError {
    if StoreError::is_unique_violation(&e) {
        StoreError::Conflict(what.to_string())
    } else {
        e.into()
    }
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    let settings: String = row.try_get("settings")?;
    Ok(User {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        display_name: row.try_get("display_name")?,
        username: row.try_get("username")?,
        settings: serde_json::from_str(&settings).map_err(|_| StoreError::Corrupt("user settings".into()))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn credential_from_row(row: &AnyRow) -> Result<WebauthnCredential, StoreError> {
    Ok(WebauthnCredential {
        id: row.try_get("id")?,
        credential_id: row.try_get("credential_id")?,
        user_id: row.try_get("user_id")?,
        tenant_id: row.try_get("tenant_id")?,
        credential: row.try_get("credential")?,
        sign_count: row.try_get("sign_count")?,
        nickname: row.try_get("nickname")?,
        prf_capable: row.try_get::<i64, _>("prf_capable")? != 0,
        aaguid: row.try_get("aaguid")?,
        clone_warning: row.try_get::<i64, _>("clone_warning")? != 0,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}
