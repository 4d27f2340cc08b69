//! The sealed file format of the wallet store and of its encrypted backups: a header naming the key derivation
//! (argon2id with its parameters and salt, or a key supplied by the caller), a key check, and the body sealed with
//! AES-256-GCM (aws-lc-rs) under the header as associated data.
//!
//! ```text
//! magic "WDWALLET" | version u8 | kdf u8 | m_cost u32 | t_cost u32 | p_cost u32 | salt [16]
//!   | check nonce [12] | check tag [16] | body nonce [12] | body length u64     (all integers little-endian)
//!   | body ciphertext + tag [body length]
//! ```
//!
//! The key check (an AEAD seal of nothing, bound to the header's first part) tells a wrong passphrase from a damaged
//! body: a wrong key fails the check, a tampered or truncated body fails after it passed.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use super::StoreError;

const MAGIC: &[u8; 8] = b"WDWALLET";
const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const KDF_EXTERNAL: u8 = 2;
const SALT_LEN: usize = 16;
const TAG_LEN: usize = 16;
/// Bytes before the key check: magic, version, kdf, three u32 parameters, salt.
const PREFIX_LEN: usize = 8 + 1 + 1 + 12 + SALT_LEN;
/// The whole header (the body's associated data).
pub(crate) const HEADER_LEN: usize = PREFIX_LEN + NONCE_LEN + TAG_LEN + NONCE_LEN + 8;
const CHECK_CONTEXT: &[u8] = b"walletd-wallet key check v1";

/// Argon2id parameters of a passphrase-derived key (stored in the header, so a file can be opened with the
/// parameters it was written with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane.
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

/// What a file's header may ask of the KDF before it is refused (a tampered header must not make the wallet
/// allocate gigabytes before the key check can fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KdfLimits {
    /// Most memory in KiB (default 1 GiB).
    pub max_m_cost_kib: u32,
    /// Most passes (default 16).
    pub max_t_cost: u32,
    /// Most lanes (default 8).
    pub max_p_cost: u32,
}

impl Default for KdfLimits {
    fn default() -> Self {
        KdfLimits {
            max_m_cost_kib: 1024 * 1024,
            max_t_cost: 16,
            max_p_cost: 8,
        }
    }
}

/// Where the store's key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// A passphrase, stretched with argon2id.
    Passphrase(Zeroizing<String>),
    /// A 256-bit key supplied by the caller (a platform keychain).
    Key(Zeroizing<[u8; 32]>),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeySource::Passphrase(_) => "KeySource::Passphrase(..)",
            KeySource::Key(_) => "KeySource::Key(..)",
        })
    }
}

