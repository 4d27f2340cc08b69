//! `walletd-wallet`: a wallet that lives in a directory. Keys, credentials and the history of presentations are kept
//! in an encrypted store; issuance and presentation run through the engine embedded in this process (or a remote
//! one: one setting in the device configuration); the cloud account stores only encrypted blobs.
//!
//! Exit codes (also in `walletd-wallet --help` and docs/native-app.md): see [`exit`].

mod authorize;
mod commands;
mod exit;
mod ui;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A wallet in a directory: an encrypted local store, the engine embedded in-process, an optional cloud account.
#[derive(Debug, Parser)]
#[command(
    name = "walletd-wallet",
    version,
    after_help = "Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 wrong passphrase or key, 4 store damaged or \
                  unreadable, 5 flow failed (issuer, verifier or engine), 6 declined, 7 cloud unreachable or \
                  refused, 8 configuration, 9 not found, 10 the wallet is in use by another process"
)]
pub struct Cli {
    /// The wallet directory.
    #[arg(long, global = true, env = "WALLETD_WALLET_DIR", default_value = "./wallet")]
    pub dir: PathBuf,
    /// A file whose first line is the passphrase (else WALLETD_WALLET_PASSPHRASE).
    #[arg(long, global = true)]
    pub passphrase_file: Option<PathBuf>,
    /// The device configuration (local-engine.yaml shape: engine, egress, trust, registry, cloud, store).
    #[arg(long, global = true, env = "WALLETD_WALLET_CONFIG")]
    pub config: Option<PathBuf>,
    /// Machine-readable output on stdout (progress and prompts stay on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates a wallet (with one holder key) in --dir.
    Init,
    /// Adds a holder key.
    NewKey,
    /// Accepts a credential offer (`openid-credential-offer://...` or the offer JSON).
    Accept {
        /// The offer.
        offer: String,
        /// The transaction code, when the offer asks for one.
        #[arg(long)]
        tx_code: Option<String>,
        /// The holder key to bind the credential to (default: the newest).
        #[arg(long)]
        key: Option<String>,
        /// For an offer by authorization code: run PROGRAM with the issuer's authorization URL as its only
        /// argument (no shell) and take the redirect from its first line of output, instead of printing the URL
        /// and reading the redirect from stdin.
        #[arg(long, value_name = "PROGRAM")]
        authorize_with: Option<PathBuf>,
    },
    /// Presents credentials to a verifier (`openid4vp://...`, `haip://...` or https request URI).
    Present {
        /// The authorization request.
        request: String,
        /// Consent without asking.
        #[arg(long)]
        yes: bool,
        /// Disclose only these of the requested claims (comma-separated paths, e.g. `given_name`).
        #[arg(long, value_delimiter = ',')]
        claims: Option<Vec<String>>,
    },
    /// Lists the credentials.
    List,
    /// Shows one credential (its claims and type metadata).
    Show {
        /// The credential id (a unique prefix is enough).
        id: String,
    },
    /// Deletes one credential (and, at the next sync, its blob in the cloud).
    Delete {
        /// The credential id (a unique prefix is enough).
        id: String,
    },
    /// Lists the presentations made.
    History,
    /// Logs in to the cloud account (cloud.url in --config) with the wallet's passkey, creating the account and the
    /// passkey at the first login.
    Login,
    /// Syncs the wallet with the cloud account: encrypted blobs only.
    Sync,
    /// Writes an encrypted backup of the whole wallet.
    Export {
        /// Where to write it.
        file: PathBuf,
        /// A file whose first line is the backup's passphrase (else the wallet's own).
        #[arg(long)]
        backup_passphrase_file: Option<PathBuf>,
        /// Only the cloud account (passkey and sync key): what a second device needs to join the account and
        /// receive everything else by `sync`.
        #[arg(long)]
        account_only: bool,
    },
    /// Merges an encrypted backup into the wallet (creating the wallet when --dir has none).
    Import {
        /// The backup file.
        file: PathBuf,
        /// A file whose first line is the backup's passphrase (else the wallet's own).
        #[arg(long)]
        backup_passphrase_file: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: start: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(exit::UNEXPECTED);
        }
    };
    match runtime.block_on(commands::run(&cli)) {
        Ok(out) => {
            if cli.json {
                println!("{}", out.json);
            } else if !out.text.is_empty() {
                println!("{}", out.text);
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"error": {"step": e.step, "message": e.message, "exit_code": e.code}})
                );
            }
            eprintln!("error: {}: {}", e.step, e.message);
            std::process::ExitCode::from(e.code)
        }
    }
}
