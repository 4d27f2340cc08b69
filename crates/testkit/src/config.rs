//! A walletd configuration file built from typed fields instead of hand-written YAML strings.
//!
//! The common settings of tests are fields with their own setter; anything else is a dotted key ([`Config::set`])
//! or a YAML fragment ([`Config::yaml`]) merged over the typed part, so a test never needs string formatting to
//! produce valid YAML. The result is rendered with a YAML serializer: quoting and indentation cannot go wrong.

use serde_json::{Map, Value, json};

/// The egress CIDR of IPv4 loopback, where every test peer listens.
pub const LOOPBACK_V4: &str = "127.0.0.1/32";
/// The egress CIDR of IPv6 loopback (names like `localhost` resolve to both).
pub const LOOPBACK_V6: &str = "::1/128";

/// `database:` settings.
#[derive(Clone, Debug, Default)]
pub struct Database {
    /// `database.url`.
    pub url: String,
    /// `database.max_connections`.
    pub max_connections: Option<u32>,
    /// `database.busy_timeout` (a duration such as `30s`).
    pub busy_timeout: Option<String>,
}

/// `egress:` settings: what outbound HTTP the process may do.
#[derive(Clone, Debug, Default)]
pub struct Egress {
    /// `egress.allow_http`: plain http is refused unless set.
    pub allow_http: bool,
    /// `egress.allowed_cidrs`: holes in the private-address block list.
    pub allowed_cidrs: Vec<String>,
}

/// `trust:` settings: the global AuthZEN PDP.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// `trust.default_endpoint`.
    pub default_endpoint: String,
    /// `trust.timeout` (a duration such as `2s`).
    pub timeout: Option<String>,
}

/// `registry:` settings that tests set most.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// `registry.vctm_sources`: upstream type-metadata documents.
    pub vctm_sources: Vec<String>,
    /// `registry.overrides_dir`.
    pub overrides_dir: Option<String>,
    /// `registry.url`: the registry other roles ask.
    pub url: Option<String>,
}

/// One walletd configuration file. Unset fields are left out, so walletd's defaults apply.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `mode`: the roles to run (`all`, `engine`, `auth,storage`, ...).
    pub mode: Option<String>,
    /// `database`.
    pub database: Option<Database>,
    /// `jwt.secret`: the legacy HS256 shared secret.
    pub jwt_secret: Option<String>,
    /// `egress`.
    pub egress: Option<Egress>,
    /// `trust`.
    pub trust: Option<Trust>,
    /// `registry`.
    pub registry: Option<Registry>,
    /// `admin.token`: the bearer token of the admin listener.
    pub admin_token: Option<String>,
    /// Limits and other scalar settings by dotted key (`storage.max_blob_bytes` = 1024), applied in order.
    pub settings: Vec<(String, Value)>,
    /// YAML fragments merged over everything else, in order (objects merge key by key; other values replace).
    pub fragments: Vec<String>,
}

impl Config {
    /// An empty configuration: walletd's built-in defaults.
    pub fn new() -> Self {
        Config::default()
    }

    /// `mode: <roles>`.
    pub fn mode(mut self, roles: &str) -> Self {
        self.mode = Some(roles.to_string());
        self
    }

    /// `database.url`.
    pub fn database(mut self, url: &str) -> Self {
        self.database.get_or_insert_with(Database::default).url = url.to_string();
        self
    }

    /// `database.max_connections` and `database.busy_timeout` (for suites with many concurrent writers).
    pub fn database_pool(mut self, max_connections: u32, busy_timeout: &str) -> Self {
        let db = self.database.get_or_insert_with(Database::default);
        db.max_connections = Some(max_connections);
        db.busy_timeout = Some(busy_timeout.to_string());
        self
    }

    /// `jwt.secret`.
    pub fn jwt_secret(mut self, secret: &str) -> Self {
        self.jwt_secret = Some(secret.to_string());
        self
    }

    /// `egress.allow_http: true` (no CIDR holes: loopback stays blocked).
    pub fn egress_allow_http(mut self) -> Self {
        self.egress.get_or_insert_with(Egress::default).allow_http = true;
        self
    }

    /// Plain http to peers on 127.0.0.1: `allow_http` plus the IPv4 loopback hole.
    pub fn egress_loopback(self) -> Self {
        self.egress_allow_http().egress_allow_cidr(LOOPBACK_V4)
    }

    /// [`Config::egress_loopback`] plus the IPv6 loopback hole.
    pub fn egress_loopback_dual(self) -> Self {
        self.egress_loopback().egress_allow_cidr(LOOPBACK_V6)
    }

    /// One more `egress.allowed_cidrs` entry.
    pub fn egress_allow_cidr(mut self, cidr: &str) -> Self {
        self.egress
            .get_or_insert_with(Egress::default)
            .allowed_cidrs
            .push(cidr.to_string());
        self
    }

    /// `trust.default_endpoint`.
    pub fn trust_endpoint(mut self, url: &str) -> Self {
        self.trust.get_or_insert_with(Trust::default).default_endpoint = url.to_string();
        self
    }

    /// `trust.timeout`.
    pub fn trust_timeout(mut self, timeout: &str) -> Self {
        self.trust.get_or_insert_with(Trust::default).timeout = Some(timeout.to_string());
        self
    }

    /// `registry.vctm_sources`.
    pub fn registry_sources<S: AsRef<str>>(mut self, sources: &[S]) -> Self {
        self.registry.get_or_insert_with(Registry::default).vctm_sources =
            sources.iter().map(|s| s.as_ref().to_string()).collect();
        self
    }

    /// `registry.overrides_dir`.
    pub fn registry_overrides_dir(mut self, dir: &str) -> Self {
        self.registry.get_or_insert_with(Registry::default).overrides_dir = Some(dir.to_string());
        self
    }

