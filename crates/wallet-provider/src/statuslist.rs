//! The Token Status List (IETF OAuth "Token Status List"): one bit per attestation (1 = revoked), packed LSB
//! first (index i is bit i % 8 of byte i / 8), zlib-compressed and base64url-encoded in the `lst` member of a
//! `status_list` claim, signed as a `statuslist+jwt`.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use serde_json::{Value, json};
use walletd_jose::b64;

/// A status list of `size` one-bit entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusBits {
    bytes: Vec<u8>,
}

impl StatusBits {
    /// All entries valid (0). `size` is rounded up to whole bytes.
    pub fn new(size: u32) -> Self {
        StatusBits {
            bytes: vec![0; (size as usize).div_ceil(8)],
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Marks entry `idx` revoked; indexes outside the list are ignored (the list shrank in configuration).
    pub fn revoke(&mut self, idx: u64) {
        if let Some(byte) = usize::try_from(idx / 8).ok().and_then(|i| self.bytes.get_mut(i)) {
            *byte |= 1 << (idx % 8);
        }
    }

    /// Whether entry `idx` is revoked.
    pub fn is_revoked(&self, idx: u64) -> bool {
        usize::try_from(idx / 8)
            .ok()
            .and_then(|i| self.bytes.get(i))
            .is_some_and(|b| b & (1 << (idx % 8)) != 0)
    }

    /// The `status_list` claim: `{"bits":1,"lst":"<base64url(zlib(bytes))>"}`.
    pub fn claim(&self) -> Value {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        let _ = z.write_all(&self.bytes);
        let compressed = z.finish().unwrap_or_default();
        json!({"bits": 1, "lst": b64(compressed)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;

    #[test]
    fn bits_are_lsb_first_and_round_trip_through_zlib() {
        let mut s = StatusBits::new(1024);
        for i in [0, 9, 1023] {
            s.revoke(i);
        }
        s.revoke(5000);
        assert!(s.is_revoked(9) && !s.is_revoked(8) && !s.is_revoked(5000));
        let lst = s.claim()["lst"].as_str().unwrap().to_string();
        let mut bytes = Vec::new();
        ZlibDecoder::new(walletd_jose::b64_decode(&lst).unwrap().as_slice())
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len(), 128);
        assert_eq!(bytes[0], 0b0000_0001);
        assert_eq!(bytes[1], 0b0000_0010);
        assert_eq!(bytes[127], 0b1000_0000);
    }
}
