//! Every reference config in deploy/config is valid for the real config loader: `walletd config check` accepts it
//! with the variables it names set, runs the role the file is for, and refuses it when a required variable is
//! missing (no silent default for a database URL or a secret).

use std::path::PathBuf;
use std::process::Command;

const ROLES: [(&str, &str); 6] = [
    ("auth.yaml", "auth"),
    ("storage.yaml", "storage"),
    ("engine.yaml", "engine"),
    ("registry.yaml", "registry"),
    ("backend.yaml", "backend"),
    (
        "all-in-one.yaml",
        "auth,backend,engine,registry,storage,wallet-provider",
    ),
];

fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config")
}

fn check(file: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_walletd"));
    cmd.args(["config", "check", "--config"]).arg(config_dir().join(file));
    for (k, _) in std::env::vars() {
        if k.starts_with("WALLET") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied())
        .output()
        .expect("run walletd config check")
}

const ENV: [(&str, &str); 12] = [
    ("WALLETD_DATA_DIR", "/var/lib/walletd"),
    ("WALLETD_PUBLIC_URL", "https://wallet.example.org"),
    ("WALLETD_WEB_ORIGIN", "https://wallet.example.org"),
    ("WALLETD_RP_ID", "wallet.example.org"),
    ("WALLETD_TRUSTED_PROXY", "10.0.0.0/8"),
    ("WALLETD_DATABASE_URL", "postgres://walletd:pw@db.internal:5432/walletd"),
    (
        "WALLETD_TENANTS_SOURCE",
        "postgres://walletd_ro:pw@db.internal:5432/walletd",
    ),
    ("WALLETD_REDIS_URL", "redis://:pw@redis.internal:6379"),
    ("WALLETD_JWKS_URL", "https://wallet.example.org/.well-known/jwks.json"),
    ("WALLETD_REGISTRY_URL", "http://walletd-registry/"),
    ("WALLETD_SIGNING_KEY_FILE", "/etc/walletd/keys/signing-key.pem"),
    ("WALLETD_ADMIN_TOKEN", "admin-token-for-the-check"),
];

#[test]
fn every_reference_config_passes_config_check_for_its_role() {
    for (file, roles) in ROLES {
        let out = check(file, &ENV);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file}: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let effective: serde_yaml_ng::Value = serde_yaml_ng::from_str(&stdout).unwrap();
        assert_eq!(effective["mode"].as_str(), Some(roles), "{file}");
        // Secrets are redacted in the effective configuration.
        assert!(!stdout.contains(":pw@"), "{file} prints a password: {stdout}");
        assert!(
            !stdout.contains("admin-token-for-the-check"),
            "{file} prints the admin token"
        );
    }
}

#[test]
fn a_reference_config_without_its_variables_is_refused() {
    for (file, _) in ROLES {
        let out = check(file, &[]);
        assert_eq!(out.status.code(), Some(2), "{file} loads without its variables");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("WALLETD_"),
            "{file}: the error names no variable: {stderr}"
        );
    }
}
