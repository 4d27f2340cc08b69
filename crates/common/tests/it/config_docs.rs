//! docs/configuration.md stays true: every key of the configuration structs is documented in a table row, and
//! every key documented in a table row exists.

use std::collections::BTreeSet;

use serde_json::Value;

const DOCS: &str = include_str!("../../../../docs/configuration.md");

/// Documented keys that are not serialised back (aliases merged at load time).
const ALIASES: &[&str] = &["ssrf.blocked_cidrs"];

/// Leaf key paths of the effective default configuration. Lists, scalars and nulls are leaves.
fn config_keys() -> BTreeSet<String> {
    let config = walletd_common::config::load(None, Vec::new()).expect("defaults load");
    let value = serde_json::to_value(&config).expect("config serialises");
    let mut keys = BTreeSet::new();
    collect(&value, String::new(), &mut keys);
    keys
}

fn collect(v: &Value, prefix: String, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) if !map.is_empty() || prefix.is_empty() => {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                collect(child, path, out);
            }
        }
        _ => {
            out.insert(prefix);
        }
    }
}

/// Keys in the first column of the docs' tables: rows that start with "| `key`".
fn documented_keys() -> BTreeSet<String> {
    DOCS.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn every_config_key_is_documented() {
    let documented = documented_keys();
    let missing: Vec<_> = config_keys().into_iter().filter(|k| !documented.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "keys missing from docs/configuration.md: {missing:?}"
    );
}

#[test]
fn every_documented_key_exists() {
    let keys = config_keys();
    let stale: Vec<_> = documented_keys()
        .into_iter()
        .filter(|k| !keys.contains(k) && !ALIASES.contains(&k.as_str()))
        .collect();
    assert!(stale.is_empty(), "documented keys that do not exist: {stale:?}");
}

#[test]
fn documented_aliases_are_accepted() {
    for alias in ALIASES {
        let (section, key) = alias.split_once('.').unwrap();
        let yaml = format!("{section}:\n  {key}: []\n");
        walletd_common::config::load_from_str(&yaml, Vec::new()).unwrap_or_else(|e| panic!("{alias}: {e}"));
    }
}
