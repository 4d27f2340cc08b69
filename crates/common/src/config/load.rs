//! Turning a YAML file plus the environment into a validated [`Config`].

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use super::{Config, DEV_DATABASE_URL};

/// Why a configuration could not be loaded. Every variant prints as one line naming the key or file involved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("config file {path} is not valid YAML: {message}")]
    Syntax { path: String, message: String },
    /// A `${VAR}` reference names an unset variable.
    #[error("config key `{key}`: environment variable {var} is not set (use ${{{var}:-default}} for a fallback)")]
    UnsetVariable { key: String, var: String },
    /// A key is unknown, has the wrong type, or an invalid value.
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    /// The key path the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnsetVariable { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Loads the configuration from an optional YAML file and the given environment (pass `std::env::vars()`).
///
/// Without a file, the development defaults apply (SQLite under `./data`), so `walletd --mode=all` works as is.
pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = env.into_iter().collect();
    let root = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.display().to_string(),
                source,
            })?;
            parse_yaml(&text, &p.display().to_string())?
        }
        None => development_defaults(),
    };
    finish(root, &env)
}

/// Loads the configuration from YAML text (tests, `config check` on stdin).
pub fn load_from_str(yaml: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = env.into_iter().collect();
    finish(parse_yaml(yaml, "<inline>")?, &env)
}

/// What `walletd` uses when started with no config file: only the database differs from the struct defaults,
/// because an explicit file without a `database` section means "no database" (the engine role needs none).
fn development_defaults() -> Value {
    let mut db = Mapping::new();
    db.insert("url".into(), DEV_DATABASE_URL.into());
    let mut root = Mapping::new();
    root.insert("database".into(), Value::Mapping(db));
    Value::Mapping(root)
}

fn parse_yaml(text: &str, origin: &str) -> Result<Value, ConfigError> {
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Syntax {
        path: origin.to_string(),
        message: e.to_string().replace('\n', " "),
    })?;
    match value {
        // An empty file is an empty configuration.
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        Value::Mapping(_) => Ok(value),
        _ => Err(ConfigError::Syntax {
            path: origin.to_string(),
            message: "the top level must be a mapping of keys".into(),
        }),
    }
}

fn finish(mut root: Value, env: &[(String, String)]) -> Result<Config, ConfigError> {
    expand_variables(&mut root, &mut Vec::new(), env)?;
    apply_env_overrides(&mut root, env)?;
    let mut config: Config = serde_path_to_error::deserialize(root).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        invalid_key_error(&path, &message)
    })?;
    merge_aliases(&mut config);
    super::validate::validate(&config)?;
    Ok(config)
}

/// serde reports an unknown field at the path of its parent; name the unknown key itself instead.
fn invalid_key_error(path: &str, message: &str) -> ConfigError {
    let path = if path == "." { "" } else { path };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        // serde_path_to_error usually includes the unknown field in the path already.
        let key = if path.is_empty() {
            field.to_string()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            path.to_string()
        } else {
            format!("{path}.{field}")
        };
        return ConfigError::Invalid {
            key,
            message: "unknown key".into(),
        };
    }
    ConfigError::Invalid {
        key: if path.is_empty() {
            "<root>".into()
        } else {
            path.to_string()
        },
        message: message.to_string(),
    }
}

