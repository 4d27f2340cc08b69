//! Compact JWE with `ECDH-ES` direct key agreement (RFC 7516, RFC 7518 §4.6) on P-256: decryption with a
//! recipient key (OpenID4VCI encrypted credential responses) and encryption to a recipient's public JWK
//! (OpenID4VP `direct_post.jwt`).
//!
//! Content encryption: AES-GCM (A128GCM, A256GCM) both ways; AES-CBC with HMAC-SHA2 (RFC 7518 §5.2:
//! A128CBC-HS256, A256CBC-HS512) for decryption only, for issuers that offer nothing else. Compressed (`zip`)
//! JWEs are refused: the engine never asks for compression (compression before encryption is a length side
//! channel).

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::cipher::{AES_128, AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::b64::{b64, b64_decode};
use crate::jwk::{EcCurve, Jwk};

/// Content encryption algorithms this module decrypts, best first.
pub const ENC_PREFERENCE: [&str; 4] = ["A256GCM", "A128GCM", "A128CBC-HS256", "A256CBC-HS512"];

/// The content key length (bytes) of `enc` (CBC: MAC key and encryption key, concatenated).
pub fn cek_len(enc: &str) -> usize {
    match enc {
        "A256GCM" | "A128CBC-HS256" => 32,
        "A256CBC-HS512" => 64,
        _ => 16,
    }
}

/// A recipient's ECDH-ES key (ephemeral: generated per flow, never leaves memory).
pub struct RecipientKey {
    key: PrivateKey,
    public_jwk: Jwk,
    enc: &'static str,
}

impl std::fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecipientKey")
            .field("enc", &self.enc)
            .finish_non_exhaustive()
    }
}

impl RecipientKey {
    /// A fresh P-256 key for `enc` (one of [`ENC_PREFERENCE`]); its public JWK has `use enc`, `alg ECDH-ES` and a
    /// random `kid`.
    pub fn generate(enc: &'static str) -> Option<Self> {
        let key = PrivateKey::generate(&ECDH_P256).ok()?;
        let public = key.compute_public_key().ok()?;
        let mut public_jwk = Jwk::from_ec_point(EcCurve::P256, public.as_ref())?;
        public_jwk.key_use = Some("enc".into());
        public_jwk.alg = Some("ECDH-ES".into());
        public_jwk.kid = Some(uuid::Uuid::new_v4().to_string());
        Some(RecipientKey { key, public_jwk, enc })
    }

    /// The public JWK to send to whoever encrypts.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    /// The content encryption this key expects.
    pub fn enc(&self) -> &'static str {
        self.enc
    }

    /// Decrypts a compact JWE addressed to this key; returns the plaintext.
    pub fn decrypt(&self, compact: &str) -> Result<Vec<u8>, String> {
        let parts: Vec<&str> = compact.trim().split('.').collect();
        let [h, ek, iv, ct, tag] = parts[..] else {
            return Err("the encrypted response is not a compact JWE".into());
        };
        let header: Value = b64_decode(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the JWE header is not JSON")?;
        if header.get("alg").and_then(Value::as_str) != Some("ECDH-ES") || !ek.is_empty() {
            return Err("the JWE does not use ECDH-ES key agreement".into());
        }
        let enc = header.get("enc").and_then(Value::as_str).unwrap_or_default();
        if enc != self.enc {
            return Err(format!(
                "the JWE uses {} instead of the requested {}",
                short(enc),
                self.enc
            ));
        }
        if header.get("zip").is_some() {
            return Err("compressed JWE responses are not supported".into());
        }
        let epk = header.get("epk").ok_or("the JWE header has no epk")?;
        let point = Jwk::from_value(epk)
            .and_then(|k| k.ec_point(EcCurve::P256))
            .map_err(|_| "the JWE epk is not a P-256 key")?;
        let party = |k: &str| {
            header
                .get(k)
                .and_then(Value::as_str)
                .map(|s| b64_decode(s).unwrap_or_default())
                .unwrap_or_default()
        };
        let (apu, apv) = (party("apu"), party("apv"));
        let key_len = cek_len(enc);
        let cek = agreement::agree(
            &self.key,
            UnparsedPublicKey::new(&ECDH_P256, point),
            "the JWE key agreement failed".to_string(),
            |z| Ok(concat_kdf(z, enc, &apu, &apv, key_len)),
        )?;
        let iv = b64_decode(iv).ok_or("the JWE iv is not base64url")?;
        let ct = b64_decode(ct).ok_or("the JWE ciphertext is not base64url")?;
        let tag = b64_decode(tag).ok_or("the JWE tag is not base64url")?;
        // The AAD is the ASCII of the encoded protected header (RFC 7516 §5.2 step 14).
        let aad = h.as_bytes();
        if enc.contains("CBC") {
            return cbc_hmac_decrypt(&cek, &iv, &ct, &tag, aad);
        }
        let iv: [u8; 12] = iv.try_into().map_err(|_| "the JWE iv is not 96 bits")?;
        let mut data = ct;
        data.extend(tag);
        let alg = if key_len == 32 { &AES_256_GCM } else { &AES_128_GCM };
        let key = LessSafeKey::new(UnboundKey::new(alg, &cek).map_err(|_| "bad content key")?);
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut data)
            .map_err(|_| "the encrypted response does not decrypt with the flow's key")?;
        Ok(plain.to_vec())
    }
}

