//! The wallet behind a handle: the open store, the device configuration, a runtime of its own, the embedded engine
//! (built at the first flow), the app's signer if any. Plain Rust; `lib.rs` puts the C ABI around it.

use std::path::PathBuf;
use std::sync::{Mutex, TryLockError};

use serde::Deserialize;
use serde_json::{Value, json};
use walletd_wallet::agent::{Agent, AgentError, AgentLimits, Presented};
use walletd_wallet::device::{DeviceConfig, EngineMode};
use walletd_wallet::embedded::EmbeddedEngine;
use walletd_wallet::signer::{HolderSigner, StoreSigner};
use walletd_wallet::store::{CredentialRecord, KeySource, Store};

use crate::callbacks::{CSigner, CUi, WalletdCallbacks};
use crate::error::{
    Error, WALLETD_ERR_BUSY, WALLETD_ERR_CONFIG, WALLETD_ERR_DECLINED, WALLETD_ERR_INTERNAL, WALLETD_ERR_NOT_FOUND,
    WALLETD_ERR_SIGNER, WALLETD_ERR_UNREACHABLE,
};

/// Create the wallet when the directory has none.
pub const WALLETD_OPEN_CREATE: u32 = 1;

/// An open wallet (opaque to C).
pub struct WalletdWallet {
    inner: Mutex<Inner>,
}

pub(crate) struct Inner {
    store: Store,
    cfg: DeviceConfig,
    engine: Option<EmbeddedEngine>,
    signer: Option<CSigner>,
    // Last: dropped after the engine, whose tasks run on it.
    rt: tokio::runtime::Runtime,
}

/// Options of `accept_offer` (JSON; every member optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AcceptOptions {
    /// The holder key to bind to (default: the signer's choice, the newest key).
    key_id: Option<String>,
    /// The transaction code, when the app has it before the flow asks.
    tx_code: Option<String>,
    /// The remote engine's access token (`engine.mode: remote`).
    engine_token: Option<String>,
}

/// Options of `present` (JSON; every member optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PresentOptions {
    /// The remote engine's access token (`engine.mode: remote`).
    engine_token: Option<String>,
}

/// Parses an options argument (null or empty: the defaults).
pub(crate) fn options<T: Default + for<'de> Deserialize<'de>>(text: Option<&str>, step: &str) -> Result<T, Error> {
    match text.map(str::trim) {
        None | Some("") => Ok(T::default()),
        Some(t) => serde_json::from_str(t).map_err(|e| Error::invalid(step, format!("the options are not valid: {e}"))),
    }
}

fn summary(c: &CredentialRecord) -> Value {
    json!({"id": c.id, "format": c.format, "vct": c.vct, "issuer": c.issuer, "key_id": c.key_id,
           "issued_at": c.issued_at, "name": c.type_metadata.as_ref().and_then(|m| m.get("name")).cloned()})
}

impl WalletdWallet {
    /// Opens (or, with [`WALLETD_OPEN_CREATE`], creates) the wallet in `dir`.
    pub(crate) fn open(dir: &str, source: KeySource, config: Option<&str>, flags: u32) -> Result<Self, Error> {
        let cfg = match config {
            Some(text) => DeviceConfig::from_yaml(text).map_err(|e| Error::new(WALLETD_ERR_CONFIG, "config", e))?,
            None => DeviceConfig::default(),
        };
        if dir.is_empty() {
            return Err(Error::invalid("open_store", "dir is empty"));
        }
        let dir = PathBuf::from(dir);
        let store = if flags & WALLETD_OPEN_CREATE != 0 && !Store::exists(&dir) {
            Store::create(&dir, &source, cfg.store).map_err(|e| Error::store("init", e))?
        } else {
            Store::open(&dir, &source, cfg.store).map_err(|e| Error::store("open_store", e))?
        };
        // Two workers run the embedded engine's tasks; flows themselves run on the caller's thread (block_on).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("walletd-ffi")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    WALLETD_ERR_INTERNAL,
                    "open_store",
                    format!("cannot start a runtime: {e}"),
                )
            })?;
        Ok(WalletdWallet {
            inner: Mutex::new(Inner {
                store,
                cfg,
                engine: None,
                signer: None,
                rt,
            }),
        })
    }

    /// Runs `f` on the wallet, one call at a time; a call while another runs (or from inside its callbacks) is
    /// refused, never a deadlock.
    pub(crate) fn with<T>(&self, step: &str, f: impl FnOnce(&mut Inner) -> Result<T, Error>) -> Result<T, Error> {
        let mut inner = match self.inner.try_lock() {
            Ok(g) => g,
            Err(TryLockError::WouldBlock) => {
                return Err(Error::new(
                    WALLETD_ERR_BUSY,
                    step,
                    "the wallet is in use by another call (a callback may not call into its own wallet)",
                ));
            }
            Err(TryLockError::Poisoned(_)) => {
                return Err(Error::new(
                    WALLETD_ERR_INTERNAL,
                    step,
                    "an earlier call on this wallet failed inside the library; close it and open it again",
                ));
            }
        };
        f(&mut inner)
    }

    /// Whether a call is running on it (closing it then would pull the wallet from under that call).
    pub(crate) fn busy(&self) -> bool {
        matches!(self.inner.try_lock(), Err(TryLockError::WouldBlock))
    }
}

impl Inner {
    fn save(&self) -> Result<(), Error> {
        self.store.save().map_err(|e| Error::store("save_store", e))
    }

    pub fn set_signer(&mut self, signer: Option<CSigner>) {
        self.signer = signer;
    }

