//! base64url (the JOSE encoding), standard base64 (x5c certificates, PEM) and SHA-256 digests in base64url.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// base64url without padding.
pub fn b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url (trailing padding tolerated, as some issuers send it).
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Standard base64 with padding (PEM bodies).
pub fn std_b64(data: impl AsRef<[u8]>) -> String {
    STANDARD.encode(data)
}

/// Decodes standard base64 (x5c entries, PEM bodies).
pub fn std_b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}

/// SHA-256 as base64url.
pub fn sha256_b64(data: impl AsRef<[u8]>) -> String {
    b64(Sha256::digest(data.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_tolerated_and_omitted() {
        assert_eq!(b64(b"ab"), "YWI");
        assert_eq!(b64_decode("YWI=").unwrap(), b"ab");
        assert!(b64_decode("!!").is_none());
        assert_eq!(std_b64_decode(&std_b64(b"xyz?")).unwrap(), b"xyz?");
        assert_eq!(sha256_b64("").len(), 43);
    }
}
