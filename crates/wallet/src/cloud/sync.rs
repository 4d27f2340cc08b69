//! Sync with the storage role: every holder key is the blob `k-<id>` and every credential `c-<id>`, sealed here with
//! the account's sync key (AES-256-GCM, the blob id as associated data, so blobs cannot be swapped). A sync pulls the
//! change feed since its cursor (merging: a newer `updated_at` wins, tombstones delete), deletes what was deleted
//! here, and pushes what the cloud lacks with `If-None-Match: *`; a 412 is answered by re-reading the blob, merging
//! and retrying, a bounded number of times.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_jose::{b64, b64_decode};

use super::{Cloud, CloudError};
use crate::store::{CredentialRecord, HolderKeyRecord, WalletData};

/// Bounds of one sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncLimits {
    /// Re-reads and retries of one blob after a 412.
    pub max_conflict_retries: u32,
    /// Change-feed pages read.
    pub max_pages: u32,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Blobs taken from the cloud (new or newer).
    pub pulled: usize,
    /// Blobs written to the cloud.
    pub pushed: usize,
    /// Blobs deleted (either way).
    pub deleted: usize,
    /// 412s answered by re-reading and merging.
    pub conflicts: usize,
}

fn cipher(data: &WalletData) -> Result<LessSafeKey, CloudError> {
    let acc = data
        .account
        .as_ref()
        .ok_or_else(|| CloudError::at("sync", "not logged in: run `login` first"))?;
    let raw = b64_decode(&acc.sync_key)
        .filter(|k| k.len() == 32)
        .ok_or_else(|| CloudError::at("sync", "the sync key is damaged"))?;
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| CloudError::at("sync", "bad sync key"))?,
    ))
}

fn seal(key: &LessSafeKey, id: &str, item: &Value) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    // The system RNG does not fail on supported platforms.
    aws_lc_rs::rand::fill(&mut nonce).expect("system random");
    let mut body = item.to_string().into_bytes();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(id.as_bytes()), &mut body)
        .expect("AES-GCM seal");
    [nonce.as_slice(), &body].concat()
}

fn open(key: &LessSafeKey, id: &str, blob: &[u8]) -> Result<Value, CloudError> {
    if blob.len() < NONCE_LEN + 16 {
        return Err(CloudError::at("sync_pull", format!("blob {id} is too short")));
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&blob[..NONCE_LEN]);
    let mut body = blob[NONCE_LEN..].to_vec();
    let plain = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(id.as_bytes()), &mut body)
        .map_err(|_| {
            CloudError::at(
                "sync_pull",
                format!("blob {id} does not decrypt with this account's sync key"),
            )
        })?;
    serde_json::from_slice(plain).map_err(|e| CloudError::at("sync_pull", format!("blob {id}: {e}")))
}

/// Every blob this wallet has: id, `updated_at`, contents.
fn local_items(data: &WalletData) -> Vec<(String, u64, Value)> {
    let keys = data
        .keys
        .iter()
        .map(|k| (format!("k-{}", k.id), k.updated_at, json!({"key": k})));
    let creds = data
        .credentials
        .iter()
        .map(|c| (format!("c-{}", c.id), c.updated_at, json!({"credential": c})));
    keys.chain(creds).collect()
}

fn updated_at(data: &WalletData, id: &str) -> Option<u64> {
    match id.split_at_checked(2) {
        Some(("k-", k)) => data.key(k).map(|k| k.updated_at),
        Some(("c-", c)) => data.credential(c).map(|c| c.updated_at),
        _ => None,
    }
}

/// Takes a remote item when it is new here or newer than the local one; `true` when something changed.
fn merge(data: &mut WalletData, id: &str, item: Value) -> bool {
    if let Ok(k) = serde_json::from_value::<HolderKeyRecord>(item["key"].clone()) {
        if format!("k-{}", k.id) != id {
            return false;
        }
        return match data.keys.iter_mut().find(|x| x.id == k.id) {
            Some(x) if x.updated_at >= k.updated_at => false,
            Some(x) => {
                *x = k;
                true
            }
            None => {
                data.keys.push(k);
                true
            }
        };
    }
    if let Ok(c) = serde_json::from_value::<CredentialRecord>(item["credential"].clone()) {
        if format!("c-{}", c.id) != id {
            return false;
        }
        return match data.credentials.iter_mut().find(|x| x.id == c.id) {
            Some(x) if x.updated_at >= c.updated_at => false,
            Some(x) => {
                *x = c;
                true
            }
            None => {
                data.credentials.push(c);
                true
            }
        };
    }
    false
}

