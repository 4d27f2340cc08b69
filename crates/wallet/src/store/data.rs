//! What the wallet keeps (the plaintext inside the sealed store): holder keys, credentials with their type metadata,
//! the history of presentations, the cloud account and the sync state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use walletd_jose::EcKey;

use crate::present::StoredCredential;

/// The plaintext document of a wallet.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WalletData {
    /// Holder keys (P-256), oldest first.
    pub keys: Vec<HolderKeyRecord>,
    /// Credentials, oldest first.
    pub credentials: Vec<CredentialRecord>,
    /// Presentations made, oldest first (bounded by the caller's history limit).
    pub history: Vec<PresentationRecord>,
    /// The cloud account, once logged in.
    pub account: Option<Account>,
    /// What the last sync left.
    pub sync: SyncState,
}

/// One holder key.
#[derive(Clone, Serialize, Deserialize)]
pub struct HolderKeyRecord {
    /// Its id (the public key's RFC 7638 thumbprint).
    pub id: String,
    /// The private JWK.
    pub private_jwk: Value,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Last change (seconds since the epoch), for sync.
    #[serde(default)]
    pub updated_at: u64,
}

impl std::fmt::Debug for HolderKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderKeyRecord")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl HolderKeyRecord {
    /// A fresh key.
    pub fn generate() -> Self {
        let key = EcKey::generate();
        let now = crate::now();
        HolderKeyRecord {
            id: key.thumbprint(),
            private_jwk: key.private_jwk().to_value(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The key pair.
    pub fn key(&self) -> Option<EcKey> {
        EcKey::from_private_jwk_value(&self.private_jwk)
    }
}

/// One credential and what the wallet knows about it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CredentialRecord {
    /// The wallet's id for it.
    pub id: String,
    /// `dc+sd-jwt`.
    pub format: String,
    /// The credential as issued.
    pub credential: String,
    /// The holder key it is bound to.
    pub key_id: String,
    /// The credential issuer identifier.
    pub issuer: Option<String>,
    /// The credential configuration id.
    pub configuration_id: Option<String>,
    /// `vct` of an SD-JWT VC.
    pub vct: Option<String>,
    /// SD-JWT VC type metadata (as the engine handed it over), if any.
    pub type_metadata: Option<Value>,
    /// Seconds since the epoch.
    pub issued_at: u64,
    /// Last change (seconds since the epoch), for sync.
    #[serde(default)]
    pub updated_at: u64,
}

impl CredentialRecord {
    /// The credential as the matcher sees it.
    pub fn stored(&self) -> StoredCredential {
        StoredCredential::new(self.id.clone(), self.credential.clone())
    }
}

/// One presentation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PresentationRecord {
    /// Seconds since the epoch.
    pub at: u64,
    /// Who asked (the verifier's client_id).
    pub verifier: Option<String>,
    /// Credentials shown with the claims disclosed from each.
    pub disclosed: Vec<DisclosedRecord>,
    /// `presented`, `declined` or `failed`.
    pub outcome: String,
}

/// The claims one presentation disclosed from one credential.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DisclosedRecord {
    /// The credential's id.
    pub credential_id: String,
    /// Claim paths joined with ".".
    pub claims: Vec<String>,
}

/// The cloud account (auth and storage roles).
#[derive(Clone, Serialize, Deserialize)]
pub struct Account {
    /// The cloud's base URL.
    pub url: String,
    /// The WebAuthn origin the passkey is used with.
    pub origin: String,
    /// The user's id (`uuid` of the session body).
    pub user_id: Option<String>,
    /// The software passkey (passkey-rs's serialised `Passkey`).
    pub passkey: Value,
    /// The key blobs are encrypted with before they reach the storage role (base64url of 32 bytes).
    pub sync_key: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("url", &self.url)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// Sync bookkeeping.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncState {
    /// The change feed's cursor after the last pull.
    pub cursor: Option<String>,
    /// The storage version of each blob id as last seen or written.
    pub versions: BTreeMap<String, i64>,
    /// Blob ids deleted here and not yet deleted in the cloud.
    pub pending_deletes: Vec<String>,
}

impl WalletData {
    /// The credential `id`.
    pub fn credential(&self, id: &str) -> Option<&CredentialRecord> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// The key `id`.
    pub fn key(&self, id: &str) -> Option<&HolderKeyRecord> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Adds a fresh holder key and returns its id.
    pub fn add_key(&mut self) -> String {
        let k = HolderKeyRecord::generate();
        let id = k.id.clone();
        self.keys.push(k);
        id
    }

    /// Removes credential `id` (queued for deletion in the cloud when it was synced); `false` when there is none.
    pub fn delete_credential(&mut self, id: &str) -> bool {
        let before = self.credentials.len();
        self.credentials.retain(|c| c.id != id);
        let removed = self.credentials.len() != before;
        let blob = format!("c-{id}");
        if removed && self.sync.versions.contains_key(&blob) && !self.sync.pending_deletes.contains(&blob) {
            self.sync.pending_deletes.push(blob);
        }
        removed
    }

    /// Appends to the history, dropping the oldest entries beyond `max`.
    pub fn record(&mut self, entry: PresentationRecord, max: usize) {
        self.history.push(entry);
        if self.history.len() > max {
            let drop = self.history.len() - max;
            self.history.drain(..drop);
        }
    }
}
