//! The wallet directory: one sealed file (`wallet.store`) holding every key, credential, presentation record and the
//! cloud account, encrypted with a key from a passphrase (argon2id, parameters in the file's header) or from the
//! caller (a platform keychain). Every save is atomic (a temporary file, fsync, rename, fsync of the directory): a
//! crash leaves the old file or the new one, never a mix; a wrong passphrase or a damaged file is an error that
//! leaves the file as it was. An open store holds an advisory lock on `wallet.lock` (exclusive to write, shared
//! to read), so two processes (or two SDK instances) on one directory get [`StoreError::Locked`] rather than
//! overwriting each other's changes.

mod data;
mod lock;
mod seal;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use data::{
    Account, CredentialRecord, DisclosedRecord, HolderKeyRecord, PresentationRecord, SyncState, WalletData,
};
pub use lock::LOCK_FILE;
use lock::{DirLock, LockMode};
use seal::SealKey;
pub use seal::{KdfLimits, KdfParams, KeySource};

/// The store file's name inside the wallet directory.
pub const STORE_FILE: &str = "wallet.store";
const TMP_FILE: &str = "wallet.store.tmp";
/// Default most bytes a store file may have (64 MiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Why the store could not be opened, created or saved.
#[derive(Debug)]
pub enum StoreError {
    /// There is no wallet in the directory.
    NotFound(PathBuf),
    /// A wallet already exists in the directory.
    AlreadyExists(PathBuf),
    /// The file is not a wallet store.
    NotAWallet,
    /// A format version this build cannot read.
    UnsupportedVersion(u8),
    /// A key derivation this build does not know.
    UnknownKdf(u8),
    /// The header asks for more KDF work than the limits allow.
    KdfLimits(KdfParams),
    /// The KDF failed (bad parameters).
    Kdf(String),
    /// The wallet was sealed with a passphrase but a key was given.
    NeedsPassphrase,
    /// The wallet was sealed with a caller-supplied key but a passphrase was given.
    NeedsKey,
    /// The passphrase (or key) is wrong.
    WrongKey,
    /// The file ends early.
    Truncated,
    /// The file was altered or damaged.
    Corrupted(String),
    /// The file is over the size limit.
    TooLarge(u64),
    /// Another process (or another open [`Store`] in this one) has the wallet open.
    Locked(PathBuf),
    /// The store was opened read-only.
    ReadOnly,
    /// Reading or writing failed.
    Io(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound(p) => write!(f, "no wallet in {} (run `init` first)", p.display()),
            StoreError::AlreadyExists(p) => write!(f, "a wallet already exists in {}", p.display()),
            StoreError::NotAWallet => f.write_str("the file is not a walletd wallet store"),
            StoreError::UnsupportedVersion(v) => {
                write!(f, "the store has format version {v}, which this build cannot read")
            }
            StoreError::UnknownKdf(k) => write!(f, "the store names an unknown key derivation ({k})"),
            StoreError::KdfLimits(p) => write!(
                f,
                "the store's key derivation parameters (m={} KiB, t={}, p={}) exceed the configured limits",
                p.m_cost_kib, p.t_cost, p.p_cost
            ),
            StoreError::Kdf(e) => write!(f, "key derivation failed: {e}"),
            StoreError::NeedsPassphrase => f.write_str("this wallet is protected by a passphrase, not a key"),
            StoreError::NeedsKey => f.write_str("this wallet is protected by a platform key, not a passphrase"),
            StoreError::WrongKey => f.write_str("wrong passphrase (or key)"),
            StoreError::Truncated => f.write_str("the store file is truncated; it was left as it is"),
            StoreError::Corrupted(e) => write!(
                f,
                "the store file is damaged or was tampered with ({e}); it was left as it is"
            ),
            StoreError::TooLarge(n) => write!(f, "the store file has {n} bytes, over the configured limit"),
            StoreError::Locked(p) => write!(
                f,
                "the wallet in {} is in use by another process; try again when it has finished",
                p.display()
            ),
            StoreError::ReadOnly => f.write_str("the store was opened read-only"),
            StoreError::Io(e) => write!(f, "store I/O: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

fn io(context: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{context} {}: {e}", path.display()))
}

/// How a store is opened and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreOptions {
    /// Argon2id parameters of a new store (an existing one keeps its own).
    pub kdf: KdfParams,
    /// What an existing file's header may ask of the KDF.
    pub kdf_limits: KdfLimits,
    /// Most bytes of the store file.
    pub max_file_bytes: u64,
    /// Most presentation records kept (the oldest go first).
    pub max_history: usize,
    /// How long opening waits for another process to release the wallet (0: fail at once).
    #[serde(with = "humantime_serde")]
    pub lock_wait: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            kdf: KdfParams::default(),
            kdf_limits: KdfLimits::default(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_history: 1000,
            lock_wait: Duration::ZERO,
        }
    }
}

/// An open wallet: the decrypted document and the key to save it with.
pub struct Store {
    dir: PathBuf,
    key: SealKey,
    opts: StoreOptions,
    /// Held as long as the store is open; released when it is dropped.
    lock: DirLock,
    /// The wallet's contents; [`Store::save`] writes them.
    pub data: WalletData,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Store {
    /// Whether `dir` holds a wallet.
    pub fn exists(dir: &Path) -> bool {
        dir.join(STORE_FILE).exists()
    }

    /// Creates a wallet in `dir` (made if missing) with one holder key.
    pub fn create(dir: &Path, source: &KeySource, opts: StoreOptions) -> Result<Store, StoreError> {
        if Self::exists(dir) {
            return Err(StoreError::AlreadyExists(dir.to_path_buf()));
        }
        fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        let lock = DirLock::acquire(dir, LockMode::Exclusive, opts.lock_wait)?;
        // Another process may have created it between the check and the lock.
        if Self::exists(dir) {
            return Err(StoreError::AlreadyExists(dir.to_path_buf()));
        }
        let mut data = WalletData::default();
        data.add_key();
        let store = Store {
            dir: dir.to_path_buf(),
            key: SealKey::new(source, opts.kdf)?,
            opts,
            lock,
            data,
        };
        store.save()?;
        Ok(store)
    }

    /// Opens the wallet in `dir` to read and write: no other [`Store`] may have it open until this one is dropped.
    pub fn open(dir: &Path, source: &KeySource, opts: StoreOptions) -> Result<Store, StoreError> {
        Self::open_with(dir, source, opts, LockMode::Exclusive)
    }

    /// Opens the wallet in `dir` to read only: other readers may have it open, a writer may not; [`Store::save`]
    /// fails with [`StoreError::ReadOnly`].
    pub fn open_read_only(dir: &Path, source: &KeySource, opts: StoreOptions) -> Result<Store, StoreError> {
        Self::open_with(dir, source, opts, LockMode::Shared)
    }

    fn open_with(dir: &Path, source: &KeySource, opts: StoreOptions, mode: LockMode) -> Result<Store, StoreError> {
        let path = dir.join(STORE_FILE);
        if !path.exists() {
            // No lock file is created in a directory that holds no wallet.
            return Err(StoreError::NotFound(dir.to_path_buf()));
        }
        // The lock is taken before the file is read, so what is read is what the next save replaces.
        let lock = DirLock::acquire(dir, mode, opts.lock_wait)?;
        let (key, data) = read_sealed(&path, source, &opts)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            key,
            opts,
            lock,
            data,
        })
    }