fn remove(data: &mut WalletData, id: &str) -> bool {
    let before = data.keys.len() + data.credentials.len();
    match id.split_at_checked(2) {
        Some(("k-", k)) => data.keys.retain(|x| x.id != k),
        Some(("c-", c)) => data.credentials.retain(|x| x.id != c),
        _ => {}
    }
    before != data.keys.len() + data.credentials.len()
}

impl Cloud {
    fn url(&self, path: &str) -> Result<url::Url, CloudError> {
        self.base.join(path).map_err(|e| CloudError::at("sync", e.to_string()))
    }

    async fn pull(
        &self,
        key: &LessSafeKey,
        data: &mut WalletData,
        limits: SyncLimits,
        report: &mut SyncReport,
    ) -> Result<(), CloudError> {
        let mut reset_done = false;
        for _ in 0..limits.max_pages {
            let mut url = self.url("storage/sync")?;
            if let Some(c) = &data.sync.cursor {
                url.query_pairs_mut().append_pair("since", c);
            }
            let resp = self
                .http
                .get(url)
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| CloudError::http("sync_pull", e))?;
            if !resp.status().is_success() {
                return Err(CloudError::at(
                    "sync_pull",
                    format!("the storage role answered {}", resp.status()),
                ));
            }
            let page: Value = resp.json().await.map_err(|e| CloudError::http("sync_pull", e))?;
            if page["reset_required"] == true && !reset_done {
                reset_done = true;
                data.sync.cursor = None;
                continue;
            }
            for c in page["changes"].as_array().into_iter().flatten() {
                let id = c["id"].as_str().unwrap_or_default().to_string();
                if !(id.starts_with("k-") || id.starts_with("c-")) {
                    continue;
                }
                let version = c["version"].as_i64().unwrap_or_default();
                if c["deleted"] == true {
                    data.sync.versions.remove(&id);
                    data.sync.pending_deletes.retain(|d| d != &id);
                    if remove(data, &id) {
                        report.deleted += 1;
                    }
                    continue;
                }
                let Some(blob) = c["data"].as_str().and_then(b64_decode) else {
                    continue;
                };
                if merge(data, &id, open(key, &id, &blob)?) {
                    report.pulled += 1;
                }
                data.sync.versions.insert(id, version);
            }
            data.sync.cursor = match &page["cursor"] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => data.sync.cursor.take(),
            };
            if page["has_more"] != true {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Reads one blob: its version and contents (`None` when it does not exist).
    async fn read(&self, key: &LessSafeKey, id: &str) -> Result<Option<(i64, Value)>, CloudError> {
        let resp = self
            .http
            .get(self.url(&format!("storage/credentials/{id}"))?)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| CloudError::http("sync_reread", e))?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let v: Value = resp.json().await.map_err(|e| CloudError::http("sync_reread", e))?;
        let blob = v["data"]
            .as_str()
            .and_then(b64_decode)
            .ok_or_else(|| CloudError::at("sync_reread", "no data"))?;
        Ok(Some((v["version"].as_i64().unwrap_or_default(), open(key, id, &blob)?)))
    }

