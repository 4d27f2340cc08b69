//! A virtual passkey authenticator (passkey-rs, in process) with resident keys, user verification, PRF and a
//! signature counter, speaking the web client's JSON (binaries tagged as `{"$b64u": ...}`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use passkey_authenticator::{
    Authenticator, MemoryStore, UiHint, UserCheck, UserValidationMethod, extensions::HmacSecretConfig,
};
use passkey_client::{Client, ClientData, DefaultClientData};
use passkey_crypto::AvailableBackend;
use passkey_types::Passkey;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use serde_json::{Value, json};
use url::Url;

use crate::jwt::{b64u, unb64u};

pub use walletd_protocol::b64u_tag::{tag, untag};

/// User verification that can be switched off to test the UV rule.
#[derive(Clone)]
pub struct Uv(pub Arc<AtomicBool>);

#[async_trait::async_trait]
impl UserValidationMethod for Uv {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Self::PasskeyItem>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification: verification && self.0.load(Ordering::SeqCst),
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

type PasskeyClient = Client<MemoryStore, Uv, AvailableBackend, public_suffix::PublicSuffixList, ()>;

/// A platform authenticator with resident keys, user verification, PRF (hmac-secret) and a signature counter.
pub struct VirtualAuthenticator {
    client: PasskeyClient,
    /// Whether user verification succeeds (switch off to test the UV rule).
    pub uv: Arc<AtomicBool>,
    /// The PRF salt and the last PRF output the authenticator produced (the log test looks for it).
    pub prf_salt: Vec<u8>,
    /// The last PRF output.
    pub last_prf_output: Option<String>,
}

impl VirtualAuthenticator {
    /// A fresh authenticator with no passkeys and user verification on.
    pub fn new() -> Self {
        let uv = Arc::new(AtomicBool::new(true));
        let mut auth = Authenticator::new(
            Aaguid::new_empty(),
            MemoryStore::new(),
            Uv(uv.clone()),
            AvailableBackend,
        )
        .hmac_secret(HmacSecretConfig::new_with_uv_only().enable_on_make_credential());
        auth.set_make_credentials_with_signature_counter(true);
        VirtualAuthenticator {
            client: Client::new(auth).allows_insecure_localhost(true),
            uv,
            prf_salt: vec![7u8; 32],
            last_prf_output: None,
        }
    }

    /// A copy of the stored passkeys (a "cloned authenticator").
    pub fn clone_store(&self) -> MemoryStore {
        self.client.authenticator().store().clone()
    }

    /// Replaces the stored passkeys.
    pub fn set_store(&mut self, store: MemoryStore) {
        *self.client.authenticator_mut().store_mut() = store;
    }

    /// `navigator.credentials.create` on the server's `createOptions` (tagged binaries), with a PRF salt as the web
    /// client adds it. Returns the credential as the web client posts it (binaries tagged).
    pub async fn create(&mut self, create_options: &Value, origin: &str) -> Value {
        let mut options = create_options.clone();
        untag(&mut options);
        options["publicKey"]["extensions"]["prf"] = json!({"eval": {"first": b64u(&self.prf_salt)}});
        let request = serde_json::from_value(options).expect("createOptions parse as WebAuthn options");
        let origin = Url::parse(origin).unwrap();
        let cred = self
            .client
            .register(&origin, request, None)
            .await
            .expect("virtual authenticator registers");
        let mut v = serde_json::to_value(&cred).unwrap();
        self.remember_prf(&v);
        tag(
            &mut v,
            &[
                "/rawId",
                "/response/clientDataJSON",
                "/response/attestationObject",
                "/response/authenticatorData",
                "/response/publicKey",
                "/clientExtensionResults/prf/results/first",
            ],
        );
        v
    }

    /// `navigator.credentials.get` on the server's `getOptions`, with PRF evaluation as the web client asks for it.
    pub async fn get(&mut self, get_options: &Value, origin: &str) -> Value {
        self.assert(get_options, origin, DefaultClientData).await
    }

    /// [`get`](Self::get) with `extra` merged into the signed `clientDataJSON` (e.g. `{"crossOrigin": true}`, what a
    /// browser reports for a ceremony in a cross-origin frame). The client data is written here (passkey-client
    /// would repeat a `crossOrigin` key) and the authenticator signs its hash.
    pub async fn get_with_client_data(&mut self, get_options: &Value, origin: &str, extra: Value) -> Value {
        let mut plain = get_options.clone();
        untag(&mut plain);
        let mut client_data = json!({"type": "webauthn.get", "challenge": plain["publicKey"]["challenge"],
                                     "origin": origin.trim_end_matches('/')});
        if let (Some(cd), Some(more)) = (client_data.as_object_mut(), extra.as_object()) {
            cd.extend(more.clone());
        }
        let client_data = serde_json::to_vec(&client_data).unwrap();
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &client_data);
        let mut v = self
            .assert(get_options, origin, FixedClientData(hash.as_ref().to_vec()))
            .await;
        v["response"]["clientDataJSON"] = json!({"$b64u": b64u(&client_data)});
        v
    }

    async fn assert<D: ClientData<()>>(&mut self, get_options: &Value, origin: &str, client_data: D) -> Value {
        let mut options = get_options.clone();
        untag(&mut options);
        options["publicKey"]["extensions"] = json!({"prf": {"eval": {"first": b64u(&self.prf_salt)}}});
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        // The in-memory store finds passkeys by id only; like the web client with cached users, list them.
        let ids: Vec<Value> = self
            .client
            .authenticator()
            .store()
            .keys()
            .map(|id| json!({"type": "public-key", "id": b64u(id)}))
            .collect();
        options["publicKey"]["allowCredentials"] = Value::Array(ids);
        let request = serde_json::from_value(options).expect("getOptions parse as WebAuthn options");
        let origin = Url::parse(origin).unwrap();
        let cred = self
            .client
            .authenticate(&origin, request, client_data)
            .await
            .expect("virtual authenticator asserts");
        let mut v = serde_json::to_value(&cred).unwrap();
        self.remember_prf(&v);
        tag(
            &mut v,
            &[
                "/rawId",
                "/response/clientDataJSON",
                "/response/authenticatorData",
                "/response/signature",
                "/response/userHandle",
                "/clientExtensionResults/prf/results/first",
            ],
        );
        v
    }

    fn remember_prf(&mut self, v: &Value) {
        if let Some(first) = v
            .pointer("/clientExtensionResults/prf/results/first")
            .and_then(Value::as_str)
        {
            self.last_prf_output = Some(first.to_string());
        }
    }
}

/// Client data whose hash the test computed itself.
struct FixedClientData(Vec<u8>);

impl ClientData<()> for FixedClientData {
    fn extra_client_data(&self) {}

    fn client_data_hash(&self) -> Option<Vec<u8>> {
        Some(self.0.clone())
    }
}

impl Default for VirtualAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

/// Decodes a tagged binary.
pub fn tagged_bytes(v: &Value) -> Vec<u8> {
    unb64u(
        v["$b64u"]
            .as_str()
            .unwrap_or_else(|| panic!("not a tagged binary: {v}")),
    )
}
