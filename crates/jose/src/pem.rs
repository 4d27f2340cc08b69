//! PEM `PRIVATE KEY` (PKCS#8) blocks: the on-disk form of the auth role's signing key.

use crate::b64::{std_b64, std_b64_decode};

const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const END: &str = "-----END PRIVATE KEY-----";

/// PKCS#8 DER as a PEM `PRIVATE KEY` block (64-character lines).
pub fn encode_private_key(der: &[u8]) -> String {
    let b64 = std_b64(der);
    let mut out = format!("{BEGIN}\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// The DER inside a PEM `PRIVATE KEY` (PKCS#8) block; `None` when there is none or it is not base64.
pub fn decode_private_key(pem: &str) -> Option<Vec<u8>> {
    let body = pem.split(BEGIN).nth(1)?.split(END).next()?;
    let joined: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    std_b64_decode(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let der: Vec<u8> = (0..=200).collect();
        let pem = encode_private_key(&der);
        assert!(pem.lines().all(|l| l.len() <= 64 || l.starts_with("-----")));
        assert_eq!(decode_private_key(&pem).unwrap(), der);
        assert!(decode_private_key("hello").is_none());
        assert!(decode_private_key(&format!("{BEGIN}\n!!\n{END}")).is_none());
    }
}