    /// The wallet directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// Writes the document atomically.
    pub fn save(&self) -> Result<(), StoreError> {
        if self.lock.mode() != LockMode::Exclusive {
            return Err(StoreError::ReadOnly);
        }
        let body = serde_json::to_vec(&self.data).map_err(|e| StoreError::Io(format!("cannot encode: {e}")))?;
        let file = self.key.seal(&body);
        if file.len() as u64 > self.opts.max_file_bytes {
            return Err(StoreError::TooLarge(file.len() as u64));
        }
        write_atomic(&self.dir, STORE_FILE, &file)
    }

    /// The whole wallet sealed under another key source (an encrypted backup), with fresh KDF parameters.
    pub fn export(&self, source: &KeySource) -> Result<Vec<u8>, StoreError> {
        let body = serde_json::to_vec(&self.data).map_err(|e| StoreError::Io(format!("cannot encode: {e}")))?;
        Ok(SealKey::new(source, self.opts.kdf)?.seal(&body))
    }

    /// Reads a backup written by [`Store::export`].
    pub fn read_backup(bytes: &[u8], source: &KeySource, opts: &StoreOptions) -> Result<WalletData, StoreError> {
        if bytes.len() as u64 > opts.max_file_bytes {
            return Err(StoreError::TooLarge(bytes.len() as u64));
        }
        let (_, body) = SealKey::open(bytes, source, &opts.kdf_limits)?;
        serde_json::from_slice(&body).map_err(|e| StoreError::Corrupted(format!("the contents do not parse: {e}")))
    }

    /// Merges `other` (a backup or another device's document) into this wallet: keys and credentials it lacks by id,
    /// history entries it lacks, the account when it has none. Returns how many keys and credentials were added.
    pub fn merge(&mut self, other: WalletData) -> (usize, usize) {
        let (mut keys, mut creds) = (0, 0);
        for k in other.keys {
            if self.data.key(&k.id).is_none() {
                self.data.keys.push(k);
                keys += 1;
            }
        }
        for c in other.credentials {
            if self.data.credential(&c.id).is_none() {
                self.data.credentials.push(c);
                creds += 1;
            }
        }
        for h in other.history {
            if !self.data.history.contains(&h) {
                self.data.history.push(h);
            }
        }
        self.data.history.sort_by_key(|h| h.at);
        if self.data.account.is_none() {
            self.data.account = other.account;
        }
        (keys, creds)
    }
}

fn read_sealed(path: &Path, source: &KeySource, opts: &StoreOptions) -> Result<(SealKey, WalletData), StoreError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NotFound(path.parent().unwrap_or(path).to_path_buf()));
        }
        Err(e) => return Err(io("cannot read", path, e)),
    };
    if meta.len() > opts.max_file_bytes {
        return Err(StoreError::TooLarge(meta.len()));
    }
    let bytes = fs::read(path).map_err(|e| io("cannot read", path, e))?;
    let (key, body) = SealKey::open(&bytes, source, &opts.kdf_limits)?;
    let data =
        serde_json::from_slice(&body).map_err(|e| StoreError::Corrupted(format!("the contents do not parse: {e}")))?;
    Ok((key, data))
}

/// Writes `name` in `dir` through a temporary file: write, fsync, rename over the old file, fsync the directory.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(if name == STORE_FILE {
        TMP_FILE.to_string()
    } else {
        format!("{name}.tmp")
    });
    let target = dir.join(name);
    let mut f = open_private(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
    f.write_all(bytes).map_err(|e| io("cannot write", &tmp, e))?;
    f.sync_all().map_err(|e| io("cannot fsync", &tmp, e))?;
    drop(f);
    fs::rename(&tmp, &target).map_err(|e| io("cannot rename onto", &target, e))?;
    // The rename is durable once the directory entry is.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

#[cfg(test)]
mod tests;