/// Replaces `${VAR}` and `${VAR:-fallback}` in every string value; `$${` stands for a literal `${`.
fn expand_variables(value: &mut Value, path: &mut Vec<String>, env: &[(String, String)]) -> Result<(), ConfigError> {
    match value {
        Value::String(s) if s.contains('$') => {
            *s = expand_string(s, env).map_err(|var| ConfigError::UnsetVariable {
                key: path.join("."),
                var,
            })?;
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                path.push(key_name(k));
                expand_variables(v, path, env)?;
                path.pop();
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                expand_variables(v, path, env)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

fn key_name(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

/// Expands one string; returns the name of an unset variable as the error.
fn expand_string(input: &str, env: &[(String, String)]) -> Result<String, String> {
    let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${")
            && let Some(end) = tail.find('}')
        {
            let inner = &tail[..end];
            let (name, fallback) = match inner.split_once(":-") {
                Some((n, f)) => (n, Some(f)),
                None => (inner, None),
            };
            match (lookup(name), fallback) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(f)) => out.push_str(f),
                (None, None) => return Err(name.to_string()),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `WALLET_SERVER__HTTP_PORT=9000` sets `server.http_port`. Values are read as YAML scalars or flow sequences
/// (`true`, `9000`, `[a, b]`), anything else as a plain string, so secrets containing `: ` stay intact.
fn apply_env_overrides(root: &mut Value, env: &[(String, String)]) -> Result<(), ConfigError> {
    for (name, raw) in env {
        let Some(path) = name.strip_prefix("WALLET_") else {
            continue;
        };
        let segments: Vec<String> = path.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(ConfigError::Invalid {
                key: segments.join("."),
                message: format!("environment variable {name} does not name a key"),
            });
        }
        let value = match serde_yaml_ng::from_str::<Value>(raw) {
            Ok(v @ (Value::Bool(_) | Value::Number(_) | Value::Null | Value::Sequence(_))) => v,
            _ => Value::String(raw.clone()),
        };
        set_path(root, &segments, value);
    }
    Ok(())
}

fn set_path(root: &mut Value, segments: &[String], value: Value) {
    let mut cursor = root;
    for seg in &segments[..segments.len() - 1] {
        if !matches!(cursor, Value::Mapping(_)) {
            *cursor = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = cursor else {
            unreachable!("made a mapping above")
        };
        cursor = map.entry(Value::String(seg.clone())).or_insert(Value::Null);
    }
    if !matches!(cursor, Value::Mapping(_)) {
        *cursor = Value::Mapping(Mapping::new());
    }
    let Value::Mapping(map) = cursor else {
        unreachable!("made a mapping above")
    };
    map.insert(Value::String(segments[segments.len() - 1].clone()), value);
}

fn merge_aliases(config: &mut Config) {
    if let Some(ssrf) = config.ssrf.take() {
        for cidr in ssrf.blocked_cidrs {
            if !config.egress.blocked_cidrs.contains(&cidr) {
                config.egress.blocked_cidrs.push(cidr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_file_gives_working_development_defaults() {
        let c = load(None, env(&[])).unwrap();
        assert_eq!(c.server.http_port, 8080);
        assert_eq!(c.server.ws_port, Some(8081));
        assert_eq!(c.server.admin_port, Some(8082));
        assert_eq!(c.server.listen.to_string(), "127.0.0.1");
        assert_eq!(c.database.unwrap().url.expose(), DEV_DATABASE_URL);
    }

    #[test]
    fn file_without_database_means_no_database() {
        let c = load_from_str("server: { http_port: 9000 }", env(&[])).unwrap();
        assert!(c.database.is_none());
        assert_eq!(c.server.http_port, 9000);
    }

    #[test]
    fn unknown_key_is_named_with_its_path() {
        let e = load_from_str("server:\n  http_prot: 1\n", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("server.http_prot"));
        assert_eq!(e.to_string(), "config key `server.http_prot`: unknown key");
        let e = load_from_str("bogus: 1\n", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("bogus"));
    }

    #[test]
    fn zero_queue_sizes_are_refused_with_their_key() {
        for key in [
            "flow_inbox_frames",
            "outbound_queue_frames",
            "sse_replay_frames",
            "sse_replay_bytes",
            "sse_inbound_frames",
            "sse_stream_queue_frames",
        ] {
            let e = load_from_str(&format!("engine:\n  {key}: 0\n"), env(&[])).unwrap_err();
            assert_eq!(e.key(), Some(format!("engine.{key}").as_str()));
        }
    }

    #[test]
    fn progress_hold_is_bounded() {
        let e = load_from_str("engine:\n  progress_hold: 2s\n", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("engine.progress_hold"));
        let c = load_from_str("engine:\n  progress_hold: 0s\n", env(&[])).unwrap();
        assert!(c.engine.progress_hold.is_zero());
        let c = load_from_str("engine:\n  progress_hold: 1s\n", env(&[])).unwrap();
        assert_eq!(c.engine.progress_hold, std::time::Duration::from_secs(1));
    }

    #[test]
    fn worker_threads_default_to_one_per_core_and_are_bounded() {
        assert_eq!(load_from_str("", env(&[])).unwrap().server.worker_threads, 0);
        let c = load_from_str("server:\n  worker_threads: 1024\n", env(&[])).unwrap();
        assert_eq!(c.server.worker_threads, 1024);
        let e = load_from_str("server:\n  worker_threads: 1025\n", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("server.worker_threads"));
        assert!(e.to_string().contains("at most 1024"), "{e}");
        let e = load_from_str("server:\n  worker_threads: -1\n", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("server.worker_threads"));
    }

    #[test]
    fn rate_limit_keys_are_checked_with_their_key() {
        for (yaml, key) in [
            ("rate_limits:\n  window: 0s\n", "rate_limits.window"),
            ("rate_limits:\n  window: 2d\n", "rate_limits.window"),
            ("rate_limits:\n  redis_prefix: ''\n", "rate_limits.redis_prefix"),
            ("rate_limits:\n  redis_prefix: 'a b'\n", "rate_limits.redis_prefix"),
            ("rate_limits:\n  local_max_keys: 0\n", "rate_limits.local_max_keys"),
            ("cache:\n  redis_timeout: 0s\n", "cache.redis_timeout"),
            ("storage:\n  sync_head_entries: 0\n", "storage.sync_head_entries"),
            (
                "rate_limits:\n  storage_writes_per_user: -1\n",
                "rate_limits.storage_writes_per_user",
            ),
            ("rate_limits:\n  engine_flows: 5\n", "rate_limits.engine_flows"),
            (
                "registry:\n  fetch_allowed_origins: ['https://a.example/path']\n",
                "registry.fetch_allowed_origins.0",
            ),
            (
                "registry:\n  fetch_allowed_origins: ['ftp://a.example']\n",
                "registry.fetch_allowed_origins.0",
            ),
        ] {
            let e = load_from_str(yaml, env(&[])).unwrap_err();
            assert_eq!(e.key(), Some(key), "{yaml}: {e}");
        }
        let c = load_from_str(
            "rate_limits:\n  window: 10s\n  engine_flows_per_user: 0\n",
            env(&[("WALLET_RATE_LIMITS__STORAGE_WRITES_PER_USER", "7")]),
        )
        .unwrap();
        assert_eq!(c.rate_limits.window, std::time::Duration::from_secs(10));
        assert_eq!(c.rate_limits.engine_flows_per_user, 0);
        assert_eq!(c.rate_limits.storage_writes_per_user, 7);
        // The wallet provider's budgets keep accepting their former names.
        let c = load_from_str(
            "wallet_provider:\n  user_per_minute: 4\n  rate_limit_per_instance: 5\n",
            env(&[]),
        )
        .unwrap();
        assert_eq!(c.wallet_provider.rate_limit_per_user, 4);
        assert_eq!(c.wallet_provider.rate_limit_per_instance, 5);
    }

    #[test]
    fn wrong_type_is_named_with_its_path() {
        let e = load_from_str("server:\n  http_port: lots\n", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("server.http_port"));
        let e = load_from_str("database: { url: 'sqlite://x', max_connections: -1 }", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("database.max_connections"));
    }

    #[test]
    fn variables_expand_with_fallbacks_and_escapes() {
        let yaml = "jwt:\n  secret: ${JWT_SECRET}\n  issuer: ${ISSUER:-https://wallet.example}\nlogging:\n  level: $${literal}\n";
        let c = load_from_str(yaml, env(&[("JWT_SECRET", "s3cret")])).unwrap();
        assert_eq!(c.jwt.secret.unwrap().expose(), "s3cret");
        assert_eq!(c.jwt.issuer, "https://wallet.example");
        assert_eq!(c.logging.level, "${literal}");
    }

    #[test]
    fn unset_variable_names_key_and_variable() {
        let e = load_from_str("admin:\n  token: ${ADMIN_TOKEN}\n", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("admin.token"));
        assert!(e.to_string().contains("ADMIN_TOKEN"));
    }

    #[test]
    fn environment_overrides_win_and_are_typed() {
        let c = load_from_str(
            "server: { http_port: 9000 }",
            env(&[
                ("WALLET_SERVER__HTTP_PORT", "9100"),
                ("WALLET_SERVER__CORS_ORIGINS", "[\"https://a.example\", \"*\"]"),
                ("WALLET_FEATURES__LEGACY_PROXY", "true"),
                ("WALLET_JWT__SECRET", "a: b"),
                ("WALLET_DATABASE__URL", "postgres://u:p@127.0.0.1/test"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.http_port, 9100);
        assert_eq!(c.server.cors_origins, vec!["https://a.example", "*"]);
        assert_eq!(c.features.legacy_proxy, crate::config::LegacyProxyMode::Full);
        assert_eq!(c.jwt.secret.unwrap().expose(), "a: b");
        assert_eq!(c.database.unwrap().url.scheme(), "postgres");
    }

    #[test]
    fn environment_override_of_unknown_key_is_an_error() {
        let e = load_from_str("", env(&[("WALLET_SERVER__NOPE", "1")])).unwrap_err();
        assert_eq!(e.key(), Some("server.nope"));
    }

    #[test]
    fn ssrf_alias_merges_into_egress() {
        let c = load_from_str(
            "ssrf:\n  blocked_cidrs: [203.0.114.0/24]\negress:\n  blocked_cidrs: [198.19.0.0/16]\n",
            env(&[]),
        )
        .unwrap();
        let cidrs: Vec<String> = c.egress.blocked_cidrs.iter().map(|c| c.to_string()).collect();
        assert_eq!(cidrs, vec!["198.19.0.0/16", "203.0.114.0/24"]);
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let e = load_from_str("database: { url: 'mysql://x' }", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("database.url"));
        let e = load_from_str("mode: auth,wizard", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("mode"));
        let e = load_from_str("server: { cors_origins: ['not an origin'] }", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("server.cors_origins.0"));
    }

    #[test]
    fn worker_settings_are_validated() {
        let e = load_from_str("workers: { trust_refresh_fraction: 1.5 }", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("workers.trust_refresh_fraction"));
        let e = load_from_str("workers: { trust_batch: 0 }", env(&[])).unwrap_err();
        assert_eq!(e.key(), Some("workers"));
        let c = load_from_str("workers: { cleanup_interval: 1m }", env(&[])).unwrap();
        assert_eq!(c.workers.cleanup_interval, std::time::Duration::from_secs(60));
    }

    #[test]
    fn syntax_errors_are_reported_on_one_line() {
        let e = load_from_str("server: [unclosed", env(&[])).unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }));
        assert!(!e.to_string().contains('\n'));
    }
}
