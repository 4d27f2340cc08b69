//! An independent decoder of IETF OAuth Token Status Lists, for tests: Python's standard library alone reads the
//! token (base64url, zlib, bit i % 8 of byte i / 8), so the Rust encoder is not checked against itself.

use std::process::Command;

/// The status of `indexes` in a status list token, decoded by Python's standard library alone (base64url, zlib,
/// bit i % 8 of byte i / 8): independent of the Rust encoder.
pub fn python_statuses(status_list_jwt: &str, indexes: &[i64]) -> Vec<u8> {
    let script = r#"
import base64, json, sys, zlib
def b64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
claims = json.loads(b64(sys.argv[1].split(".")[1]))
sl = claims["status_list"]
assert sl["bits"] == 1, sl["bits"]
raw = zlib.decompress(b64(sl["lst"]))
print(json.dumps([(raw[i // 8] >> (i % 8)) & 1 for i in map(int, sys.argv[2:])]))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(status_list_jwt)
        .args(indexes.iter().map(i64::to_string))
        .output()
        .expect("python3");
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("python prints a JSON list")
}
