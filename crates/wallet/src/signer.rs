//! Who signs for the holder. The agent never needs a private key, only something that signs: a [`HolderSigner`]
//! lists its keys (id and public JWK) and signs bytes with one of them. The wallet's own store is one implementation
//! ([`StoreSigner`]); a platform keychain, a secure enclave or a C callback table (crates/wallet-ffi) are others, so
//! keys can live where the store cannot reach them.
//!
//! Every signature is ES256 over P-256: raw `r || s`, 64 bytes, the form both JWS (OID4VCI proofs, SD-JWT key
//! binding) and COSE (mdoc DeviceAuth) use. A signature is checked against the key's public JWK before it is used,
//! so a misbehaving signer is a clear error here and not a rejection by the issuer or verifier later.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::Value;
use walletd_jose::jwk::EcCurve;
use walletd_jose::{EcKey, Jwk, b64};

use crate::store::WalletData;

/// How every error caused by the signer starts (the agent marks such errors [`crate::agent::AgentError::signer`]).
pub const REFUSED: &str = "the holder's signer";

/// The message sent to the engine (and returned) when the signer refused.
pub(crate) fn refusal(e: &SignerError) -> String {
    format!("{REFUSED} refused: {e}")
}

/// What a signature is for (a signer may show it to the user, or allow some purposes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignPurpose {
    /// An OID4VCI proof of possession (`openid4vci-proof+jwt`) during issuance.
    IssuanceProof,
    /// An SD-JWT VC key-binding JWT (`kb+jwt`) during a presentation.
    KeyBinding,
    /// An mdoc DeviceAuth signature (COSE_Sign1 over the DeviceAuthentication) during a presentation.
    DeviceAuth,
}

impl SignPurpose {
    /// The purpose's name as C and JSON callers see it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignPurpose::IssuanceProof => "issuance_proof",
            SignPurpose::KeyBinding => "key_binding",
            SignPurpose::DeviceAuth => "device_auth",
        }
    }
}

/// Why a signer could not sign (or list its keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerError {
    /// What the signer said.
    pub message: String,
}

impl SignerError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        SignerError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SignerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SignerError {}

/// One key a signer holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SignerKey {
    /// The signer's id for it (credentials record it as their `key_id`).
    pub id: String,
    /// Its public JWK (P-256).
    pub jwk: Jwk,
}

/// Signs for the holder with keys it keeps. Calls may block (a biometric prompt, a hardware token): the agent makes
/// them from the task that runs the flow, as it does the [`crate::agent::Ui`]'s.
pub trait HolderSigner: Send + Sync {
    /// The keys it holds.
    fn keys(&self) -> Result<Vec<SignerKey>, SignerError>;

    /// The key new credentials are bound to when the caller names none: the last one listed.
    fn choose_key(&self) -> Result<String, SignerError> {
        self.keys()?
            .pop()
            .map(|k| k.id)
            .ok_or_else(|| SignerError::new("the signer holds no key"))
    }

    /// The public JWK of `key_id`.
    fn public_jwk(&self, key_id: &str) -> Result<Jwk, SignerError> {
        self.keys()?
            .into_iter()
            .find(|k| k.id == key_id)
            .map(|k| k.jwk)
            .ok_or_else(|| SignerError::new(format!("the signer has no key {key_id}")))
    }

