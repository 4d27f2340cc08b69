//! The commands: each opens what it needs (configuration, store, engine), does its work and returns what to print.

use std::path::Path;

use serde_json::{Value, json};
use walletd_wallet::agent::{AgentLimits, Presented};
use walletd_wallet::device::{DeviceConfig, EngineMode};
use walletd_wallet::store::{KeySource, Store};

use crate::exit::{self, Failure};
use crate::ui::Terminal;
use crate::{Cli, Command};

/// What a command prints: text for people, JSON for scripts.
pub struct Output {
    pub text: String,
    pub json: Value,
}

impl Output {
    fn new(text: impl Into<String>, json: Value) -> Self {
        Output {
            text: text.into(),
            json,
        }
    }
}

/// The environment variable with the wallet's passphrase.
pub const PASSPHRASE_ENV: &str = "WALLETD_WALLET_PASSPHRASE";
/// The environment variable with a remote engine's access token.
pub const ENGINE_TOKEN_ENV: &str = "WALLETD_WALLET_ENGINE_TOKEN";

fn first_line(path: &Path, step: &str) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(exit::CONFIG, step, format!("cannot read {}: {e}", path.display())))?;
    let line = text.lines().next().unwrap_or_default().to_string();
    if line.is_empty() {
        return Err(Failure::new(
            exit::CONFIG,
            step,
            format!("{} has no passphrase on its first line", path.display()),
        ));
    }
    Ok(line)
}

fn passphrase(cli: &Cli) -> Result<KeySource, Failure> {
    if let Some(p) = &cli.passphrase_file {
        return Ok(KeySource::passphrase(first_line(p, "passphrase")?));
    }
    match std::env::var(PASSPHRASE_ENV) {
        Ok(p) if !p.is_empty() => Ok(KeySource::passphrase(p)),
        _ => Err(Failure::new(
            exit::WRONG_KEY,
            "passphrase",
            format!("no passphrase: use --passphrase-file or {PASSPHRASE_ENV}"),
        )),
    }
}

fn config(cli: &Cli) -> Result<DeviceConfig, Failure> {
    match &cli.config {
        Some(p) => DeviceConfig::load(p).map_err(|e| Failure::new(exit::CONFIG, "config", e)),
        None => Ok(DeviceConfig::default()),
    }
}

fn open(cli: &Cli, cfg: &DeviceConfig) -> Result<Store, Failure> {
    Store::open(&cli.dir, &passphrase(cli)?, cfg.store).map_err(|e| Failure::store("open_store", e))
}

/// Opens the store to read only: other readers may run at the same time, a writer may not.
fn open_read_only(cli: &Cli, cfg: &DeviceConfig) -> Result<Store, Failure> {
    Store::open_read_only(&cli.dir, &passphrase(cli)?, cfg.store).map_err(|e| Failure::store("open_store", e))
}

fn save(store: &Store) -> Result<(), Failure> {
    store.save().map_err(|e| Failure::store("save_store", e))
}

/// The credential whose id is `id` or starts with it (unique).
fn find_credential(store: &Store, id: &str) -> Result<String, Failure> {
    let hits: Vec<&str> = store
        .data
        .credentials
        .iter()
        .map(|c| c.id.as_str())
        .filter(|c| *c == id || c.starts_with(id))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(Failure::new(
            exit::NOT_FOUND,
            "find_credential",
            format!("no credential {id}"),
        )),
        _ => Err(Failure::new(
            exit::CONFIG,
            "find_credential",
            format!("{id} names several credentials"),
        )),
    }
}

