//! The software signer: ES256 with a key held in memory, normally the active key of the wallet provider's
//! database key ring (rotated and published by the ring; see docs/keyring.md).

use std::sync::Arc;

use serde_json::{Value, json};
use walletd_jose::SigningKey;

use super::{AttestationSigner, SignerError};

type Active = dyn Fn() -> Arc<SigningKey> + Send + Sync;
type Published = dyn Fn() -> Value + Send + Sync;

/// Signs with whatever key `active` returns; publishes what `jwks` returns.
pub struct SoftwareSigner {
    active: Box<Active>,
    jwks: Box<Published>,
}

impl SoftwareSigner {
    /// A signer over a key ring: `active` gives the key that signs now, `jwks` the published keys.
    pub fn from_ring(
        active: impl Fn() -> Arc<SigningKey> + Send + Sync + 'static,
        jwks: impl Fn() -> Value + Send + Sync + 'static,
    ) -> Self {
        SoftwareSigner {
            active: Box::new(active),
            jwks: Box::new(jwks),
        }
    }

    /// A signer with one fixed key (tests and benches).
    pub fn single(key: SigningKey) -> Self {
        let key = Arc::new(key);
        let public = json!({"keys": [key.public_jwk().to_value()]});
        SoftwareSigner::from_ring(move || key.clone(), move || public.clone())
    }
}

#[async_trait::async_trait]
impl AttestationSigner for SoftwareSigner {
    fn current_kid(&self) -> String {
        (self.active)().kid().to_string()
    }

    fn jwks(&self) -> Value {
        (self.jwks)()
    }

    async fn sign_es256(&self, kid: &str, input: &[u8]) -> Result<Vec<u8>, SignerError> {
        let key = (self.active)();
        if key.kid() != kid {
            return Err(SignerError::KeyChanged);
        }
        Ok(key.sign_es256(input))
    }

    fn kind(&self) -> &'static str {
        "keyring"
    }
}