    /// `registry.url`.
    pub fn registry_url(mut self, url: &str) -> Self {
        self.registry.get_or_insert_with(Registry::default).url = Some(url.to_string());
        self
    }

    /// `admin.token`.
    pub fn admin_token(mut self, token: &str) -> Self {
        self.admin_token = Some(token.to_string());
        self
    }

    /// A limit or any other setting by dotted key: `.limit("storage.max_blob_bytes", 1024)`.
    pub fn limit(self, key: &str, value: impl Into<Value>) -> Self {
        self.set(key, value)
    }

    /// Any setting by dotted key: `.set("engine.outbound_timeout", "3s")`.
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.settings.push((key.to_string(), value.into()));
        self
    }

    /// A YAML fragment merged over the typed fields (for sections without a setter). Panics on invalid YAML:
    /// that is a bug in the test.
    pub fn yaml(mut self, fragment: &str) -> Self {
        self.fragments.push(fragment.to_string());
        self
    }

    /// The configuration as a JSON tree (what the YAML file will hold).
    pub fn to_value(&self) -> Value {
        let mut root = Value::Object(Map::new());
        if let Some(mode) = &self.mode {
            insert(&mut root, "mode", json!(mode));
        }
        if let Some(db) = &self.database {
            insert(&mut root, "database.url", json!(db.url));
            if let Some(n) = db.max_connections {
                insert(&mut root, "database.max_connections", json!(n));
            }
            if let Some(t) = &db.busy_timeout {
                insert(&mut root, "database.busy_timeout", json!(t));
            }
        }
        if let Some(secret) = &self.jwt_secret {
            insert(&mut root, "jwt.secret", json!(secret));
        }
        if let Some(egress) = &self.egress {
            insert(&mut root, "egress.allow_http", json!(egress.allow_http));
            if !egress.allowed_cidrs.is_empty() {
                insert(&mut root, "egress.allowed_cidrs", json!(egress.allowed_cidrs));
            }
        }
        if let Some(trust) = &self.trust {
            insert(&mut root, "trust.default_endpoint", json!(trust.default_endpoint));
            if let Some(t) = &trust.timeout {
                insert(&mut root, "trust.timeout", json!(t));
            }
        }
        if let Some(registry) = &self.registry {
            if !registry.vctm_sources.is_empty() {
                insert(&mut root, "registry.vctm_sources", json!(registry.vctm_sources));
            }
            if let Some(dir) = &registry.overrides_dir {
                insert(&mut root, "registry.overrides_dir", json!(dir));
            }
            if let Some(url) = &registry.url {
                insert(&mut root, "registry.url", json!(url));
            }
        }
        if let Some(token) = &self.admin_token {
            insert(&mut root, "admin.token", json!(token));
        }
        for (key, value) in &self.settings {
            insert(&mut root, key, value.clone());
        }
        for fragment in &self.fragments {
            let parsed: Value = serde_yaml_ng::from_str(fragment)
                .unwrap_or_else(|e| panic!("invalid YAML fragment in a test config: {e}\n{fragment}"));
            merge(&mut root, parsed);
        }
        root
    }

    /// The configuration file's text.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(&self.to_value()).expect("a JSON tree always renders as YAML")
    }

    /// The file without `mode` (for processes that get their roles from `--mode`), and the mode.
    pub(crate) fn split_mode(&self) -> (Option<String>, String) {
        let mut value = self.to_value();
        let mode = value
            .as_object_mut()
            .and_then(|m| m.remove("mode"))
            .and_then(|m| m.as_str().map(str::to_string));
        let yaml = serde_yaml_ng::to_string(&value).expect("a JSON tree always renders as YAML");
        (mode, yaml)
    }
}

/// Sets `dotted` (`a.b.c`) in `root`, creating the objects on the way.
fn insert(root: &mut Value, dotted: &str, value: Value) {
    let mut node = root;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let map = node.as_object_mut().expect("made an object above");
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        node = map.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Merges `over` into `base`: objects key by key, anything else replaces; a null (an empty YAML section such as
/// `engine:` with nothing under it) changes nothing.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (_, Value::Null) => {}
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_fields_settings_and_fragments_render_one_tree() {
        let cfg = Config::new()
            .mode("engine")
            .database("sqlite:///tmp/x.db")
            .jwt_secret("s")
            .egress_loopback_dual()
            .trust_endpoint("http://127.0.0.1:9")
            .trust_timeout("2s")
            .admin_token("t")
            .limit("storage.max_blob_bytes", 1024)
            .set("engine.outbound_timeout", "3s")
            .yaml("engine:\n  outbound_timeout: 5s\n  max_flows: 2\nstorage:\n")
            .yaml("engine:\n");
        let v = cfg.to_value();
        assert_eq!(v["mode"], "engine");
        assert_eq!(v["database"]["url"], "sqlite:///tmp/x.db");
        assert_eq!(v["egress"]["allowed_cidrs"], json!(["127.0.0.1/32", "::1/128"]));
        assert_eq!(
            v["trust"],
            json!({"default_endpoint": "http://127.0.0.1:9", "timeout": "2s"})
        );
        assert_eq!(
            v["storage"]["max_blob_bytes"], 1024,
            "an empty section keeps what was set"
        );
        assert_eq!(
            v["engine"],
            json!({"outbound_timeout": "5s", "max_flows": 2}),
            "fragments win"
        );
        let back: Value = serde_yaml_ng::from_str(&cfg.to_yaml()).unwrap();
        assert_eq!(back, v);
        let (mode, yaml) = cfg.split_mode();
        assert_eq!(mode.as_deref(), Some("engine"));
        assert!(!yaml.contains("mode"));
    }
}