    async fn push_one(
        &self,
        key: &LessSafeKey,
        data: &mut WalletData,
        id: &str,
        limits: SyncLimits,
        report: &mut SyncReport,
    ) -> Result<(), CloudError> {
        for _ in 0..=limits.max_conflict_retries {
            let Some(item) = local_items(data)
                .into_iter()
                .find(|(i, _, _)| i == id)
                .map(|(_, _, v)| v)
            else {
                return Ok(());
            };
            let mut req = self
                .http
                .put(self.url(&format!("storage/credentials/{id}"))?)
                .bearer_auth(&self.token)
                .json(&json!({"data": b64(seal(key, id, &item)), "content_type": "application/vnd.walletd.sealed"}));
            req = match data.sync.versions.get(id) {
                Some(v) => req.header("If-Match", format!("\"{v}\"")),
                None => req.header("If-None-Match", "*"),
            };
            let resp = req.send().await.map_err(|e| CloudError::http("sync_push", e))?;
            let status = resp.status();
            if status.is_success() {
                let v: Value = resp.json().await.unwrap_or(Value::Null);
                data.sync
                    .versions
                    .insert(id.to_string(), v["version"].as_i64().unwrap_or_default());
                report.pushed += 1;
                return Ok(());
            }
            if status != StatusCode::PRECONDITION_FAILED {
                return Err(CloudError::at(
                    "sync_push",
                    format!("the storage role answered {status} for {id}"),
                ));
            }
            // Someone else wrote this blob: re-read, merge (the newer wins), and write only if ours is newer.
            report.conflicts += 1;
            match self.read(key, id).await? {
                Some((version, remote)) => {
                    let local = updated_at(data, id).unwrap_or_default();
                    let remote_at = remote["key"]["updated_at"]
                        .as_u64()
                        .or(remote["credential"]["updated_at"].as_u64())
                        .unwrap_or_default();
                    data.sync.versions.insert(id.to_string(), version);
                    if remote_at >= local {
                        merge(data, id, remote);
                        return Ok(());
                    }
                }
                None => {
                    data.sync.versions.remove(id);
                }
            }
        }
        Err(CloudError::at(
            "sync_push",
            format!(
                "{id} kept changing; gave up after {} retries",
                limits.max_conflict_retries
            ),
        ))
    }

    async fn delete_one(&self, data: &mut WalletData, id: &str, report: &mut SyncReport) -> Result<(), CloudError> {
        let mut req = self
            .http
            .delete(self.url(&format!("storage/credentials/{id}"))?)
            .bearer_auth(&self.token);
        if let Some(v) = data.sync.versions.get(id) {
            req = req.header("If-Match", format!("\"{v}\""));
        }
        let status = req
            .send()
            .await
            .map_err(|e| CloudError::http("sync_delete", e))?
            .status();
        // 412: it changed elsewhere since; the local deletion still wins (the user deleted it here last).
        if status == StatusCode::PRECONDITION_FAILED {
            report.conflicts += 1;
            let status = self
                .http
                .delete(self.url(&format!("storage/credentials/{id}"))?)
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| CloudError::http("sync_delete", e))?
                .status();
            if !status.is_success() && status != StatusCode::NOT_FOUND {
                return Err(CloudError::at(
                    "sync_delete",
                    format!("the storage role answered {status} for {id}"),
                ));
            }
        } else if !status.is_success() && status != StatusCode::NOT_FOUND {
            return Err(CloudError::at(
                "sync_delete",
                format!("the storage role answered {status} for {id}"),
            ));
        }
        data.sync.versions.remove(id);
        data.sync.pending_deletes.retain(|d| d != id);
        report.deleted += 1;
        Ok(())
    }
}

/// Pulls, deletes and pushes; `data` is updated as it goes (save it afterwards, also after an error: what was done
/// is recorded).
pub async fn sync(cloud: &Cloud, data: &mut WalletData, limits: SyncLimits) -> Result<SyncReport, CloudError> {
    let key = cipher(data)?;
    let mut report = SyncReport::default();
    cloud.pull(&key, data, limits, &mut report).await?;
    for id in data.sync.pending_deletes.clone() {
        cloud.delete_one(data, &id, &mut report).await?;
    }
    let unsynced: Vec<String> = local_items(data)
        .into_iter()
        .map(|(id, _, _)| id)
        .filter(|id| !data.sync.versions.contains_key(id))
        .collect();
    for id in unsynced {
        cloud.push_one(&key, data, &id, limits, &mut report).await?;
    }
    Ok(report)
}
