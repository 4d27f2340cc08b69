//! The checked-in JSON Schema of API v2 (`docs/api-v2.schema.json`) is the one the types generate, and every frame
//! fixture validates against its side of it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use walletd_protocol::{CLIENT_FRAME_DEF, SERVER_FRAME_DEF, api_v2_schema, api_v2_schema_text};

const SCHEMA_FILE: &str = "../../docs/api-v2.schema.json";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn checked_in_schema_is_current() {
    let path = crate_dir().join(SCHEMA_FILE);
    let generated = api_v2_schema_text();
    if std::env::var_os("WALLETD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is stale: the protocol types changed. Refresh it with `WALLETD_BLESS=1 cargo test -p walletd-protocol \
         --test schema` and commit the file.",
        path.display()
    );
}

/// A validator for one side: the generated schema with its root pointed at `def`.
fn validator(def: &str) -> jsonschema::Validator {
    let mut schema = api_v2_schema();
    let root = schema.as_object_mut().unwrap();
    root.remove("oneOf");
    root.insert("$ref".into(), json!(format!("#/$defs/{def}")));
    jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("the schema of {def} does not compile: {e}"))
}

fn fixture_values(dir: &Path) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

fn assert_side_valid(kind: &str, def: &str) {
    let v = validator(def);
    for (name, frame) in fixture_values(&crate_dir().join("tests/fixtures").join(kind)) {
        let errors: Vec<String> = v
            .iter_errors(&frame)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{kind}/{name} does not match #/$defs/{def}: {errors:#?}"
        );
    }
}

#[test]
fn every_client_fixture_validates() {
    assert_side_valid("client", CLIENT_FRAME_DEF);
}

#[test]
fn every_server_fixture_validates() {
    assert_side_valid("server", SERVER_FRAME_DEF);
}

#[test]
fn the_schema_refuses_what_the_parser_refuses() {
    let client = validator(CLIENT_FRAME_DEF);
    for bad in [
        json!({"type": "nope", "flow_id": "x"}),
        json!({"type": "handshake"}),
        json!({"type": "flow_action", "flow_id": "x"}),
        json!({"type": "flow_start", "flow_id": "", "protocol": "oid4vci"}),
        json!({"type": "flow_start", "flow_id": "x", "protocol": "smtp"}),
        json!({"type": "flow_action", "flow_id": "é".repeat(129), "action": "cancel"}),
    ] {
        assert!(!client.is_valid(&bad), "accepted {bad}");
    }
    let server = validator(SERVER_FRAME_DEF);
    let no_timestamp = json!({"type": "flow_progress", "flow_id": "f", "step": "offer_parsed"});
    assert!(!server.is_valid(&no_timestamp));
    let bad_code = json!({"type": "flow_error", "flow_id": "f", "timestamp": "t",
        "error": {"code": "NOT_A_CODE", "message": "m"}});
    assert!(!server.is_valid(&bad_code));
}
