//! The ES256 signing key of the auth role: generation, PKCS#8 PEM persistence, public JWK and RFC 7638 `kid`.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Why a signing key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key file {path}: {message}")]
    File { path: String, message: String },
    #[error("signing key is not a valid PKCS#8 P-256 key")]
    InvalidKey,
    #[error("signing failed: {0}")]
    Sign(String),
}

/// An ES256 (P-256) signing key with its public JWK. The private half never leaves this struct.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public_jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key; returns it with its PKCS#8 DER encoding (for persistence).
    pub fn generate() -> Result<(Self, Vec<u8>), KeyError> {
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| KeyError::InvalidKey)?;
        let der = doc.as_ref().to_vec();
        Ok((Self::from_pkcs8_der(&der)?, der))
    }

    /// Reads a PKCS#8 DER P-256 private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|_| KeyError::InvalidKey)?;
        // The public key is the uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 0x04 {
            return Err(KeyError::InvalidKey);
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        let kid = ec_p256_thumbprint(&x, &y);
        let public_jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"});
        Ok(SigningKey {
            kid,
            encoding: EncodingKey::from_ec_der(der),
            public_jwk,
        })
    }

    /// Loads the key from a PKCS#8 PEM file, or generates one and writes it there (mode 0600) when the file is missing.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyError> {
        let file_err = |message: String| KeyError::File {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(pem) => {
                let der = pem_decode(&pem).ok_or_else(|| file_err("not a PEM \"PRIVATE KEY\" block".into()))?;
                Self::from_pkcs8_der(&der)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (key, der) = Self::generate()?;
                write_private_file(path, pem_encode(&der).as_bytes()).map_err(|e| file_err(e.to_string()))?;
                Ok(key)
            }
            Err(e) => Err(file_err(e.to_string())),
        }
    }

    /// RFC 7638 thumbprint of the public key, used as `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty`, `crv`, `x`, `y`, `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `claims` as an ES256 JWT with this key's `kid` in the header.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }
}

/// RFC 7638 SHA-256 thumbprint of an EC P-256 public key given by its base64url coordinates.
pub fn ec_p256_thumbprint(x: &str, y: &str) -> String {
    // The members in lexicographic order, no whitespace, as RFC 7638 section 3 requires.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// The DER inside a PEM `PRIVATE KEY` (PKCS#8) block; `None` when there is none or it is not base64.
pub fn pem_decode(pem: &str) -> Option<Vec<u8>> {
    let body = pem
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)?
        .split("-----END PRIVATE KEY-----")
        .next()?;
    let joined: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(joined).ok()
}

/// Writes a file readable by its owner only, atomically (temp file + rename), creating parent directories.
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_persists_and_reloads_with_same_kid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/signing-key.pem");
        let a = SigningKey::load_or_generate(&path).unwrap();
        let b = SigningKey::load_or_generate(&path).unwrap();
        assert_eq!(a.kid(), b.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn kid_is_the_rfc7638_thumbprint() {
        let (key, _) = SigningKey::generate().unwrap();
        let jwk = key.public_jwk();
        let expected = ec_p256_thumbprint(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
        assert_eq!(key.kid(), expected);
        assert_eq!(jwk["kid"], expected);
        // RFC 7638 example-independent sanity: 32-byte SHA-256 in base64url is 43 characters.
        assert_eq!(key.kid().len(), 43);
    }

    #[test]
    fn garbage_key_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, "hello").unwrap();
        assert!(SigningKey::load_or_generate(&path).is_err());
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        assert!(matches!(SigningKey::load_or_generate(&path), Err(KeyError::InvalidKey)));
    }
}
