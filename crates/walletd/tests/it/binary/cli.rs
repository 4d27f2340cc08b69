//! The command line and configuration errors, through the real binary: bad input exits 2 with one line that
//! names what is wrong.

use std::process::{Command, Output};

fn walletd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_walletd"));
    cmd.args(args).current_dir(dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("WALLET_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn config_file(yaml: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let p = path.display().to_string();
    (dir, p)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn version_prints_the_crate_version() {
    let o = walletd(&["--version"], &[]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("walletd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_role_exits_2_listing_the_valid_roles() {
    let o = walletd(&["--mode=auth,wizard"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unknown role `wizard`"), "{err}");
    assert!(err.contains("all, auth, storage, engine, registry, backend"), "{err}");
}

#[test]
fn unknown_config_key_exits_2_with_one_line_naming_the_key() {
    let (_d, path) = config_file("server:\n  http_port: 8080\n  htp_port: 1\n");
    let o = walletd(&["--config", &path], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("`server.htp_port`"), "{err}");
}

#[test]
fn wrong_type_exits_2_naming_the_key() {
    let (_d, path) = config_file("server:\n  http_port: eighty\n");
    let o = walletd(&["--config", &path], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("`server.http_port`"), "{err}");
}

#[test]
fn bad_environment_override_exits_2_naming_the_key() {
    let o = walletd(&["config", "check"], &[("WALLET_SERVER__HTTP_PORT", "99999")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`server.http_port`"), "{}", stderr(&o));
}

#[test]
fn missing_config_file_exits_2() {
    let o = walletd(&["--config", "/nonexistent/walletd.yaml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/walletd.yaml"));
}

#[test]
fn roles_with_state_refuse_to_start_without_a_database() {
    let (_d, path) = config_file("jwt:\n  secret: x\n");
    for mode in ["storage", "auth", "backend"] {
        let o = walletd(&[&format!("--mode={mode}"), "--config", &path], &[]);
        assert_eq!(o.status.code(), Some(2), "{mode}");
        let err = stderr(&o);
        assert!(err.contains("`database.url`") && err.contains(mode), "{mode}: {err}");
    }
}

#[test]
fn token_validating_role_without_keys_refuses_to_start() {
    let (_d, path) = config_file("database:\n  url: sqlite://./x.db\n");
    let o = walletd(&["--mode=storage", "--config", &path], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`jwt.jwks_url`"), "{}", stderr(&o));
}

#[test]
fn config_check_prints_effective_config_with_secrets_redacted() {
    let (_d, path) = config_file(
        "mode: storage,auth\ndatabase:\n  url: postgres://app:db-password-1@127.0.0.1/test\njwt:\n  secret: ${JWT_SECRET}\nadmin:\n  token: ${ADMIN_TOKEN:-fallback-admin-token}\n",
    );
    let o = walletd(
        &["config", "check", "--config", &path],
        &[
            ("JWT_SECRET", "jwt-secret-value-1"),
            ("WALLET_SERVER__HTTP_PORT", "9123"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let effective: serde_json::Value = serde_yaml_ng::from_str(&out).unwrap();
    assert_eq!(effective["mode"], "auth,storage");
    assert_eq!(effective["server"]["http_port"], 9123, "environment override applied");
    assert_eq!(effective["jwt"]["secret"], "[redacted]", "expanded, then redacted");
    assert_eq!(effective["admin"]["token"], "[redacted]");
    for secret in ["jwt-secret-value-1", "db-password-1", "fallback-admin-token"] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
}

#[test]
fn config_check_without_file_shows_development_defaults() {
    let o = walletd(&["config", "check"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let effective: serde_json::Value = serde_yaml_ng::from_slice(&o.stdout).unwrap();
    assert_eq!(effective["database"]["url"], "sqlite://./data/walletd.db");
    assert_eq!(effective["server"]["http_port"], 8080);
    assert_eq!(effective["server"]["ws_port"], 8081);
    assert_eq!(effective["server"]["admin_port"], 8082);
    assert_eq!(effective["server"]["listen"], "127.0.0.1");
    assert_eq!(
        effective["mode"],
        "auth,backend,engine,registry,storage,wallet-provider"
    );
}

#[test]
fn unset_variable_exits_2_naming_key_and_variable() {
    let (_d, path) = config_file("jwt:\n  secret: ${WALLETD_TEST_UNSET_VARIABLE}\n");
    let o = walletd(&["config", "check", "--config", &path], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("`jwt.secret`") && err.contains("WALLETD_TEST_UNSET_VARIABLE"),
        "{err}"
    );
}
