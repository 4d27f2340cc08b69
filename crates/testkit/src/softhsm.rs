//! The SoftHSM2 token PKCS#11 tests and benches use (Debian's `softhsm2`; `.ci/run` installs it). The token lives
//! in SoftHSM2's default token directory under [`TOKEN_LABEL`]; tests give their keys labels of their own.

use std::process::Command;
use std::sync::OnceLock;

/// The PKCS#11 module SoftHSM2 installs.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The test token's label.
pub const TOKEN_LABEL: &str = "walletd-test";
/// The test token's user PIN.
pub const PIN: &str = "4321";

/// Makes sure the test token exists; call before this process first loads the module (SoftHSM2 reads its token
/// directory when it is initialised). Should two processes race here, both tokens carry the label and every
/// process picks the same first one. Returns the token label.
pub fn ensure_token() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let slots = Command::new("softhsm2-util")
            .arg("--show-slots")
            .output()
            .expect("softhsm2-util is installed (apt-get install softhsm2)");
        let listed = String::from_utf8_lossy(&slots.stdout)
            .lines()
            .any(|l| l.trim().strip_prefix("Label:").is_some_and(|v| v.trim() == TOKEN_LABEL));
        if listed {
            return;
        }
        let out = Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--pin",
                PIN,
                "--so-pin",
                "87654321",
            ])
            .output()
            .expect("softhsm2-util");
        assert!(
            out.status.success(),
            "softhsm2-util: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    TOKEN_LABEL
}

/// A key label no other test uses.
pub fn fresh_key_label() -> String {
    format!("wp-{}", uuid::Uuid::new_v4().simple())
}