    /// The ES256 signature (raw `r || s`, 64 bytes) of `message` with `key_id`.
    fn sign(&self, key_id: &str, purpose: SignPurpose, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// One key, ready to sign: what the proof and presentation builders take.
pub trait KeySigner {
    /// The key's public JWK.
    fn public_jwk(&self) -> Result<Jwk, SignerError>;
    /// The ES256 signature (raw `r || s`) of `message`.
    fn sign_es256(&self, purpose: SignPurpose, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// A key pair in memory signs by itself (tests, the one-key [`crate::Holder`]).
impl KeySigner for EcKey {
    fn public_jwk(&self) -> Result<Jwk, SignerError> {
        Ok(EcKey::public_jwk(self).clone())
    }

    fn sign_es256(&self, _purpose: SignPurpose, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(EcKey::sign_es256(self, message))
    }
}

/// Key `id` of a [`HolderSigner`], its public JWK fetched once; signatures are verified against it.
pub struct SignerRef<'a> {
    signer: &'a dyn HolderSigner,
    id: String,
    jwk: Jwk,
}

impl std::fmt::Debug for SignerRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerRef")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<'a> SignerRef<'a> {
    /// Key `id` of `signer`; fails when the signer does not have it or its JWK is not a P-256 public key.
    pub fn new(signer: &'a dyn HolderSigner, id: &str) -> Result<SignerRef<'a>, SignerError> {
        let jwk = signer.public_jwk(id)?;
        if jwk.is_private() {
            return Err(SignerError::new(format!(
                "the signer handed out the private half of key {id}"
            )));
        }
        if jwk.ec_curve() != Some(EcCurve::P256) || jwk.ec_point(EcCurve::P256).is_err() {
            return Err(SignerError::new(format!("key {id} is not a P-256 public JWK")));
        }
        Ok(SignerRef {
            signer,
            id: id.to_string(),
            jwk,
        })
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl KeySigner for SignerRef<'_> {
    fn public_jwk(&self) -> Result<Jwk, SignerError> {
        Ok(self.jwk.clone())
    }

    fn sign_es256(&self, purpose: SignPurpose, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let sig = self.signer.sign(&self.id, purpose, message)?;
        if sig.len() != 64 {
            return Err(SignerError::new(format!(
                "the signer returned {} bytes; an ES256 signature is 64 (r || s)",
                sig.len()
            )));
        }
        // The cheapest place to catch a wrong key or a DER-encoded signature: one verification, here.
        let point = self
            .jwk
            .ec_point(EcCurve::P256)
            .map_err(|_| SignerError::new(format!("key {} is not a P-256 public JWK", self.id)))?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(message, &sig)
            .map_err(|_| SignerError::new(format!("the signature of key {} does not verify", self.id)))?;
        Ok(sig)
    }
}

/// Signs `claims` with `header` (`alg` set to ES256) as a compact JWS.
pub fn sign_jwt(
    key: &dyn KeySigner,
    purpose: SignPurpose,
    header: &Value,
    claims: &Value,
) -> Result<String, SignerError> {
    let mut header = header.clone();
    header["alg"] = Value::String("ES256".into());
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig = key.sign_es256(purpose, input.as_bytes())?;
    Ok(format!("{input}.{}", b64(sig)))
}

/// The wallet store's keys as a signer (the private JWKs stay in the store's document).
pub struct StoreSigner {
    keys: Vec<(String, EcKey)>,
}

impl std::fmt::Debug for StoreSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSigner")
            .field("keys", &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .finish()
    }
}

impl StoreSigner {
    /// The usable keys of `wallet` (a record whose private JWK does not parse is left out).
    pub fn new(wallet: &WalletData) -> StoreSigner {
        StoreSigner {
            keys: wallet
                .keys
                .iter()
                .filter_map(|k| Some((k.id.clone(), k.key()?)))
                .collect(),
        }
    }

    /// A signer with the one key `key` under `id`.
    pub fn one(id: &str, key: EcKey) -> StoreSigner {
        StoreSigner {
            keys: vec![(id.to_string(), key)],
        }
    }
}

impl HolderSigner for StoreSigner {
    fn keys(&self) -> Result<Vec<SignerKey>, SignerError> {
        Ok(self
            .keys
            .iter()
            .map(|(id, k)| SignerKey {
                id: id.clone(),
                jwk: k.public_jwk().clone(),
            })
            .collect())
    }

    fn sign(&self, key_id: &str, _purpose: SignPurpose, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.keys
            .iter()
            .find(|(id, _)| id == key_id)
            .map(|(_, k)| k.sign_es256(message))
            .ok_or_else(|| SignerError::new(format!("no holder key {key_id} in the wallet")))
    }
}
