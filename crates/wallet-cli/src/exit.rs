//! Exit codes and the error every command returns: the step that failed, what happened, the exit code.

use walletd_wallet::agent::AgentError;
use walletd_wallet::store::StoreError;

/// Something unexpected.
pub const UNEXPECTED: u8 = 1;
/// The passphrase or key is wrong (or missing).
pub const WRONG_KEY: u8 = 3;
/// The store is damaged, truncated, missing or unreadable.
pub const STORE: u8 = 4;
/// A flow failed: the issuer, the verifier or the engine refused or broke.
pub const FLOW: u8 = 5;
/// The user (or the wallet, finding no matching credential) declined.
pub const DECLINED: u8 = 6;
/// The cloud could not be reached or refused.
pub const CLOUD: u8 = 7;
/// The configuration or the arguments are wrong.
pub const CONFIG: u8 = 8;
/// No such credential or key.
pub const NOT_FOUND: u8 = 9;
/// Another process has the wallet open (`store.lock_wait` passed without it letting go).
pub const IN_USE: u8 = 10;

/// Why a command failed.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// The step that failed (`open_store`, `config`, an engine step such as `parsing_offer`, ...).
    pub step: String,
    /// What happened.
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, step: &str, message: impl Into<String>) -> Self {
        Failure {
            code,
            step: step.to_string(),
            message: message.into(),
        }
    }

    pub fn store(step: &str, e: StoreError) -> Self {
        let code = match e {
            StoreError::WrongKey | StoreError::NeedsKey | StoreError::NeedsPassphrase => WRONG_KEY,
            StoreError::Locked(_) => IN_USE,
            _ => STORE,
        };
        Failure::new(code, step, e.to_string())
    }

    pub fn flow(e: AgentError) -> Self {
        let code = match e.step.as_str() {
            "connect" | "handshake" | "embedded_engine" => CLOUD,
            _ => FLOW,
        };
        let message = match &e.code {
            Some(c) => format!("{c}: {}", e.message),
            None => e.message,
        };
        Failure::new(code, &e.step, message)
    }
}