/// An agent on the configured engine. A remote engine's token is `WALLETD_WALLET_ENGINE_TOKEN` when set, else an
/// `engine`-audience token obtained from the cloud account (a passkey login; the passkey's counter is saved).
async fn agent(cfg: &DeviceConfig, store: &mut Store) -> Result<walletd_wallet::agent::Agent, Failure> {
    let limits = AgentLimits::default();
    match cfg.engine.mode {
        EngineMode::Embedded => walletd_wallet::embedded::embedded_agent(cfg, limits)
            .await
            .map_err(Failure::flow),
        EngineMode::Remote => {
            let token = match std::env::var(ENGINE_TOKEN_ENV) {
                Ok(t) if !t.is_empty() => t,
                _ => engine_token(cfg, store).await?,
            };
            let url = cfg.engine.url.as_ref().map(|u| u.to_string()).unwrap_or_default();
            walletd_wallet::agent::Agent::connect(&url, &token, limits)
                .await
                .map_err(Failure::flow)
        }
    }
}

/// Logs in to the cloud account with the wallet's passkey and exchanges the session for an engine token.
async fn engine_token(cfg: &DeviceConfig, store: &mut Store) -> Result<String, Failure> {
    if store.data.account.is_none() {
        return Err(Failure::new(
            exit::CONFIG,
            "engine_token",
            format!("the remote engine needs the cloud account: run `login` first (or set {ENGINE_TOKEN_ENV})"),
        ));
    }
    let target = cloud_target(cfg)?;
    let cloud = walletd_wallet::cloud::login(&target, &mut store.data).await;
    // The passkey's signature counter moved even if what follows fails.
    save(store)?;
    let mut cloud = cloud.map_err(cloud_failure)?;
    cloud.token_for("engine").await.map_err(cloud_failure)
}

fn summary(c: &walletd_wallet::store::CredentialRecord) -> Value {
    json!({"id": c.id, "format": c.format, "vct": c.vct, "issuer": c.issuer, "key_id": c.key_id,
           "issued_at": c.issued_at, "name": c.type_metadata.as_ref().and_then(|m| m.get("name")).cloned()})
}