impl KeySource {
    /// A passphrase key source.
    pub fn passphrase(p: impl Into<String>) -> Self {
        KeySource::Passphrase(Zeroizing::new(p.into()))
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey")
            .field("kdf", &self.kdf)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The derived key and the header fields it came from (reused for every save of one store).
pub(crate) struct SealKey {
    key: Zeroizing<[u8; 32]>,
    kdf: u8,
    params: KdfParams,
    salt: [u8; SALT_LEN],
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The system RNG does not fail on supported platforms.
    aws_lc_rs::rand::fill(&mut b).expect("system random");
    b
}

fn derive(source: &KeySource, params: KdfParams, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    match source {
        KeySource::Key(k) => Ok(k.clone()),
        KeySource::Passphrase(p) => {
            let argon = argon2::Params::new(params.m_cost_kib, params.t_cost, params.p_cost, Some(32))
                .map_err(|e| StoreError::Kdf(e.to_string()))?;
            let kdf = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon);
            let mut out = Zeroizing::new([0u8; 32]);
            kdf.hash_password_into(p.as_bytes(), salt, out.as_mut())
                .map_err(|e| StoreError::Kdf(e.to_string()))?;
            Ok(out)
        }
    }
}

impl SealKey {
    /// A new key with a fresh salt.
    pub(crate) fn new(source: &KeySource, params: KdfParams) -> Result<SealKey, StoreError> {
        let salt = random::<SALT_LEN>();
        let kdf = match source {
            KeySource::Passphrase(_) => KDF_ARGON2ID,
            KeySource::Key(_) => KDF_EXTERNAL,
        };
        let params = if kdf == KDF_EXTERNAL {
            KdfParams {
                m_cost_kib: 0,
                t_cost: 0,
                p_cost: 0,
            }
        } else {
            params
        };
        Ok(SealKey {
            key: derive(source, params, &salt)?,
            kdf,
            params,
            salt,
        })
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is always a valid AES-256 key.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, self.key.as_ref()).expect("AES-256 key"))
    }

    fn prefix(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(HEADER_LEN);
        h.extend_from_slice(MAGIC);
        h.push(VERSION);
        h.push(self.kdf);
        h.extend_from_slice(&self.params.m_cost_kib.to_le_bytes());
        h.extend_from_slice(&self.params.t_cost.to_le_bytes());
        h.extend_from_slice(&self.params.p_cost.to_le_bytes());
        h.extend_from_slice(&self.salt);
        h
    }

    fn check_aad(prefix: &[u8]) -> Vec<u8> {
        [CHECK_CONTEXT, prefix].concat()
    }

    /// Seals `body` into a whole file.
    pub(crate) fn seal(&self, body: &[u8]) -> Vec<u8> {
        let aead = self.aead();
        let mut out = self.prefix();
        let check_nonce = random::<NONCE_LEN>();
        let mut tag = Vec::new();
        aead.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(check_nonce),
            Aad::from(Self::check_aad(&out)),
            &mut tag,
        )
        .expect("AES-GCM seal");
        out.extend_from_slice(&check_nonce);
        out.extend_from_slice(&tag);
        let body_nonce = random::<NONCE_LEN>();
        out.extend_from_slice(&body_nonce);
        out.extend_from_slice(&((body.len() + TAG_LEN) as u64).to_le_bytes());
        let mut sealed = body.to_vec();
        aead.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(body_nonce),
            Aad::from(&out[..]),
            &mut sealed,
        )
        .expect("AES-GCM seal");
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a file written by [`SealKey::seal`] with the key from `source`; the key (for later saves) and the body.
    pub(crate) fn open(
        file: &[u8],
        source: &KeySource,
        limits: &KdfLimits,
    ) -> Result<(SealKey, Zeroizing<Vec<u8>>), StoreError> {
        if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
            return Err(if file.len() < MAGIC.len() && MAGIC.starts_with(file) {
                StoreError::Truncated
            } else {
                StoreError::NotAWallet
            });
        }
        if file.len() < HEADER_LEN {
            return Err(StoreError::Truncated);
        }
        if file[8] != VERSION {
            return Err(StoreError::UnsupportedVersion(file[8]));
        }
        let kdf = file[9];
        let u32_at = |i: usize| u32::from_le_bytes([file[i], file[i + 1], file[i + 2], file[i + 3]]);
        let params = KdfParams {
            m_cost_kib: u32_at(10),
            t_cost: u32_at(14),
            p_cost: u32_at(18),
        };
        match (kdf, source) {
            (KDF_ARGON2ID, KeySource::Passphrase(_)) => {
                if params.m_cost_kib > limits.max_m_cost_kib
                    || params.t_cost > limits.max_t_cost
                    || params.p_cost > limits.max_p_cost
                {
                    return Err(StoreError::KdfLimits(params));
                }
            }
            (KDF_EXTERNAL, KeySource::Key(_)) => {}
            (KDF_ARGON2ID, KeySource::Key(_)) => return Err(StoreError::NeedsPassphrase),
            (KDF_EXTERNAL, KeySource::Passphrase(_)) => return Err(StoreError::NeedsKey),
            (other, _) => return Err(StoreError::UnknownKdf(other)),
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&file[22..22 + SALT_LEN]);
        let key = SealKey {
            key: derive(source, params, &salt)?,
            kdf,
            params,
            salt,
        };
        let aead = key.aead();
        let prefix = &file[..PREFIX_LEN];
        let nonce_at = |i: usize| {
            let mut n = [0u8; NONCE_LEN];
            n.copy_from_slice(&file[i..i + NONCE_LEN]);
            Nonce::assume_unique_for_key(n)
        };
        let mut tag = file[PREFIX_LEN + NONCE_LEN..PREFIX_LEN + NONCE_LEN + TAG_LEN].to_vec();
        aead.open_in_place(nonce_at(PREFIX_LEN), Aad::from(Self::check_aad(prefix)), &mut tag)
            .map_err(|_| StoreError::WrongKey)?;
        let len_at = HEADER_LEN - 8;
        let mut len = [0u8; 8];
        len.copy_from_slice(&file[len_at..HEADER_LEN]);
        let body_len = u64::from_le_bytes(len);
        let have = (file.len() - HEADER_LEN) as u64;
        if have < body_len {
            return Err(StoreError::Truncated);
        }
        if have > body_len || body_len < TAG_LEN as u64 {
            return Err(StoreError::Corrupted("the file is longer than its header says".into()));
        }
        let mut body = Zeroizing::new(file[HEADER_LEN..].to_vec());
        let plain_len = aead
            .open_in_place(
                nonce_at(PREFIX_LEN + NONCE_LEN + TAG_LEN),
                Aad::from(&file[..HEADER_LEN]),
                &mut body,
            )
            .map_err(|_| StoreError::Corrupted("the encrypted body does not authenticate".into()))?
            .len();
        body.truncate(plain_len);
        Ok((key, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> KdfParams {
        KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        }
    }

    #[test]
    fn round_trip_and_wrong_key() {
        let src = KeySource::passphrase("correct horse");
        let k = SealKey::new(&src, fast()).unwrap();
        let file = k.seal(b"hello");
        let (_, body) = SealKey::open(&file, &src, &KdfLimits::default()).unwrap();
        assert_eq!(&body[..], b"hello");
        let wrong = SealKey::open(&file, &KeySource::passphrase("wrong"), &KdfLimits::default());
        assert!(matches!(wrong, Err(StoreError::WrongKey)), "{wrong:?}");
        let raw = KeySource::Key(Zeroizing::new([7u8; 32]));
        assert!(matches!(
            SealKey::open(&file, &raw, &KdfLimits::default()),
            Err(StoreError::NeedsPassphrase)
        ));
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let src = KeySource::Key(Zeroizing::new([9u8; 32]));
        let file = SealKey::new(&src, fast()).unwrap().seal(b"some wallet body");
        for n in 0..file.len() {
            let r = SealKey::open(&file[..n], &src, &KdfLimits::default());
            assert!(r.is_err(), "truncated to {n} bytes opened");
        }
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            let r = SealKey::open(&bad, &src, &KdfLimits::default());
            assert!(r.is_err(), "flipped byte {i} opened");
        }
        assert!(matches!(
            SealKey::open(&file[..file.len() - 1], &src, &KdfLimits::default()),
            Err(StoreError::Truncated)
        ));
        let mut tampered = file.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x80;
        assert!(matches!(
            SealKey::open(&tampered, &src, &KdfLimits::default()),
            Err(StoreError::Corrupted(_))
        ));
    }

    #[test]
    fn header_kdf_parameters_over_the_limit_are_refused_before_deriving() {
        let src = KeySource::passphrase("p");
        let file = SealKey::new(&src, fast()).unwrap().seal(b"x");
        let limits = KdfLimits {
            max_m_cost_kib: 32,
            ..KdfLimits::default()
        };
        assert!(matches!(
            SealKey::open(&file, &src, &limits),
            Err(StoreError::KdfLimits(_))
        ));
    }
}
