//! The PKCS#11 signer: the attestation key is a P-256 key pair on a token (an HSM, or SoftHSM2 in tests). On
//! first use the pair is generated on the token as sensitive and non-extractable; afterwards it is found by label.
//! walletd computes the SHA-256 digest and the token signs it (CKM_ECDSA), so the private key never leaves it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use walletd_jose::Jwk;
use walletd_jose::jwk::EcCurve;

use super::{AttestationSigner, SignerError};

/// DER of the OID of P-256 (prime256v1), the `CKA_EC_PARAMS` of the key pair.
const P256_OID_DER: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Where the key lives.
#[derive(Clone)]
pub struct Pkcs11Settings {
    /// The PKCS#11 module (shared library).
    pub module: PathBuf,
    /// Label of the token.
    pub token_label: String,
    /// User PIN.
    pub pin: String,
    /// Label of the key pair.
    pub key_label: String,
}

impl std::fmt::Debug for Pkcs11Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Settings")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("key_label", &self.key_label)
            .finish_non_exhaustive()
    }
}

/// Signs with a key on a PKCS#11 token. One logged-in session, used by one signature at a time.
pub struct Pkcs11Signer {
    session: Arc<Mutex<Session>>,
    private: ObjectHandle,
    kid: String,
    public_jwk: Jwk,
}

fn backend(what: &str) -> impl Fn(cryptoki::error::Error) -> SignerError + '_ {
    move |e| SignerError::Backend(format!("{what}: {e}"))
}

impl Pkcs11Signer {
    /// Opens the token, logs in and finds the key pair by label, generating it on the token when absent.
    /// Blocking (PKCS#11 calls); call it from `spawn_blocking` or at start-up.
    pub fn open(settings: &Pkcs11Settings) -> Result<Pkcs11Signer, SignerError> {
        let ctx = Pkcs11::new(&settings.module).map_err(backend("loading the PKCS#11 module"))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => {}
            // Another signer in this process initialised the module already.
            Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(backend("initialising the module")(e)),
        }
        let slot = ctx
            .get_slots_with_initialized_token()
            .map_err(backend("listing slots"))?
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .is_ok_and(|t| t.label().trim_end() == settings.token_label)
            })
            .ok_or_else(|| SignerError::Backend(format!("no token labelled `{}`", settings.token_label)))?;
        let session = ctx.open_rw_session(slot).map_err(backend("opening a session"))?;
        let pin = AuthPin::from(settings.pin.clone());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(backend("logging in")(e)),
        }
        let label = settings.key_label.as_bytes().to_vec();
        let find = |class: ObjectClass| {
            session
                .find_objects(&[Attribute::Class(class), Attribute::Label(label.clone())])
                .map_err(backend("finding the key"))
        };
        let (public, private) = match (
            find(ObjectClass::PUBLIC_KEY)?.first(),
            find(ObjectClass::PRIVATE_KEY)?.first(),
        ) {
            (Some(p), Some(k)) => (*p, *k),
            _ => generate(&session, &label)?,
        };
        let point = session
            .get_attributes(public, &[AttributeType::EcPoint])
            .map_err(backend("reading the public key"))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| SignerError::Backend("the public key has no EC point".into()))?;
        let jwk = Jwk::from_ec_point(EcCurve::P256, unwrap_octet_string(&point))
            .ok_or_else(|| SignerError::Backend("the token's public key is not a P-256 point".into()))?;
        let kid = jwk
            .thumbprint()
            .map_err(|_| SignerError::Backend("thumbprint of the token's key".into()))?;
        let mut public_jwk = jwk.with_kid(kid.clone());
        public_jwk.alg = Some("ES256".into());
        public_jwk.key_use = Some("sig".into());
        tracing::info!(kid = %kid, token = %settings.token_label, "wallet-provider key on the PKCS#11 token");
        Ok(Pkcs11Signer {
            session: Arc::new(Mutex::new(session)),
            private,
            kid,
            public_jwk,
        })
    }

    /// The token's answers about the private key (`CKA_SENSITIVE`, `CKA_EXTRACTABLE`, and `CKA_VALUE` when the
    /// token would reveal it): what the "key never leaves the token" test checks.
    pub fn private_key_attributes(&self) -> Result<Vec<Attribute>, SignerError> {
        let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        session
            .get_attributes(
                self.private,
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Value,
                ],
            )
            .map_err(backend("reading key attributes"))
    }
}

/// Generates the key pair on the token: private half sensitive, non-extractable, sign-only.
fn generate(session: &Session, label: &[u8]) -> Result<(ObjectHandle, ObjectHandle), SignerError> {
    let id = uuid::Uuid::new_v4().as_bytes().to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::KeyType(KeyType::EC),
        Attribute::EcParams(P256_OID_DER.to_vec()),
        Attribute::Verify(true),
        Attribute::Label(label.to_vec()),
        Attribute::Id(id.clone()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Label(label.to_vec()),
        Attribute::Id(id),
    ];
    let pair = session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .map_err(backend("generating the key pair"))?;
    tracing::info!("wallet-provider key pair generated on the PKCS#11 token");
    Ok(pair)
}

/// `CKA_EC_POINT` is a DER OCTET STRING around the SEC1 point on most tokens, the bare point on a few.
fn unwrap_octet_string(point: &[u8]) -> &[u8] {
    match point {
        [0x04, 65, rest @ ..] if rest.len() == 65 => rest,
        other => other,
    }
}

#[async_trait::async_trait]
impl AttestationSigner for Pkcs11Signer {
    fn current_kid(&self) -> String {
        self.kid.clone()
    }

    fn jwks(&self) -> Value {
        json!({"keys": [self.public_jwk.to_value()]})
    }

    async fn sign_es256(&self, kid: &str, input: &[u8]) -> Result<Vec<u8>, SignerError> {
        if kid != self.kid {
            return Err(SignerError::KeyChanged);
        }
        let digest = Sha256::digest(input).to_vec();
        let session = self.session.clone();
        let key = self.private;
        tokio::task::spawn_blocking(move || {
            let session = session.lock().unwrap_or_else(|p| p.into_inner());
            session
                .sign(&Mechanism::Ecdsa, key, &digest)
                .map_err(backend("signing"))
        })
        .await
        .map_err(|e| SignerError::Backend(format!("signing task: {e}")))?
        .and_then(|sig| {
            // CKM_ECDSA on P-256 returns r || s, 32 bytes each: the JWS ES256 encoding.
            if sig.len() == 64 {
                Ok(sig)
            } else {
                Err(SignerError::Backend(format!(
                    "unexpected signature length {}",
                    sig.len()
                )))
            }
        })
    }

    fn kind(&self) -> &'static str {
        "pkcs11"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_are_unwrapped_from_their_octet_string() {
        let mut point = vec![0x04u8];
        point.extend([7u8; 64]);
        let mut wrapped = vec![0x04, 65];
        wrapped.extend(&point);
        assert_eq!(unwrap_octet_string(&wrapped), point.as_slice());
        assert_eq!(unwrap_octet_string(&point), point.as_slice(), "a bare point stays");
    }
}
