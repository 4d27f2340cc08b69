//! Command-line interface.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use walletd_common::RoleSet;

/// walletd: a privacy-preserving backend for digital identity wallets.
#[derive(Debug, Parser)]
#[command(name = "walletd", version, about)]
pub struct Cli {
    /// Roles to run: all, or a comma-separated list of auth, storage, engine, registry, backend.
    /// Overrides `mode` in the config file; defaults to all.
    #[arg(long, global = true, value_parser = parse_roles)]
    pub mode: Option<RoleSet>,

    /// YAML configuration file. Without one, walletd runs a development instance (SQLite under ./data).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands besides running the server.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

/// `walletd config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration and print the effective result with secrets redacted.
    Check,
}

fn parse_roles(s: &str) -> Result<RoleSet, String> {
    s.parse().map_err(|e: walletd_common::roles::UnknownRole| e.to_string())
}