/// AES-CBC with HMAC-SHA2 (RFC 7518 §5.2.2.2): the first half of `cek` is the MAC key, the second the AES key; the
/// tag is the first half of HMAC(AAD || IV || ciphertext || AAD length in bits, 64-bit big-endian), checked in
/// constant time before anything is decrypted.
fn cbc_hmac_decrypt(cek: &[u8], iv: &[u8], ct: &[u8], tag: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
    let half = cek.len() / 2;
    let (mac_key, enc_key) = cek.split_at(half);
    let (mac_alg, aes) = match half {
        16 => (hmac::HMAC_SHA256, &AES_128),
        32 => (hmac::HMAC_SHA512, &AES_256),
        _ => return Err("bad content key".into()),
    };
    let iv: [u8; 16] = iv.try_into().map_err(|_| "the JWE iv is not 128 bits")?;
    let mut mac_input = Vec::with_capacity(aad.len() + 16 + ct.len() + 8);
    mac_input.extend_from_slice(aad);
    mac_input.extend_from_slice(&iv);
    mac_input.extend_from_slice(ct);
    mac_input.extend_from_slice(&((aad.len() as u64) * 8).to_be_bytes());
    let mac = hmac::sign(&hmac::Key::new(mac_alg, mac_key), &mac_input);
    let expected = &mac.as_ref()[..half];
    let wrong = || "the encrypted response does not decrypt with the flow's key".to_string();
    if tag.len() != half || aws_lc_rs::constant_time::verify_slices_are_equal(expected, tag).is_err() {
        return Err(wrong());
    }
    let key = UnboundCipherKey::new(aes, enc_key).map_err(|_| "bad content key")?;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(key).map_err(|_| "bad content key")?;
    let mut data = ct.to_vec();
    let plain = key
        .decrypt(&mut data, DecryptionContext::Iv128(iv.into()))
        .map_err(|_| wrong())?;
    Ok(plain.to_vec())
}

