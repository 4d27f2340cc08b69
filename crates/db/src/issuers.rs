//! Issuers and verifiers registered per tenant by the admin API (backend role), with the trust verdict the trust
//! worker last stored for each.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_millis};

/// A credential issuer registered for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRecord {
    /// Positive database id.
    pub id: i64,
    pub tenant_id: String,
    pub credential_issuer_identifier: String,
    pub client_id: Option<String>,
    /// The private client JWK (JSON text). Never leaves the backend through an API.
    pub client_jwk: Option<String>,
    pub visible: bool,
    pub trust: TrustState,
}

/// What an issuer create or update writes.
#[derive(Debug, Clone, Default)]
pub struct IssuerWrite {
    pub credential_issuer_identifier: String,
    pub client_id: Option<String>,
    pub client_jwk: Option<String>,
    pub visible: bool,
}

/// A verifier registered for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierRecord {
    pub id: i64,
    pub tenant_id: String,
    pub name: String,
    pub url: String,
    pub client_id: Option<String>,
    pub client_id_scheme: Option<String>,
    pub trust: TrustState,
}

/// What a verifier create or update writes.
#[derive(Debug, Clone, Default)]
pub struct VerifierWrite {
    pub name: String,
    pub url: String,
    pub client_id: Option<String>,
    pub client_id_scheme: Option<String>,
}

/// The last stored trust verdict of an issuer or verifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustState {
    /// `trusted`, `untrusted` or `unknown`; `None` until first evaluated.
    pub status: Option<String>,
    pub framework: Option<String>,
    /// Milliseconds since the epoch.
    pub evaluated_at: Option<i64>,
}

/// Which table a trust update is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    Issuer,
    Verifier,
}

impl EntityKind {
    fn table(self) -> &'static str {
        match self {
            EntityKind::Issuer => "issuers",
            EntityKind::Verifier => "verifiers",
        }
    }
}

/// An issuer or verifier due for a trust refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustDue {
    pub kind: EntityKind,
    pub id: i64,
    pub tenant_id: String,
    /// The entity id given to the PDP: the issuer identifier or the verifier URL.
    pub entity: String,
    pub evaluated_at: Option<i64>,
}

const ISSUER_COLUMNS: &str = "id, tenant_id, credential_issuer_identifier, client_id, client_jwk, visible, \
                              trust_status, trust_framework, trust_evaluated_at";
const VERIFIER_COLUMNS: &str =
    "id, tenant_id, name, url, client_id, client_id_scheme, trust_status, trust_framework, trust_evaluated_at";

fn conflict_or(e: sqlx::Error, what: &str) -> StoreError {
    if StoreError::is_unique_violation(&e) {
        StoreError::Conflict(what.to_string())
    } else if matches!(&e, sqlx::Error::Database(db) if db.is_foreign_key_violation()) {
        StoreError::NotFound("tenant".into())
    } else {
        e.into()
    }
}

