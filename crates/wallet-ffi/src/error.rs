//! Result codes, the error JSON, the calling thread's last error, and the guard every entry point runs in (no panic
//! crosses the C boundary).

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Value, json};
use walletd_wallet::agent::AgentError;
use walletd_wallet::store::StoreError;

/// Success.
pub const WALLETD_OK: i32 = 0;
/// Something unexpected inside the library (a bug, caught at the boundary; the message says what). If it happened
/// inside a call on a wallet, that wallet answers every later call with this code: close it and open it again.
pub const WALLETD_ERR_INTERNAL: i32 = 1;
/// A pointer that must not be null was null, a string is not UTF-8, or a JSON argument does not parse or has the
/// wrong shape.
pub const WALLETD_ERR_INVALID_ARGUMENT: i32 = 2;
/// The passphrase or key does not open the wallet (or the wallet is protected the other way).
pub const WALLETD_ERR_WRONG_KEY: i32 = 3;
/// The store is damaged, truncated, over its size limit, already exists, or cannot be written.
pub const WALLETD_ERR_STORE: i32 = 4;
/// A flow failed: the issuer, the verifier or the engine refused or broke (`step` and `engine_code` say where).
pub const WALLETD_ERR_FLOW: i32 = 5;
/// The user declined (or no credential matches the request); nothing was shared.
pub const WALLETD_ERR_DECLINED: i32 = 6;
/// The remote engine could not be reached, or the embedded engine could not start.
pub const WALLETD_ERR_UNREACHABLE: i32 = 7;
/// The device configuration is wrong (the message names the key).
pub const WALLETD_ERR_CONFIG: i32 = 8;
/// No such wallet, credential or key.
pub const WALLETD_ERR_NOT_FOUND: i32 = 9;
/// The signer refused, lacks the key, or returned a signature that does not verify (the engine was told).
pub const WALLETD_ERR_SIGNER: i32 = 10;
/// The wallet is in use: by another call on this handle (a concurrent call, or a callback calling back into its own
/// wallet), or its directory by another process or handle (the store's lock, `store.lock_wait`).
pub const WALLETD_ERR_BUSY: i32 = 11;

/// An error as the C caller sees it: a code, its kind, the step that failed and a message.
#[derive(Debug, Clone)]
pub(crate) struct Error {
    pub code: i32,
    pub step: String,
    pub message: String,
    /// The engine's error code (`flow_error`), when the engine ended the flow.
    pub engine_code: Option<String>,
}

impl Error {
    pub fn new(code: i32, step: &str, message: impl Into<String>) -> Self {
        Error {
            code,
            step: step.to_string(),
            message: message.into(),
            engine_code: None,
        }
    }

    pub fn invalid(step: &str, message: impl Into<String>) -> Self {
        Error::new(WALLETD_ERR_INVALID_ARGUMENT, step, message)
    }

    pub fn store(step: &str, e: StoreError) -> Self {
        let code = match e {
            StoreError::WrongKey | StoreError::NeedsKey | StoreError::NeedsPassphrase => WALLETD_ERR_WRONG_KEY,
            StoreError::NotFound(_) => WALLETD_ERR_NOT_FOUND,
            StoreError::Locked(_) => WALLETD_ERR_BUSY,
            _ => WALLETD_ERR_STORE,
        };
        Error::new(code, step, e.to_string())
    }

    pub fn flow(e: AgentError) -> Self {
        let code = if e.signer {
            WALLETD_ERR_SIGNER
        } else {
            match e.step.as_str() {
                "connect" | "handshake" | "embedded_engine" => WALLETD_ERR_UNREACHABLE,
                _ => WALLETD_ERR_FLOW,
            }
        };
        Error {
            code,
            step: e.step,
            message: e.message,
            engine_code: e.code,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.code {
            WALLETD_ERR_INVALID_ARGUMENT => "invalid_argument",
            WALLETD_ERR_WRONG_KEY => "wrong_key",
            WALLETD_ERR_STORE => "store",
            WALLETD_ERR_FLOW => "flow",
            WALLETD_ERR_DECLINED => "declined",
            WALLETD_ERR_UNREACHABLE => "unreachable",
            WALLETD_ERR_CONFIG => "config",
            WALLETD_ERR_NOT_FOUND => "not_found",
            WALLETD_ERR_SIGNER => "signer",
            WALLETD_ERR_BUSY => "busy",
            _ => "internal",
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"code": self.code, "kind": self.kind(), "step": self.step, "message": self.message,
               "engine_code": self.engine_code})
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// The calling thread's last error (what `walletd_last_error` returns).
pub(crate) fn last_error() -> Option<Error> {
    LAST_ERROR.with(|e| e.borrow().clone())
}

fn set_last_error(e: Option<Error>) {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = e);
}

/// Runs an entry point's body: clears the thread's last error, catches any panic (a bug must not unwind into C),
/// records an error as the thread's last error, and returns the result code.
pub(crate) fn guard(step: &str, body: impl FnOnce() -> Result<(), Error>) -> i32 {
    set_last_error(None);
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Err(Error::new(
            WALLETD_ERR_INTERNAL,
            step,
            format!("internal error (caught at the C boundary): {what}"),
        ))
    });
    match outcome {
        Ok(()) => WALLETD_OK,
        Err(e) => {
            let code = e.code;
            set_last_error(Some(e));
            code
        }
    }
}
