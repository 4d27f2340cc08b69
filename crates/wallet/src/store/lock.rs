//! The wallet directory's advisory lock: `wallet.lock`, locked with the platform's file lock (`flock` on Unix,
//! `LockFileEx` on Windows) through std. The lock file is never deleted: deleting it would let a process lock an
//! unlinked file while another locks a new one. The lock is advisory and local: it keeps walletd programs on one
//! machine apart, not other programs, and network file systems may not honour it.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use super::StoreError;

/// The lock file's name inside the wallet directory.
pub const LOCK_FILE: &str = "wallet.lock";

/// How often a waiting open tries again.
const RETRY: Duration = Duration::from_millis(50);

/// Whether the holder may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// One writer, no readers.
    Exclusive,
    /// Readers only.
    Shared,
}

/// A held lock; dropping it (closing the file) releases it.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
    mode: LockMode,
}

impl DirLock {
    /// Locks `dir`, waiting up to `wait` for another holder to let go.
    pub(crate) fn acquire(dir: &Path, mode: LockMode, wait: Duration) -> Result<DirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let file = open_lock_file(&path).map_err(|e| super::io("cannot open", &path, e))?;
        let deadline = Instant::now() + wait;
        loop {
            let tried = match mode {
                LockMode::Exclusive => file.try_lock(),
                LockMode::Shared => file.try_lock_shared(),
            };
            match tried {
                Ok(()) => return Ok(DirLock { _file: file, mode }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return Err(StoreError::Locked(dir.to_path_buf()));
                    }
                    std::thread::sleep(RETRY.min(deadline.saturating_duration_since(Instant::now())));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(super::io("cannot lock", &path, e)),
            }
        }
    }

    pub(crate) fn mode(&self) -> LockMode {
        self.mode
    }
}

#[cfg(unix)]
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}