impl Store {
    /// Registers an issuer; `Conflict` when the tenant has one with the same identifier.
    pub async fn create_issuer(&self, tenant_id: &str, w: &IssuerWrite) -> Result<IssuerRecord, StoreError> {
        let now = now_millis();
        let sql = format!(
            "INSERT INTO issuers (tenant_id, credential_issuer_identifier, client_id, client_jwk, visible, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {ISSUER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(&w.credential_issuer_identifier)
            .bind(w.client_id.as_deref())
            .bind(w.client_jwk.as_deref())
            .bind(i64::from(w.visible))
            .bind(now)
            .fetch_one(self.pool())
            .await
            .map_err(|e| conflict_or(e, "issuer"))?;
        issuer_from_row(&row)
    }

    /// A tenant's issuers, by id.
    pub async fn list_issuers(&self, tenant_id: &str) -> Result<Vec<IssuerRecord>, StoreError> {
        let sql = format!("SELECT {ISSUER_COLUMNS} FROM issuers WHERE tenant_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(issuer_from_row).collect()
    }

    /// One issuer of a tenant (another tenant's id is `None`).
    pub async fn get_issuer(&self, tenant_id: &str, id: i64) -> Result<Option<IssuerRecord>, StoreError> {
        let sql = format!("SELECT {ISSUER_COLUMNS} FROM issuers WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| issuer_from_row(&r)).transpose()
    }

    /// A tenant's issuer registered under `identifier` (the credential issuer identifier, exact match).
    pub async fn find_issuer_by_identifier(
        &self,
        tenant_id: &str,
        identifier: &str,
    ) -> Result<Option<IssuerRecord>, StoreError> {
        let sql =
            format!("SELECT {ISSUER_COLUMNS} FROM issuers WHERE tenant_id = $1 AND credential_issuer_identifier = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(identifier)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| issuer_from_row(&r)).transpose()
    }

    /// Replaces an issuer's fields (the trust verdict stays); `NotFound`, or `Conflict` on a duplicate identifier.
    pub async fn update_issuer(&self, tenant_id: &str, id: i64, w: &IssuerWrite) -> Result<IssuerRecord, StoreError> {
        let sql = format!(
            "UPDATE issuers SET credential_issuer_identifier = $3, client_id = $4, client_jwk = $5, visible = $6, \
             updated_at = $7 WHERE tenant_id = $1 AND id = $2 RETURNING {ISSUER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .bind(&w.credential_issuer_identifier)
            .bind(w.client_id.as_deref())
            .bind(w.client_jwk.as_deref())
            .bind(i64::from(w.visible))
            .bind(now_millis())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| conflict_or(e, "issuer"))?;
        row.map(|r| issuer_from_row(&r))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound("issuer".into()))
    }

    /// Deletes an issuer of a tenant; `NotFound` when there is none.
    pub async fn delete_issuer(&self, tenant_id: &str, id: i64) -> Result<(), StoreError> {
        self.delete_entity("issuers", tenant_id, id).await
    }

    /// Registers a verifier; `Conflict` when the tenant has one with the same URL.
    pub async fn create_verifier(&self, tenant_id: &str, w: &VerifierWrite) -> Result<VerifierRecord, StoreError> {
        let sql = format!(
            "INSERT INTO verifiers (tenant_id, name, url, client_id, client_id_scheme, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {VERIFIER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(&w.name)
            .bind(&w.url)
            .bind(w.client_id.as_deref())
            .bind(w.client_id_scheme.as_deref())
            .bind(now_millis())
            .fetch_one(self.pool())
            .await
            .map_err(|e| conflict_or(e, "verifier"))?;
        verifier_from_row(&row)
    }

    /// A tenant's verifiers, by id.
    pub async fn list_verifiers(&self, tenant_id: &str) -> Result<Vec<VerifierRecord>, StoreError> {
        let sql = format!("SELECT {VERIFIER_COLUMNS} FROM verifiers WHERE tenant_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(verifier_from_row).collect()
    }

    /// One verifier of a tenant.
    pub async fn get_verifier(&self, tenant_id: &str, id: i64) -> Result<Option<VerifierRecord>, StoreError> {
        let sql = format!("SELECT {VERIFIER_COLUMNS} FROM verifiers WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| verifier_from_row(&r)).transpose()
    }

    /// A tenant's verifier registered with `client_id` (exact match; the oldest when several share it).
    pub async fn find_verifier_by_client_id(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<Option<VerifierRecord>, StoreError> {
        let sql = format!(
            "SELECT {VERIFIER_COLUMNS} FROM verifiers WHERE tenant_id = $1 AND client_id = $2 ORDER BY id LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| verifier_from_row(&r)).transpose()
    }

    /// Replaces a verifier's fields; `NotFound`, or `Conflict` on a duplicate URL.
    pub async fn update_verifier(
        &self,
        tenant_id: &str,
        id: i64,
        w: &VerifierWrite,
    ) -> Result<VerifierRecord, StoreError> {
        let sql = format!(
            "UPDATE verifiers SET name = $3, url = $4, client_id = $5, client_id_scheme = $6, updated_at = $7 \
             WHERE tenant_id = $1 AND id = $2 RETURNING {VERIFIER_COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .bind(&w.name)
            .bind(&w.url)
            .bind(w.client_id.as_deref())
            .bind(w.client_id_scheme.as_deref())
            .bind(now_millis())
            .fetch_optional(self.pool())
            .await
            .map_err(|e| conflict_or(e, "verifier"))?;
        row.map(|r| verifier_from_row(&r))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound("verifier".into()))
    }

    /// Deletes a verifier of a tenant; `NotFound` when there is none.
    pub async fn delete_verifier(&self, tenant_id: &str, id: i64) -> Result<(), StoreError> {
        self.delete_entity("verifiers", tenant_id, id).await
    }

    async fn delete_entity(&self, table: &'static str, tenant_id: &str, id: i64) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {table} WHERE tenant_id = $1 AND id = $2");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(table.trim_end_matches('s').to_string()));
        }
        Ok(())
    }

    /// Issuers and verifiers never evaluated or last evaluated before `evaluated_before` (milliseconds), oldest
    /// first, at most `limit` of each kind.
    pub async fn trust_due(&self, evaluated_before: i64, limit: i64) -> Result<Vec<TrustDue>, StoreError> {
        let mut due = Vec::new();
        for (kind, entity) in [
            (EntityKind::Issuer, "credential_issuer_identifier"),
            (EntityKind::Verifier, "url"),
        ] {
            let sql = format!(
                "SELECT id, tenant_id, {entity} AS entity, trust_evaluated_at FROM {} \
                 WHERE trust_evaluated_at IS NULL OR trust_evaluated_at < $1 \
                 ORDER BY COALESCE(trust_evaluated_at, 0), id LIMIT $2",
                kind.table()
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(evaluated_before)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            for r in rows {
                due.push(TrustDue {
                    kind,
                    id: r.try_get("id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    entity: r.try_get("entity")?,
                    evaluated_at: r.try_get("trust_evaluated_at")?,
                });
            }
        }
        Ok(due)
    }

    /// Stores a trust verdict for an issuer or verifier.
    pub async fn set_trust(&self, kind: EntityKind, id: i64, state: &TrustState) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {} SET trust_status = $2, trust_framework = $3, trust_evaluated_at = $4 WHERE id = $1",
            kind.table()
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(state.status.as_deref())
            .bind(state.framework.as_deref())
            .bind(state.evaluated_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

fn trust_from_row(row: &AnyRow) -> Result<TrustState, StoreError> {
    Ok(TrustState {
        status: row.try_get("trust_status")?,
        framework: row.try_get("trust_framework")?,
        evaluated_at: row.try_get("trust_evaluated_at")?,
    })
}

fn issuer_from_row(row: &AnyRow) -> Result<IssuerRecord, StoreError> {
    Ok(IssuerRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        credential_issuer_identifier: row.try_get("credential_issuer_identifier")?,
        client_id: row.try_get("client_id")?,
        client_jwk: row.try_get("client_jwk")?,
        visible: row.try_get::<i64, _>("visible")? != 0,
        trust: trust_from_row(row)?,
    })
}

fn verifier_from_row(row: &AnyRow) -> Result<VerifierRecord, StoreError> {
    Ok(VerifierRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        client_id: row.try_get("client_id")?,
        client_id_scheme: row.try_get("client_id_scheme")?,
        trust: trust_from_row(row)?,
    })
}
