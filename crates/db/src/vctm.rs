//! VCTM documents registered through the registry's `POST /vctm`, kept so they survive restarts and are shared by
//! registry replicas on one database.

use sqlx::Row;

use crate::{Store, StoreError, now_millis};

impl Store {
    /// Creates or replaces the document of `vct` (the document is JSON text, validated by the caller).
    pub async fn put_vctm(&self, vct: &str, document: &str) -> Result<(), StoreError> {
        let now = now_millis();
        sqlx::query(
            "INSERT INTO vctm_documents (vct, document, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (vct) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
        )
        .bind(vct)
        .bind(document)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every registered document as `(vct, document)`, by vct.
    pub async fn list_vctm(&self) -> Result<Vec<(String, String)>, StoreError> {
        // Read at start-up, back to back with the other start-up reads: settled (`Store::read_settled`).
        let rows = self
            .read_settled(async |conn| {
                sqlx::query("SELECT vct, document FROM vctm_documents ORDER BY vct")
                    .fetch_all(conn)
                    .await
            })
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("vct")?, r.try_get("document")?)))
            .collect()
    }
}
