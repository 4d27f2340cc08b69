//! The auth role's ES256 signing key: generation, PKCS#8 PEM persistence, public JWK and RFC 7638 `kid`.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde::Serialize;
use serde_json::json;

use crate::jwk::Jwk;
use crate::keys::EcKey;
use crate::pem;

/// Why a signing key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("signing key file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The bytes are not a PKCS#8 P-256 private key.
    #[error("signing key is not a valid PKCS#8 P-256 key")]
    InvalidKey,
    /// The claims could not be serialized.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// An ES256 (P-256) signing key with its public JWK (`kid` = RFC 7638 thumbprint). The private half never leaves
/// this struct.
pub struct SigningKey {
    key: EcKey,
    kid: String,
    public_jwk: Jwk,
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
        let key = EcKey::from_pkcs8(der).ok_or(KeyError::InvalidKey)?;
        let kid = key.thumbprint();
        let mut public_jwk = key.public_jwk().clone().with_kid(kid.clone());
        public_jwk.alg = Some("ES256".into());
        public_jwk.key_use = Some("sig".into());
        Ok(SigningKey { key, kid, public_jwk })
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS#8 P-256) file; returns the key with its DER.
    pub fn read_pem_file(path: &Path) -> Result<(Self, Vec<u8>), KeyError> {
        let file_err = |message: String| KeyError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        let der = pem::decode_private_key(&text).ok_or_else(|| file_err("not a PEM \"PRIVATE KEY\" block".into()))?;
        Ok((Self::from_pkcs8_der(&der)?, der))
    }

    /// Loads the key from a PKCS#8 PEM file, or generates one and writes it there (mode 0600) when the file is missing.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyError> {
        match Self::read_pem_file(path) {
            Ok((key, _)) => Ok(key),
            Err(KeyError::File { .. }) if !path.exists() => {
                let (key, der) = Self::generate()?;
                write_private_file(path, pem::encode_private_key(&der).as_bytes()).map_err(|e| KeyError::File {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// RFC 7638 thumbprint of the public key, used as `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty`, `crv`, `x`, `y`, `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    /// The raw ES256 signature (r || s) of `input`, for callers that build their own JWS header (the wallet
    /// provider's `typ`s).
    pub fn sign_es256(&self, input: &[u8]) -> Vec<u8> {
        self.key.sign_es256(input)
    }

    /// Signs `claims` as an ES256 JWT (`typ JWT`) with this key's `kid` in the header.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let claims = serde_json::to_value(claims).map_err(|e| KeyError::Sign(e.to_string()))?;
        Ok(self.key.sign_jwt(&json!({"typ": "JWT", "kid": self.kid}), &claims))
    }
}

/// Writes a file readable by its owner only, atomically (temp file + rename), creating parent directories.
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Directories created here are the owner's only (0700), like the key itself.
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)?;
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
        let expected = jwk.thumbprint().unwrap();
        assert_eq!(key.kid(), expected);
        assert_eq!(jwk.kid.as_deref(), Some(expected.as_str()));
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

    #[test]
    fn signed_tokens_verify_with_the_public_jwk() {
        let (key, _) = SigningKey::generate().unwrap();
        let jwt = key.sign(&json!({"sub": "u"})).unwrap();
        let d = crate::jws::verify_es256(&jwt, key.public_jwk()).unwrap();
        assert_eq!(d.header["kid"], key.kid());
        assert_eq!(d.header["typ"], "JWT");
        assert_eq!(d.claims["sub"], "u");
    }
}