    /// An agent on the configured engine: the embedded one (built once per wallet) or a remote one.
    fn agent(&mut self, token: Option<&str>) -> Result<Agent, Error> {
        let limits = AgentLimits::default();
        match self.cfg.engine.mode {
            EngineMode::Embedded => {
                if self.engine.is_none() {
                    let _rt = self.rt.enter();
                    let engine = EmbeddedEngine::new(&self.cfg)
                        .map_err(|e| Error::new(WALLETD_ERR_UNREACHABLE, "embedded_engine", e))?;
                    self.engine = Some(engine);
                }
                let engine = self
                    .engine
                    .clone()
                    .ok_or_else(|| Error::invalid("embedded_engine", "no engine"))?;
                self.rt.block_on(engine.agent(limits)).map_err(Error::flow)
            }
            EngineMode::Remote => {
                let token = token.ok_or_else(|| {
                    Error::new(
                        WALLETD_ERR_CONFIG,
                        "connect",
                        "the remote engine needs engine_token in the options",
                    )
                })?;
                let url = self.cfg.engine.url.as_ref().map(|u| u.to_string()).unwrap_or_default();
                self.rt
                    .block_on(Agent::connect(&url, token, limits))
                    .map_err(Error::flow)
            }
        }
    }

    pub fn accept(&mut self, offer: &str, opts: AcceptOptions, cb: Option<&WalletdCallbacks>) -> Result<Value, Error> {
        let mut agent = self.agent(opts.engine_token.as_deref())?;
        let mut ui = CUi::new(cb, opts.tx_code, self.cfg.authorization.redirect_uri.as_str());
        let store_signer = StoreSigner::new(&self.store.data);
        let signer: &dyn HolderSigner = match &self.signer {
            Some(s) => s,
            None => &store_signer,
        };
        let key_id = match opts.key_id {
            Some(k) => k,
            None => signer
                .choose_key()
                .map_err(|e| Error::new(WALLETD_ERR_SIGNER, "load_key", format!("the holder's signer: {e}")))?,
        };
        let result = self.rt.block_on(async {
            let r = agent.accept_offer_with(offer, signer, &key_id, &mut ui).await;
            agent.close().await;
            r
        });
        if let Some(e) = ui.error {
            return Err(e);
        }
        let issued = result.map_err(Error::flow)?;
        let listed: Vec<Value> = issued.credentials.iter().map(summary).collect();
        self.store.data.credentials.extend(issued.credentials);
        self.save()?;
        Ok(json!({"credentials": listed, "issuer": issued.issuer}))
    }

    pub fn present(
        &mut self,
        request: &str,
        opts: PresentOptions,
        cb: Option<&WalletdCallbacks>,
    ) -> Result<Value, Error> {
        let mut agent = self.agent(opts.engine_token.as_deref())?;
        let mut ui = CUi::new(cb, None, self.cfg.authorization.redirect_uri.as_str());
        let store_signer = StoreSigner::new(&self.store.data);
        let signer: &dyn HolderSigner = match &self.signer {
            Some(s) => s,
            None => &store_signer,
        };
        let data = &self.store.data;
        let result = self.rt.block_on(async {
            let r = agent.present_with(request, data, signer, &mut ui).await;
            agent.close().await;
            r
        });
        let (presented, failure) = match result {
            Ok(p) => (p, None),
            Err(e) => (Presented::failed(), Some(e)),
        };
        let max = self.store.options().max_history;
        self.store.data.record(presented.history_entry(now()), max);
        self.save()?;
        if let Some(e) = ui.error {
            return Err(e);
        }
        if let Some(e) = failure {
            return Err(flow_or_declined(e));
        }
        if presented.outcome == "declined" {
            return Err(Error::new(
                WALLETD_ERR_DECLINED,
                "credential_selection",
                "declined; nothing was shared",
            ));
        }
        Ok(presented.summary())
    }

    pub fn list(&self) -> Value {
        let keys: Vec<Value> = self
            .store
            .data
            .keys
            .iter()
            .map(|k| json!({"id": k.id, "jwk": k.key().map(|p| p.public_jwk().to_value())}))
            .collect();
        json!({"credentials": self.store.data.credentials.iter().map(summary).collect::<Vec<_>>(), "keys": keys,
               "signer": if self.signer.is_some() { "app" } else { "store" }})
    }

    pub fn show(&self, id: &str) -> Result<Value, Error> {
        let c = self.store.data.credential(id).ok_or_else(|| not_found(id))?;
        let mut out = summary(c);
        out["claims"] = Value::Object(c.stored().all_claims());
        out["type_metadata"] = c.type_metadata.clone().unwrap_or(Value::Null);
        out["credential"] = json!(c.credential);
        Ok(out)
    }

    pub fn delete(&mut self, id: &str) -> Result<Value, Error> {
        if !self.store.data.delete_credential(id) {
            return Err(not_found(id));
        }
        self.save()?;
        Ok(json!({"deleted": id}))
    }

    pub fn history(&self) -> Value {
        json!({"history": self.store.data.history})
    }
}

fn not_found(id: &str) -> Error {
    Error::new(WALLETD_ERR_NOT_FOUND, "find_credential", format!("no credential {id}"))
}

/// A presentation that ended because no credential matched is a decline (nothing was shared), as in the CLI.
fn flow_or_declined(e: AgentError) -> Error {
    if e.step == "credential_selection" && e.code.is_none() {
        return Error::new(WALLETD_ERR_DECLINED, &e.step, e.message);
    }
    Error::flow(e)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
