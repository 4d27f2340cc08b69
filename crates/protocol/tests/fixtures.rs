//! Every message of the spec, as a JSON fixture: client frames parse (extra fields of the web client ignored),
//! server frames deserialize and serialize back to the same JSON.

use std::path::PathBuf;

use serde_json::Value;
use walletd_protocol::{ClientMessage, ErrorCode, ServerFrame, ServerMessage, parse_client_frame};

fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

#[test]
fn every_client_fixture_parses_to_its_type() {
    for (name, text) in fixtures("client") {
        let msg = parse_client_frame(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw: Value = serde_json::from_str(&text).unwrap();
        let kind = raw["type"].as_str().unwrap();
        let expected = match &msg {
            ClientMessage::Handshake(_) => "handshake",
            ClientMessage::FlowStart(_) => "flow_start",
            ClientMessage::FlowAction(_) => "flow_action",
            ClientMessage::SignResponse(_) => "sign_response",
            ClientMessage::MatchResponse(_) => "match_response",
            ClientMessage::CredentialNotification(_) => "credential_notification",
        };
        assert_eq!(kind, expected, "{name}");
        assert_eq!(msg.flow_id(), raw["flow_id"].as_str(), "{name}");
    }
}

#[test]
fn web_client_extras_are_ignored_and_values_kept() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/client/flow_action_provide_pin_web_client.json"),
    )
    .unwrap();
    let ClientMessage::FlowAction(a) = parse_client_frame(&text).unwrap() else {
        panic!("not an action")
    };
    assert_eq!(a.action, "provide_pin");
    assert_eq!(a.payload_str("tx_code"), Some("123456"));

    let text = r#"{"type":"sign_response","flow_id":"f","message_id":"m","error":"No sign handler available"}"#;
    let ClientMessage::SignResponse(s) = parse_client_frame(text).unwrap() else {
        panic!("not a sign response")
    };
    assert!(s.error.is_some() && s.proofs.is_none());
}

#[test]
fn every_server_fixture_round_trips() {
    for (name, text) in fixtures("server") {
        let frame: ServerFrame = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back: Value = serde_json::from_str(&frame.to_json()).unwrap();
        let orig: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, orig, "{name}");
    }
}

#[test]
fn malformed_frames_are_refused_with_reasons() {
    let cases: &[(&str, Option<&str>)] = &[
        ("not json", None),
        ("[]", None),
        (r#"{"flow_id":"x"}"#, Some("x")),
        (r#"{"type":"nope","flow_id":"x"}"#, Some("x")),
        (r#"{"type":"nope"}"#, None),
        (r#"{"type":"flow_start","protocol":"oid4vci"}"#, None),
        (r#"{"type":"flow_start","flow_id":"","protocol":"oid4vci"}"#, Some("")),
        (r#"{"type":"flow_start","flow_id":"x","protocol":"smtp"}"#, Some("x")),
        (r#"{"type":"flow_action","flow_id":"x"}"#, Some("x")),
        (r#"{"type":"handshake"}"#, None),
    ];
    for (text, flow) in cases {
        let e = parse_client_frame(text).expect_err(text);
        assert_eq!(e.flow_id.as_deref(), *flow, "{text}");
        assert!(!e.message.is_empty());
    }
    let long = "é".repeat(129);
    let e = parse_client_frame(&format!(
        r#"{{"type":"flow_action","flow_id":"{long}","action":"cancel"}}"#
    ))
    .unwrap_err();
    assert!(e.message.contains("128"));
    let ok = "é".repeat(128);
    parse_client_frame(&format!(
        r#"{{"type":"flow_action","flow_id":"{ok}","action":"cancel"}}"#
    ))
    .unwrap();
    parse_client_frame(r#"{"type":"flow_action","flow_id":"1","action":"cancel"}"#).unwrap();
}

#[test]
fn error_frames_carry_code_twice() {
    let v: Value = serde_json::from_str(
        &ServerFrame::now(ServerMessage::error(ErrorCode::InvalidMessage, "invalid JSON")).to_json(),
    )
    .unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["code"], "INVALID_MESSAGE");
    assert_eq!(v["error"]["code"], "INVALID_MESSAGE");
    assert_eq!(v["error"]["message"], "invalid JSON");
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
}
