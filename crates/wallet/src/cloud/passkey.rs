//! The account's software passkey (passkey-rs): created at the first login, kept in the wallet's encrypted store
//! (as `{key: COSE key (CBOR, base64url), credential_id, rp_id, user_handle, counter}`), used for every later login.

use coset::CborSerializable;
use passkey_authenticator::{Authenticator, MemoryStore, UiHint, UserCheck, UserValidationMethod};
use passkey_client::{Client, DefaultClientData};
use passkey_crypto::AvailableBackend;
use passkey_types::Passkey;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use serde_json::{Value, json};
use url::Url;
use walletd_jose::{b64, b64_decode};

/// The holder is present and verified: the wallet itself was unlocked with its passphrase or platform key.
struct Unlocked;

#[async_trait::async_trait]
impl UserValidationMethod for Unlocked {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Self::PasskeyItem>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence, verification })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

type PasskeyClient = Client<MemoryStore, Unlocked, AvailableBackend, public_suffix::PublicSuffixList, ()>;

fn client(store: MemoryStore) -> PasskeyClient {
    let auth = Authenticator::new(Aaguid::new_empty(), store, Unlocked, AvailableBackend);
    Client::new(auth).allows_insecure_localhost(true)
}

use walletd_protocol::b64u_tag::{tag, untag};

fn to_stored(p: &Passkey) -> Result<Value, String> {
    let key = p
        .key
        .clone()
        .to_vec()
        .map_err(|e| format!("cannot encode the passkey: {e:?}"))?;
    Ok(
        json!({"key": b64(&key), "credential_id": b64(&p.credential_id[..]), "rp_id": p.rp_id,
              "user_handle": p.user_handle.as_ref().map(|h| b64(&h[..])), "counter": p.counter}),
    )
}

fn from_stored(v: &Value) -> Result<Passkey, String> {
    let bytes = |k: &str| {
        v[k].as_str()
            .and_then(b64_decode)
            .ok_or_else(|| format!("the stored passkey has no {k}"))
    };
    let key = coset::CoseKey::from_slice(&bytes("key")?).map_err(|e| format!("the stored passkey key: {e:?}"))?;
    Ok(Passkey {
        key,
        credential_id: bytes("credential_id")?.into(),
        rp_id: v["rp_id"].as_str().unwrap_or_default().to_string(),
        user_handle: v["user_handle"].as_str().and_then(b64_decode).map(Into::into),
        username: None,
        user_display_name: None,
        counter: v["counter"].as_u64().map(|c| c as u32),
        extensions: Default::default(),
    })
}

/// `navigator.credentials.create` on the auth role's `createOptions`: the credential to post (binaries tagged) and
/// the new passkey to keep.
pub async fn create(create_options: &Value, origin: &Url) -> Result<(Value, Value), String> {
    let mut options = create_options.clone();
    untag(&mut options);
    let request = serde_json::from_value(options).map_err(|e| format!("createOptions: {e}"))?;
    let mut c = client(MemoryStore::new());
    let cred = c
        .register(origin, request, DefaultClientData)
        .await
        .map_err(|e| format!("the passkey could not be created: {e:?}"))?;
    let passkey = c
        .authenticator()
        .store()
        .values()
        .next()
        .ok_or("the authenticator kept no passkey")?;
    let stored = to_stored(passkey)?;
    let mut v = serde_json::to_value(&cred).map_err(|e| e.to_string())?;
    tag(
        &mut v,
        &[
            "/rawId",
            "/response/clientDataJSON",
            "/response/attestationObject",
            "/response/authenticatorData",
            "/response/publicKey",
        ],
    );
    Ok((v, stored))
}

/// `navigator.credentials.get` on the auth role's `getOptions` with the stored passkey: the assertion to post and
/// the passkey with its counter advanced.
pub async fn get(get_options: &Value, origin: &Url, stored: &Value) -> Result<(Value, Value), String> {
    let passkey = from_stored(stored)?;
    let mut options = get_options.clone();
    untag(&mut options);
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    options["publicKey"]["allowCredentials"] = json!([{"type": "public-key", "id": b64(&passkey.credential_id[..])}]);
    let request = serde_json::from_value(options).map_err(|e| format!("getOptions: {e}"))?;
    let mut store = MemoryStore::new();
    store.insert(passkey.credential_id.to_vec(), passkey);
    let mut c = client(store);
    let cred = c
        .authenticate(origin, request, DefaultClientData)
        .await
        .map_err(|e| format!("the passkey assertion failed: {e:?}"))?;
    let updated = c
        .authenticator()
        .store()
        .values()
        .next()
        .map(to_stored)
        .transpose()?
        .unwrap_or_else(|| stored.clone());
    let mut v = serde_json::to_value(&cred).map_err(|e| e.to_string())?;
    tag(
        &mut v,
        &[
            "/rawId",
            "/response/clientDataJSON",
            "/response/authenticatorData",
            "/response/signature",
            "/response/userHandle",
        ],
    );
    Ok((v, updated))
}