/// The Concat KDF of RFC 7518 §4.6.2 (NIST SP 800-56A) with SHA-256: as many rounds as `key_len` bytes need.
pub fn concat_kdf(z: &[u8], alg_id: &str, apu: &[u8], apv: &[u8], key_len: usize) -> Vec<u8> {
    let with_len = |d: &[u8]| {
        let mut v = (d.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(d);
        v
    };
    let mut out = Vec::with_capacity(key_len + 32);
    let mut round = 1u32;
    while out.len() < key_len {
        let mut h = Sha256::new();
        h.update(round.to_be_bytes());
        h.update(z);
        h.update(with_len(alg_id.as_bytes()));
        h.update(with_len(apu));
        h.update(with_len(apv));
        h.update(((key_len * 8) as u32).to_be_bytes());
        out.extend_from_slice(&h.finalize());
        round += 1;
    }
    out.truncate(key_len);
    out
}

/// Encrypts `plaintext` to the P-256 public `jwk` as a compact JWE (`alg ECDH-ES`, `enc` A128GCM or A256GCM, a
/// fresh `epk`, the key's `kid`).
pub fn encrypt(jwk: &Jwk, enc: &str, plaintext: &[u8]) -> Result<String, String> {
    let point = jwk
        .ec_point(EcCurve::P256)
        .map_err(|_| "the recipient's encryption key is not a P-256 JWK")?;
    let (alg, key_len) = match enc {
        "A128GCM" => (&AES_128_GCM, 16),
        "A256GCM" => (&AES_256_GCM, 32),
        _ => return Err("unsupported content encryption".into()),
    };
    let eph = PrivateKey::generate(&ECDH_P256).map_err(|_| "cannot create an ephemeral key")?;
    let epub = eph.compute_public_key().map_err(|_| "cannot create an ephemeral key")?;
    let epk = Jwk::from_ec_point(EcCurve::P256, epub.as_ref()).ok_or("cannot create an ephemeral key")?;
    let mut header = json!({"alg": "ECDH-ES", "enc": enc, "epk": epk});
    if let Some(kid) = &jwk.kid {
        header["kid"] = json!(kid);
    }
    let cek = agreement::agree(
        &eph,
        UnparsedPublicKey::new(&ECDH_P256, point),
        "the key agreement with the recipient's key failed".to_string(),
        |z| Ok(concat_kdf(z, enc, b"", b"", key_len)),
    )?;
    let h = b64(header.to_string());
    let mut iv = [0u8; 12];
    SystemRandom::new().fill(&mut iv).map_err(|_| "no randomness")?;
    let key = LessSafeKey::new(UnboundKey::new(alg, &cek).map_err(|_| "bad content key")?);
    let mut data = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(h.as_bytes()), &mut data)
        .map_err(|_| "encryption failed")?;
    let (ct, tag) = data.split_at(data.len() - 16);
    Ok(format!("{h}..{}.{}.{}", b64(iv), b64(ct), b64(tag)))
}

