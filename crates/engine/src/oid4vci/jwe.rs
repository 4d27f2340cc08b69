//! Encrypted credential responses (OpenID4VCI `credential_response_encryption`): a P-256 key per flow, the
//! request's encryption parameters, and decryption of the compact JWE the issuer answers with.
//!
//! Only `ECDH-ES` (direct key agreement, RFC 7518 §4.6) with AES-GCM content encryption is implemented: it is what
//! the specification prefers and what issuers implement; an issuer offering nothing else is asked for no encryption
//! unless it requires it, in which case the flow fails with a clear message.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::jose::{b64, b64_decode};

/// Content encryption algorithms the engine can decrypt, best first.
const ENC_PREFERENCE: [&str; 2] = ["A256GCM", "A128GCM"];

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
        let key_len = if enc == "A256GCM" { 32 } else { 16 };
        let cek = agreement::agree(
            &self.key,
            UnparsedPublicKey::new(&ECDH_P256, point),
            "the JWE key agreement failed".to_string(),
            |z| Ok(concat_kdf(z, enc, &apu, &apv, key_len)),
        )?;
        let iv: [u8; 12] = b64_decode(iv)
            .and_then(|v| v.try_into().ok())
            .ok_or("the JWE iv is not 96 bits")?;
        let mut data = b64_decode(ct).ok_or("the JWE ciphertext is not base64url")?;
        data.extend(b64_decode(tag).ok_or("the JWE tag is not base64url")?);
        let alg = if key_len == 32 { &AES_256_GCM } else { &AES_128_GCM };
        let key = LessSafeKey::new(UnboundKey::new(alg, &cek).map_err(|_| "bad content key")?);
        // The AAD is the ASCII of the encoded protected header (RFC 7516 §5.2 step 14).
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(iv), Aad::from(h.as_bytes()), &mut data)
            .map_err(|_| "the encrypted response does not decrypt with the flow's key")?;
        Ok(plain.to_vec())
    }
}

/// The Concat KDF of RFC 7518 §4.6.2 (NIST SP 800-56A) with SHA-256, for `key_len` ≤ 32 bytes (one round).
pub fn concat_kdf(z: &[u8], alg_id: &str, apu: &[u8], apv: &[u8], key_len: usize) -> Vec<u8> {
    let with_len = |d: &[u8]| {
        let mut v = (d.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(d);
        v
    };
    let mut h = Sha256::new();
    h.update(1u32.to_be_bytes());
    h.update(z);
    h.update(with_len(alg_id.as_bytes()));
    h.update(with_len(apu));
    h.update(with_len(apv));
    h.update(((key_len * 8) as u32).to_be_bytes());
    h.finalize()[..key_len.min(32)].to_vec()
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
        let m = json!({"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A128CBC-HS256"]});
        assert_eq!(choose(Some(&m)), Support::None);
        assert_eq!(choose(None), Support::None);
    }

    /// Encrypts like an issuer would (ephemeral sender key, same KDF) and checks the round trip and tampering.
    #[test]
    fn decrypts_what_an_issuer_encrypts() {
        for enc in ENC_PREFERENCE {
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
}
