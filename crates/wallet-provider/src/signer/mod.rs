//! The attestation signers: one trait, two implementations chosen by `wallet_provider.signer`.
//!
//! - [`SoftwareSigner`]: a key held in memory, taken from the database key ring (the binary hands it the ring's
//!   active key and published keys) or a single generated key (tests, benches).
//! - [`Pkcs11Signer`]: a P-256 key pair generated on a PKCS#11 token; only the digest goes in and the signature
//!   comes out, the private key never leaves the token.
//!
//! Both sign ES256 and produce the same compact JWS through [`sign_jwt`], so everything above them is shared.

mod pkcs11;
mod soft;

pub use pkcs11::{Pkcs11Settings, Pkcs11Signer};
pub use soft::SoftwareSigner;

use serde_json::{Value, json};
use walletd_jose::b64;

/// Why a signer could not sign or open.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The key named by the signing input is no longer the active one (a rotation happened in between).
    #[error("the signing key changed while signing")]
    KeyChanged,
    /// The token or key store failed; the message names the operation, never key material.
    #[error("signer: {0}")]
    Backend(String),
}

/// Something that signs ES256 with the provider's attestation key.
#[async_trait::async_trait]
pub trait AttestationSigner: Send + Sync {
    /// The `kid` of the key that signs now (a member of [`AttestationSigner::jwks`]).
    fn current_kid(&self) -> String;

    /// The published public keys: `{"keys":[...]}`.
    fn jwks(&self) -> Value;

    /// The raw ES256 signature (r || s, 64 bytes) of `input` with the key `kid`; [`SignerError::KeyChanged`] when
    /// `kid` is no longer the signing key.
    async fn sign_es256(&self, kid: &str, input: &[u8]) -> Result<Vec<u8>, SignerError>;

    /// A short name for logs and metrics (`keyring`, `pkcs11`).
    fn kind(&self) -> &'static str;
}

/// Signs `claims` as a compact JWS with `typ`, `alg` ES256 and the signer's `kid` in the header. A rotation
/// between choosing the kid and signing is retried once.
pub async fn sign_jwt(signer: &dyn AttestationSigner, typ: &str, claims: &Value) -> Result<String, SignerError> {
    let payload = b64(claims.to_string());
    let mut last = SignerError::KeyChanged;
    for _ in 0..2 {
        let kid = signer.current_kid();
        let header = json!({"alg": "ES256", "typ": typ, "kid": kid});
        let input = format!("{}.{payload}", b64(header.to_string()));
        match signer.sign_es256(&kid, input.as_bytes()).await {
            Ok(sig) => return Ok(format!("{input}.{}", b64(sig))),
            Err(SignerError::KeyChanged) => last = SignerError::KeyChanged,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}