fn short(s: &str) -> String {
    s.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encrypts like an issuer would (ephemeral sender key, same KDF) and checks the round trip and tampering.
    #[test]
    fn decrypts_what_an_issuer_encrypts() {
        for enc in ["A256GCM", "A128GCM"] {
            let rk = RecipientKey::generate(enc).unwrap();
            let sender = PrivateKey::generate(&ECDH_P256).unwrap();
            let spub = sender.compute_public_key().unwrap();
            let sp = spub.as_ref();
            let epk = json!({"kty": "EC", "crv": "P-256", "x": b64(&sp[1..33]), "y": b64(&sp[33..65])});
            let header = json!({"alg": "ECDH-ES", "enc": enc, "epk": epk, "apv": b64("v")});
            let h = b64(header.to_string());
            let rp = rk.public_jwk().ec_point(EcCurve::P256).unwrap();
            let klen = if enc == "A256GCM" { 32 } else { 16 };
            let cek = agreement::agree(&sender, UnparsedPublicKey::new(&ECDH_P256, rp), (), |z| {
                Ok(concat_kdf(z, enc, b"", b"v", klen))
            })
            .unwrap();
            let alg = if klen == 32 { &AES_256_GCM } else { &AES_128_GCM };
            let key = LessSafeKey::new(UnboundKey::new(alg, &cek).unwrap());
            let iv = [7u8; 12];
            let mut data = b"{\"credentials\":[]}".to_vec();
            key.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(h.as_bytes()), &mut data)
                .unwrap();
            let (ct, tag) = data.split_at(data.len() - 16);
            let jwe = format!("{h}..{}.{}.{}", b64(iv), b64(ct), b64(tag));
            assert_eq!(rk.decrypt(&jwe).unwrap(), b"{\"credentials\":[]}");
            let tampered = format!("{h}..{}.{}.{}", b64(iv), b64(ct), b64([0u8; 16]));
            assert!(rk.decrypt(&tampered).is_err());
        }
    }

    /// CBC-HMAC the way an issuer encrypts (RFC 7518 §5.2), for both key sizes; a wrong tag is refused.
    #[test]
    fn decrypts_cbc_hmac() {
        use aws_lc_rs::cipher::{EncryptionContext, PaddedBlockEncryptingKey};
        for enc in ["A128CBC-HS256", "A256CBC-HS512"] {
            let rk = RecipientKey::generate(enc).unwrap();
            let sender = PrivateKey::generate(&ECDH_P256).unwrap();
            let spub = sender.compute_public_key().unwrap();
            let sp = spub.as_ref();
            let epk = json!({"kty": "EC", "crv": "P-256", "x": b64(&sp[1..33]), "y": b64(&sp[33..65])});
            let h = b64(json!({"alg": "ECDH-ES", "enc": enc, "epk": epk}).to_string());
            let rp = rk.public_jwk().ec_point(EcCurve::P256).unwrap();
            let klen = cek_len(enc);
            let cek = agreement::agree(&sender, UnparsedPublicKey::new(&ECDH_P256, rp), (), |z| {
                Ok(concat_kdf(z, enc, b"", b"", klen))
            })
            .unwrap();
            let (mac_key, enc_key) = cek.split_at(klen / 2);
            let aes = if klen == 32 { &AES_128 } else { &AES_256 };
            let key = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(aes, enc_key).unwrap()).unwrap();
            let iv = [9u8; 16];
            let mut data = b"{\"credentials\":[]}".to_vec();
            key.less_safe_encrypt(&mut data, EncryptionContext::Iv128(iv.into()))
                .unwrap();
            let mac_alg = if klen == 32 {
                hmac::HMAC_SHA256
            } else {
                hmac::HMAC_SHA512
            };
            let mut input = h.as_bytes().to_vec();
            input.extend_from_slice(&iv);
            input.extend_from_slice(&data);
            input.extend_from_slice(&((h.len() as u64) * 8).to_be_bytes());
            let tag = hmac::sign(&hmac::Key::new(mac_alg, mac_key), &input);
            let tag = &tag.as_ref()[..klen / 2];
            let jwe = format!("{h}..{}.{}.{}", b64(iv), b64(&data), b64(tag));
            assert_eq!(rk.decrypt(&jwe).unwrap(), b"{\"credentials\":[]}", "{enc}");
            let mut bad = tag.to_vec();
            bad[0] ^= 1;
            let tampered = format!("{h}..{}.{}.{}", b64(iv), b64(&data), b64(&bad));
            assert!(rk.decrypt(&tampered).is_err(), "{enc}");
        }
    }

    #[test]
    fn concat_kdf_rounds() {
        let one = concat_kdf(b"z", "A128CBC-HS256", b"", b"", 32);
        let two = concat_kdf(b"z", "A256CBC-HS512", b"", b"", 64);
        assert_eq!((one.len(), two.len()), (32, 64));
        assert_ne!(two[..32], two[32..]);
    }

    #[test]
    fn encrypt_round_trip_and_key_checks() {
        for enc in ["A128GCM", "A256GCM"] {
            let rk = RecipientKey::generate(enc).unwrap();
            let jwe = encrypt(rk.public_jwk(), enc, b"{\"vp_token\":{}}").unwrap();
            assert_eq!(rk.decrypt(&jwe).unwrap(), b"{\"vp_token\":{}}");
        }
        let rk = RecipientKey::generate("A128GCM").unwrap();
        let mut wrong = rk.public_jwk().clone();
        wrong.kty = "RSA".into();
        assert!(encrypt(&wrong, "A128GCM", b"x").is_err(), "kty is checked");
        wrong.kty = "EC".into();
        wrong.crv = Some("P-384".into());
        assert!(encrypt(&wrong, "A128GCM", b"x").is_err(), "crv is checked");
        assert!(encrypt(rk.public_jwk(), "A128CBC-HS256", b"x").is_err());
    }
}