/// Runs the command.
pub async fn run(cli: &Cli) -> Result<Output, Failure> {
    let cfg = config(cli)?;
    match &cli.command {
        Command::Init => {
            let store = Store::create(&cli.dir, &passphrase(cli)?, cfg.store).map_err(|e| Failure::store("init", e))?;
            let key = store.data.keys[0].id.clone();
            Ok(Output::new(
                format!("created a wallet in {} (holder key {key})", cli.dir.display()),
                json!({"dir": cli.dir, "key_id": key}),
            ))
        }
        Command::NewKey => {
            let mut store = open(cli, &cfg)?;
            let id = store.data.add_key();
            save(&store)?;
            Ok(Output::new(format!("new holder key {id}"), json!({"key_id": id})))
        }
        Command::Accept {
            offer,
            tx_code,
            key,
            authorize_with,
        } => {
            let mut store = open(cli, &cfg)?;
            let key = match key {
                Some(k) => store
                    .data
                    .key(k)
                    .cloned()
                    .ok_or_else(|| Failure::new(exit::NOT_FOUND, "load_key", format!("no key {k}")))?,
                None => store
                    .data
                    .keys
                    .last()
                    .cloned()
                    .ok_or_else(|| Failure::new(exit::NOT_FOUND, "load_key", "the wallet has no key"))?,
            };
            let mut ui = Terminal::new(!cli.quiet);
            ui.tx_code = tx_code.clone();
            let source = match authorize_with {
                Some(p) => crate::authorize::Source::Program(p.clone()),
                None => crate::authorize::Source::Prompt,
            };
            ui.authorization = Some((source, cfg.authorization.clone()));
            let mut agent = agent(&cfg, &mut store).await?;
            let issued = agent.accept_offer(offer, &key, &mut ui).await.map_err(|e| {
                let mut f = Failure::flow(e);
                // The engine only knows the answer was missing; the terminal knows why.
                if let Some(why) = ui.problem.take() {
                    f.message = format!("{why} ({})", f.message);
                }
                f
            });
            agent.close().await;
            let issued = issued?;
            let listed: Vec<Value> = issued.credentials.iter().map(summary).collect();
            let ids: Vec<String> = issued.credentials.iter().map(|c| c.id.clone()).collect();
            store.data.credentials.extend(issued.credentials);
            save(&store)?;
            Ok(Output::new(
                format!("stored {} credential(s): {}", ids.len(), ids.join(", ")),
                json!({"credentials": listed}),
            ))
        }
        Command::Present { request, yes, claims } => {
            let mut store = open(cli, &cfg)?;
            let mut ui = Terminal::new(!cli.quiet);
            ui.yes = *yes;
            ui.claims = claims.clone();
            let mut agent = agent(&cfg, &mut store).await?;
            let result = agent.present(request, &store.data, &mut ui).await;
            agent.close().await;
            let (presented, failure) = match result {
                Ok(p) => (p, None),
                Err(e) => (Presented::failed(), Some(Failure::flow(e))),
            };
            let max = store.options().max_history;
            store.data.record(presented.history_entry(now()), max);
            save(&store)?;
            if let Some(f) = failure {
                return Err(f);
            }
            if presented.outcome == "declined" {
                return Err(Failure::new(
                    exit::DECLINED,
                    "credential_selection",
                    "declined; nothing was shared",
                ));
            }
            Ok(Output::new(
                format!(
                    "presented to {}",
                    presented.verifier.as_deref().unwrap_or("the verifier")
                ),
                presented.summary(),
            ))
        }
        Command::List => {
            let store = open_read_only(cli, &cfg)?;
            let items: Vec<Value> = store.data.credentials.iter().map(summary).collect();
            let text = store
                .data
                .credentials
                .iter()
                .map(|c| {
                    format!(
                        "{}  {}  {}",
                        c.id,
                        c.vct.as_deref().unwrap_or("-"),
                        c.issuer.as_deref().unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(
                text,
                json!({"credentials": items, "keys": store.data.keys.iter().map(|k| &k.id).collect::<Vec<_>>()}),
            ))
        }
        Command::Show { id } => {
            let store = open_read_only(cli, &cfg)?;
            let id = find_credential(&store, id)?;
            let c = store
                .data
                .credential(&id)
                .ok_or_else(|| Failure::new(exit::NOT_FOUND, "show", "gone"))?;
            let claims = Value::Object(c.stored().all_claims());
            let mut out = summary(c);
            out["claims"] = claims.clone();
            out["type_metadata"] = c.type_metadata.clone().unwrap_or(Value::Null);
            out["credential"] = json!(c.credential);
            let text = serde_json::to_string_pretty(&out).unwrap_or_default();
            Ok(Output::new(text, out))
        }
        Command::Delete { id } => {
            let mut store = open(cli, &cfg)?;
            let id = find_credential(&store, id)?;
            store.data.delete_credential(&id);
            save(&store)?;
            Ok(Output::new(format!("deleted {id}"), json!({"deleted": id})))
        }
        Command::History => {
            let store = open_read_only(cli, &cfg)?;
            let text = store
                .data
                .history
                .iter()
                .map(|h| format!("{}  {}  {}", h.at, h.outcome, h.verifier.as_deref().unwrap_or("-")))
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(text, json!({"history": store.data.history})))
        }
        Command::Login => {
            let mut store = open(cli, &cfg)?;
            let target = cloud_target(&cfg)?;
            let result = walletd_wallet::cloud::login(&target, &mut store.data).await;
            save(&store)?;
            result.map_err(cloud_failure)?;
            let user = store.data.account.as_ref().and_then(|a| a.user_id.clone());
            Ok(Output::new(
                format!("logged in to {} as {}", target.url, user.as_deref().unwrap_or("-")),
                json!({"url": target.url, "user_id": user}),
            ))
        }
        Command::Sync => {
            let mut store = open(cli, &cfg)?;
            let target = cloud_target(&cfg)?;
            if !cli.quiet {
                eprintln!("... login");
            }
            let cloud = walletd_wallet::cloud::login(&target, &mut store.data).await;
            let cloud = match cloud {
                Ok(c) => c,
                Err(e) => {
                    save(&store)?;
                    return Err(cloud_failure(e));
                }
            };
            if !cli.quiet {
                eprintln!("... sync");
            }
            let limits = walletd_wallet::cloud::SyncLimits {
                max_conflict_retries: cfg.cloud.max_conflict_retries,
                max_pages: cfg.cloud.max_sync_pages,
            };
            let result = walletd_wallet::cloud::sync(&cloud, &mut store.data, limits).await;
            // What was done before an error is recorded, so the next sync continues from there.
            save(&store)?;
            let report = result.map_err(cloud_failure)?;
            Ok(Output::new(
                format!(
                    "synced: {} pulled, {} pushed, {} deleted, {} conflicts resolved",
                    report.pulled, report.pushed, report.deleted, report.conflicts
                ),
                serde_json::to_value(&report).unwrap_or_default(),
            ))
        }
        Command::Export {
            file,
            backup_passphrase_file,
            account_only,
        } => {
            // Nothing is saved: the account-only copy is made in memory.
            let mut store = open_read_only(cli, &cfg)?;
            if *account_only {
                if store.data.account.is_none() {
                    return Err(Failure::new(
                        exit::NOT_FOUND,
                        "export",
                        "the wallet has no cloud account: run `login` first",
                    ));
                }
                store.data = walletd_wallet::store::WalletData {
                    account: store.data.account.take(),
                    ..Default::default()
                };
            }
            let key = match backup_passphrase_file {
                Some(p) => KeySource::passphrase(first_line(p, "backup_passphrase")?),
                None => passphrase(cli)?,
            };
            let bytes = store.export(&key).map_err(|e| Failure::store("export", e))?;
            let dir = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| Failure::new(exit::CONFIG, "export", "the backup path has no file name"))?;
            walletd_wallet::store::write_atomic(dir, name, &bytes).map_err(|e| Failure::store("export", e))?;
            Ok(Output::new(
                format!("wrote {}", file.display()),
                json!({"file": file, "bytes": bytes.len()}),
            ))
        }
        Command::Import {
            file,
            backup_passphrase_file,
        } => {
            let key = match backup_passphrase_file {
                Some(p) => KeySource::passphrase(first_line(p, "backup_passphrase")?),
                None => passphrase(cli)?,
            };
            let bytes = std::fs::read(file)
                .map_err(|e| Failure::new(exit::STORE, "import", format!("cannot read {}: {e}", file.display())))?;
            let data = Store::read_backup(&bytes, &key, &cfg.store).map_err(|e| Failure::store("import", e))?;
            let mut store = if Store::exists(&cli.dir) {
                open(cli, &cfg)?
            } else {
                let mut s =
                    Store::create(&cli.dir, &passphrase(cli)?, cfg.store).map_err(|e| Failure::store("init", e))?;
                s.data.keys.clear();
                s
            };
            let (keys, creds) = store.merge(data);
            save(&store)?;
            Ok(Output::new(
                format!("imported {keys} key(s) and {creds} credential(s)"),
                json!({"keys": keys, "credentials": creds}),
            ))
        }
    }
}

fn cloud_target(cfg: &DeviceConfig) -> Result<walletd_wallet::cloud::CloudTarget, Failure> {
    let url = cfg
        .cloud
        .url
        .clone()
        .ok_or_else(|| Failure::new(exit::CONFIG, "config", "cloud.url is not set"))?;
    let origin = match &cfg.cloud.origin {
        Some(o) => o
            .parse()
            .map_err(|e| Failure::new(exit::CONFIG, "config", format!("cloud.origin: {e}")))?,
        None => url.clone(),
    };
    Ok(walletd_wallet::cloud::CloudTarget {
        url,
        origin,
        tenant: cfg.cloud.tenant.clone(),
        timeout: cfg.cloud.timeout,
    })
}

fn cloud_failure(e: walletd_wallet::cloud::CloudError) -> Failure {
    let message = if e.unreachable {
        format!(
            "{}; the local wallet is unchanged and syncs at the next `sync`",
            e.message
        )
    } else {
        e.message
    };
    Failure::new(exit::CLOUD, &e.step, message)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
