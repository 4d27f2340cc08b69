//! Encrypted credential responses (OpenID4VCI `credential_response_encryption`): a P-256 key per flow, the
//! request's encryption parameters, and decryption of the compact JWE the issuer answers with.
//!
//! Only `ECDH-ES` (direct key agreement, RFC 7518 §4.6) is implemented, with AES-GCM content encryption (preferred:
//! A256GCM, then A128GCM) or AES-CBC with HMAC-SHA2 (RFC 7518 §5.2: A128CBC-HS256, then A256CBC-HS512) for issuers
//! that offer nothing else. An issuer offering none of these is asked for no encryption unless it requires it, in
//! which case the flow fails with a clear message.
//!
//! Compression (`zip: "DEF"`): OpenID4VCI 1.0 lets the wallet ASK for it (`zip` in the request, among the issuer's
//! `zip_values_supported`); the issuer never compresses unasked. The engine never asks (the responses are small and
//! compression before encryption is a length side channel), so a compressed response is refused.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::cipher::{AES_128, AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::hmac;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::jose::{b64, b64_decode};

/// Content encryption algorithms the engine can decrypt, best first.
const ENC_PREFERENCE: [&str; 4] = ["A256GCM", "A128GCM", "A128CBC-HS256", "A256CBC-HS512"];

/// The content key length (bytes) of `enc` (CBC: MAC key and encryption key, concatenated).
fn cek_len(enc: &str) -> usize {
    match enc {
        "A256GCM" | "A128CBC-HS256" => 32,
        "A256CBC-HS512" => 64,
        _ => 16,
    }
}

/// What the issuer's metadata says about response encryption.
#[derive(Debug, PartialEq, Eq)]
pub enum Support {
    /// No `credential_response_encryption` in the metadata: ask for none.
    None,
    /// Ask for `enc` with ECDH-ES.
    Use(&'static str),
    /// Required, but no algorithm pair the engine implements is offered.
    RequiredUnsupported,
}

/// Chooses the content encryption from the metadata's `credential_response_encryption` object. Encryption is used
/// whenever the issuer supports it (the response then never crosses a TLS-terminating proxy in the clear).
pub fn choose(meta_enc: Option<&Value>) -> Support {
    let Some(m) = meta_enc.filter(|m| m.is_object()) else {
        return Support::None;
    };
    let list = |k: &str| -> Vec<&str> {
        m.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let required = m.get("encryption_required").and_then(Value::as_bool).unwrap_or(false);
    let algs = list("alg_values_supported");
    let encs = list("enc_values_supported");
    let enc = ENC_PREFERENCE.iter().find(|e| encs.contains(e)).copied();
    match (algs.contains(&"ECDH-ES"), enc) {
        (true, Some(e)) => Support::Use(e),
        _ if required => Support::RequiredUnsupported,
        _ => Support::None,
    }
}

/// A flow's response-encryption key (ephemeral: generated per flow, never leaves the engine's memory).
pub struct ResponseKey {
    key: PrivateKey,
    public_jwk: Value,
    enc: &'static str,
}

impl std::fmt::Debug for ResponseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseKey")
            .field("enc", &self.enc)
            .finish_non_exhaustive()
    }
}

impl ResponseKey {
    /// A fresh P-256 key for `enc`.
    pub fn generate(enc: &'static str) -> Option<Self> {
        let key = PrivateKey::generate(&ECDH_P256).ok()?;
        let public = key.compute_public_key().ok()?;
        let point = public.as_ref();
        if point.len() != 65 {
            return None;
        }
        let public_jwk = json!({
            "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]),
            "use": "enc", "alg": "ECDH-ES", "kid": uuid::Uuid::new_v4().to_string(),
        });
        Some(ResponseKey { key, public_jwk, enc })
    }

    /// The request's `credential_response_encryption` member (1.0: `jwk` carrying `alg`, and `enc`; drafts also
    /// read a top-level `alg`, which 1.0 issuers ignore).
    pub fn request_member(&self) -> Value {
        json!({"jwk": self.public_jwk, "alg": "ECDH-ES", "enc": self.enc})
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
        let point = ec_point(epk).ok_or("the JWE epk is not a P-256 key")?;
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

fn ec_point(jwk: &Value) -> Option<Vec<u8>> {
    if jwk.get("kty")?.as_str()? != "EC" || jwk.get("crv")?.as_str()? != "P-256" {
        return None;
    }
    let x = b64_decode(jwk.get("x")?.as_str()?)?;
    let y = b64_decode(jwk.get("y")?.as_str()?)?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut p = vec![0x04];
    p.extend(x);
    p.extend(y);
    Some(p)
}

fn short(s: &str) -> String {
    s.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_and_requirements() {
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A128CBC-HS256", "A128GCM", "A256GCM"]});
        assert_eq!(choose(Some(&m)), Support::Use("A256GCM"));
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A128GCM"]});
        assert_eq!(choose(Some(&m)), Support::Use("A128GCM"));
        let m = json!({"alg_values_supported": ["RSA-OAEP"], "enc_values_supported": ["A128GCM"], "encryption_required": true});
        assert_eq!(choose(Some(&m)), Support::RequiredUnsupported);
        let m =
            json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A256CBC-HS512", "A128CBC-HS256"]});
        assert_eq!(choose(Some(&m)), Support::Use("A128CBC-HS256"));
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A256CBC-HS512"]});
        assert_eq!(choose(Some(&m)), Support::Use("A256CBC-HS512"));
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A192GCM"]});
        assert_eq!(choose(Some(&m)), Support::None);
        assert_eq!(choose(None), Support::None);
    }

    /// Encrypts like an issuer would (ephemeral sender key, same KDF) and checks the round trip and tampering.
    #[test]
    fn decrypts_what_an_issuer_encrypts() {
        for enc in ["A256GCM", "A128GCM"] {
            let rk = ResponseKey::generate(enc).unwrap();
            let sender = PrivateKey::generate(&ECDH_P256).unwrap();
            let spub = sender.compute_public_key().unwrap();
            let sp = spub.as_ref();
            let epk = json!({"kty": "EC", "crv": "P-256", "x": b64(&sp[1..33]), "y": b64(&sp[33..65])});
            let header = json!({"alg": "ECDH-ES", "enc": enc, "epk": epk, "apv": b64("v")});
            let h = b64(header.to_string());
            let rp = ec_point(&rk.public_jwk).unwrap();
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
            let rk = ResponseKey::generate(enc).unwrap();
            let sender = PrivateKey::generate(&ECDH_P256).unwrap();
            let spub = sender.compute_public_key().unwrap();
            let sp = spub.as_ref();
            let epk = json!({"kty": "EC", "crv": "P-256", "x": b64(&sp[1..33]), "y": b64(&sp[33..65])});
            let h = b64(json!({"alg": "ECDH-ES", "enc": enc, "epk": epk}).to_string());
            let rp = ec_point(&rk.public_jwk).unwrap();
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
}
