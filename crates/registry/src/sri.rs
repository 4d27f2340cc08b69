//! Subresource Integrity metadata (`vct#integrity`, `extends#integrity`, `uri#integrity`): whitespace-separated
//! `<alg>-<base64 digest>[?options]` tokens with alg sha256, sha384 or sha512. As in the W3C SRI algorithm, tokens
//! with unknown algorithms are ignored, only the strongest algorithm present is used, and the resource matches when
//! any digest of that algorithm matches. Unlike a browser, a string with no usable token is an error: the
//! document asked for integrity, so "no check possible" must not pass silently.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use sha2::Digest;
use subtle::ConstantTimeEq;

/// Longest integrity string accepted (bounds parsing work on hostile documents).
pub const MAX_INTEGRITY_LEN: usize = 4096;

/// A supported digest algorithm, ordered by strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Alg {
    Sha256,
    Sha384,
    Sha512,
}

impl Alg {
    fn from_prefix(p: &str) -> Option<Alg> {
        match p {
            "sha256" => Some(Alg::Sha256),
            "sha384" => Some(Alg::Sha384),
            "sha512" => Some(Alg::Sha512),
            _ => None,
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Alg::Sha256 => 32,
            Alg::Sha384 => 48,
            Alg::Sha512 => 64,
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Alg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Alg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Alg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// Parsed integrity metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integrity {
    hashes: Vec<(Alg, Vec<u8>)>,
}

/// Why an integrity string is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SriError {
    #[error("integrity metadata is longer than {MAX_INTEGRITY_LEN} characters")]
    TooLong,
    #[error("integrity metadata has no sha256, sha384 or sha512 digest")]
    NoUsableDigest,
}

impl Integrity {
    /// Parses an integrity string.
    pub fn parse(s: &str) -> Result<Integrity, SriError> {
        if s.len() > MAX_INTEGRITY_LEN {
            return Err(SriError::TooLong);
        }
        let mut hashes = Vec::new();
        for token in s.split_ascii_whitespace() {
            // Options after `?` carry no meaning for verification.
            let token = token.split('?').next().unwrap_or_default();
            let Some((alg, b64)) = token.split_once('-') else {
                continue;
            };
            let Some(alg) = Alg::from_prefix(&alg.to_ascii_lowercase()) else {
                continue;
            };
            // Standard base64 per SRI; url-safe and unpadded forms are accepted because documents in the wild use
            // them, and a digest of the wrong length is skipped like any malformed token.
            let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|e| e.decode(b64).ok());
            if let Some(d) = decoded.filter(|d| d.len() == alg.digest_len()) {
                hashes.push((alg, d));
            }
        }
        if hashes.is_empty() {
            return Err(SriError::NoUsableDigest);
        }
        Ok(Integrity { hashes })
    }

    /// Whether `data` matches a digest of the strongest algorithm present.
    pub fn matches(&self, data: &[u8]) -> bool {
        let Some(strongest) = self.hashes.iter().map(|(a, _)| *a).max() else {
            return false;
        };
        let actual = strongest.digest(data);
        self.hashes
            .iter()
            .filter(|(a, _)| *a == strongest)
            .any(|(_, expected)| bool::from(expected.as_slice().ct_eq(&actual)))
    }
}

/// `sha256-<base64>` of `data` (what a publisher writes into an integrity field).
pub fn sha256_integrity(data: &[u8]) -> String {
    format!("sha256-{}", STANDARD.encode(sha2::Sha256::digest(data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(alg: &str, data: &[u8]) -> String {
        let d = match alg {
            "sha256" => sha2::Sha256::digest(data).to_vec(),
            "sha384" => sha2::Sha384::digest(data).to_vec(),
            _ => sha2::Sha512::digest(data).to_vec(),
        };
        format!("{alg}-{}", STANDARD.encode(d))
    }

    #[test]
    fn every_algorithm_verifies() {
        for alg in ["sha256", "sha384", "sha512"] {
            let i = Integrity::parse(&token(alg, b"doc")).unwrap();
            assert!(i.matches(b"doc"), "{alg}");
            assert!(!i.matches(b"doc "), "{alg}");
        }
    }

    #[test]
    fn strongest_algorithm_wins() {
        // A correct sha256 next to a wrong sha512: only sha512 counts.
        let s = format!("{} {}", token("sha256", b"a"), token("sha512", b"b"));
        let i = Integrity::parse(&s).unwrap();
        assert!(!i.matches(b"a"));
        assert!(i.matches(b"b"));
        // Two digests of the same algorithm: either may match.
        let s = format!("{} {}", token("sha384", b"a"), token("sha384", b"b"));
        let i = Integrity::parse(&s).unwrap();
        assert!(i.matches(b"a") && i.matches(b"b"));
    }

    #[test]
    fn options_unknown_algorithms_and_encodings() {
        let s = format!("md5-AAAA {}?ct=application/json", token("sha256", b"x"));
        assert!(Integrity::parse(&s).unwrap().matches(b"x"));
        let url_safe = token("sha256", b"x")
            .replace('+', "-")
            .replace('/', "_")
            .replace('=', "");
        assert!(Integrity::parse(&url_safe).unwrap().matches(b"x"));
        for bad in [
            "",
            "md5-AAAA",
            "sha256-",
            "sha256-AAAA",
            "sha256",
            "garbage tokens only",
        ] {
            assert_eq!(Integrity::parse(bad), Err(SriError::NoUsableDigest), "{bad}");
        }
        assert_eq!(Integrity::parse(&"a".repeat(5000)), Err(SriError::TooLong));
        assert_eq!(sha256_integrity(b"x"), token("sha256", b"x"));
    }
}
