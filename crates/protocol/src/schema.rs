//! The JSON Schema of API v2, derived from the message types of this crate (the types are the contract; the schema
//! is their published form, checked in as `docs/api-v2.schema.json` and refreshed by this crate's tests).

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::{ClientMessage, ServerFrame};

/// Name of the definition every client frame validates against (`#/$defs/ClientMessage`).
pub const CLIENT_FRAME_DEF: &str = "ClientMessage";
/// Name of the definition every server frame validates against (`#/$defs/ServerFrame`).
pub const SERVER_FRAME_DEF: &str = "ServerFrame";

/// The JSON Schema (draft 2020-12) of every API v2 frame: the root accepts a client or a server frame; the two
/// sides are `#/$defs/ClientMessage` and `#/$defs/ServerFrame`, every other message type is a named `$defs` entry.
/// Deterministic: the same types always give the same document (every object's keys are sorted).
pub fn api_v2_schema() -> Value {
    // The contract is what a reader accepts: the engine reads client frames, the holder reads server frames.
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let client = generator.subschema_for::<ClientMessage>();
    let server = generator.subschema_for::<ServerFrame>();
    let defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    sorted_keys(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "walletd API v2",
        "description": "Every frame of the engine's WebSocket protocol (docs/api-v2.md). Generated from the \
            walletd-protocol crate; do not edit by hand.",
        "oneOf": [client.to_value(), server.to_value()],
        "$defs": defs,
    }))
}

/// [`api_v2_schema`] as the text of `docs/api-v2.schema.json` (two-space indent, keys sorted, trailing newline).
pub fn api_v2_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&api_v2_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// `value` with the members of every object in key order. serde_json keeps insertion order when any crate of the
/// build enables its `preserve_order` feature (features are unified across a workspace build), and sorts otherwise:
/// without this the checked-in text would depend on which crates were built together.
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: std::collections::BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sorted_keys(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}
