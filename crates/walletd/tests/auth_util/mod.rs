//! What the auth integration tests share: a virtual passkey authenticator with PRF (passkey-rs, in process) and
//! helpers that drive the web client's compat API of a real walletd.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passkey_authenticator::{
    Authenticator, MemoryStore, UiHint, UserCheck, UserValidationMethod, extensions::HmacSecretConfig,
};
use passkey_client::Client;
use passkey_crypto::AvailableBackend;
use passkey_types::Passkey;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;
use walletd_testkit::{TestDatabase, Walletd, WalletdBuilder, http_client};

/// The origin the virtual browser runs on (one of walletd's default `webauthn.rp_origins`).
pub const ORIGIN: &str = "http://localhost:8080";

pub fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64u(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).expect("base64url")
}

/// Replaces `{"$b64u": s}` by `s`, recursively (what the web client's parser does).
pub fn untag(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.len() == 1
                && let Some(Value::String(s)) = m.get("$b64u")
            {
                *v = Value::String(s.clone());
                return;
            }
            m.values_mut().for_each(untag);
        }
        Value::Array(a) => a.iter_mut().for_each(untag),
        _ => {}
    }
}

/// Wraps every string in `paths` (JSON pointers) as `{"$b64u": ...}`, as the web client sends binaries.
pub fn tag(v: &mut Value, paths: &[&str]) {
    for p in paths {
        if let Some(slot) = v.pointer_mut(p)
            && let Value::String(s) = slot
        {
            let s = std::mem::take(s);
            *slot = json!({"$b64u": s});
        }
    }
}

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
    pub uv: Arc<AtomicBool>,
    /// The PRF salt and the last PRF output the authenticator produced (the log test looks for it).
    pub prf_salt: Vec<u8>,
    pub last_prf_output: Option<String>,
}

impl VirtualAuthenticator {
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
            .authenticate(&origin, request, None)
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

pub fn walletd() -> WalletdBuilder {
    WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
}

/// `auth,storage` on `db` with `extra` YAML appended.
pub async fn start(db: &TestDatabase, extra: &str) -> Walletd {
    start_with(db, extra, &[]).await
}

pub async fn start_with(db: &TestDatabase, extra: &str, env: &[(&str, &str)]) -> Walletd {
    let mut b = walletd()
        .mode("auth,storage")
        .config(&format!("database:\n  url: \"{}\"\n{extra}", db.url()));
    for (k, v) in env {
        b = b.env(k, v);
    }
    b.spawn().await.unwrap_or_else(|e| panic!("walletd: {e}"))
}

/// A response: status, headers, JSON body (Null when none).
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string())
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let r = req.send().await.expect("request");
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, body }
}

pub async fn post(w: &Walletd, path: &str, body: &Value, token: Option<&str>, headers: &[(&str, &str)]) -> Resp {
    let mut req = http_client().post(format!("{}{path}", w.http_url())).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(req).await
}

pub async fn get(w: &Walletd, path: &str, token: Option<&str>) -> Resp {
    let mut req = http_client().get(format!("{}{path}", w.http_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    send(req).await
}

/// Registers a new account through the compat API; returns the finish response.
pub async fn register(w: &Walletd, va: &mut VirtualAuthenticator, tenant: Option<&str>, private_data: &[u8]) -> Resp {
    let (challenge_id, credential) = register_credential(w, va, tenant).await;
    post(
        w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": challenge_id, "credential": credential, "displayName": "Alice",
                "privateData": {"$b64u": b64u(private_data)}}),
        None,
        &[],
    )
    .await
}

/// Begin + authenticator: the challenge id and the credential, not yet posted.
pub async fn register_credential(w: &Walletd, va: &mut VirtualAuthenticator, tenant: Option<&str>) -> (String, Value) {
    let body = match tenant {
        Some(t) => json!({"displayName": "Alice", "tenantId": t}),
        None => json!({"displayName": "Alice"}),
    };
    let begin = post(w, "/user/register-webauthn-begin", &body, None, &[]).await;
    assert_eq!(begin.status, StatusCode::OK, "register begin: {}", begin.body);
    let credential = va.create(&begin.body["createOptions"], ORIGIN).await;
    (begin.body["challengeId"].as_str().unwrap().to_string(), credential)
}

/// Login begin + authenticator: the challenge id and the assertion, not yet posted.
pub async fn login_credential(w: &Walletd, va: &mut VirtualAuthenticator, tenant: Option<&str>) -> (String, Value) {
    let headers: Vec<(&str, &str)> = tenant.map(|t| vec![("X-Tenant-ID", t)]).unwrap_or_default();
    let begin = post(w, "/user/login-webauthn-begin", &json!({}), None, &headers).await;
    assert_eq!(begin.status, StatusCode::OK, "login begin: {}", begin.body);
    let credential = va.get(&begin.body["getOptions"], ORIGIN).await;
    (begin.body["challengeId"].as_str().unwrap().to_string(), credential)
}

/// Logs in through the compat API; returns the finish response.
pub async fn login(w: &Walletd, va: &mut VirtualAuthenticator, tenant: Option<&str>) -> Resp {
    let (challenge_id, credential) = login_credential(w, va, tenant).await;
    let headers: Vec<(&str, &str)> = tenant.map(|t| vec![("X-Tenant-ID", t)]).unwrap_or_default();
    post(
        w,
        "/user/login-webauthn-finish",
        &json!({"challengeId": challenge_id, "credential": credential}),
        None,
        &headers,
    )
    .await
}

/// Decodes a tagged binary.
pub fn tagged_bytes(v: &Value) -> Vec<u8> {
    unb64u(
        v["$b64u"]
            .as_str()
            .unwrap_or_else(|| panic!("not a tagged binary: {v}")),
    )
}

/// Rewrites the authenticator data inside a tagged `attestationObject` (attestation `none` carries no signature
/// over it, so the server's own checks are what must catch the change).
pub fn tamper_attestation(credential: &mut Value, mut edit: impl FnMut(&mut Vec<u8>)) {
    let bytes = tagged_bytes(&credential["response"]["attestationObject"]);
    let mut value: ciborium::Value = ciborium::de::from_reader(bytes.as_slice()).unwrap();
    let map = value.as_map_mut().unwrap();
    for (k, v) in map.iter_mut() {
        if k.as_text() == Some("authData")
            && let ciborium::Value::Bytes(b) = v
        {
            edit(b);
        }
    }
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).unwrap();
    credential["response"]["attestationObject"] = json!({"$b64u": b64u(&out)});
}

/// Rewrites a tagged binary field of a credential (`/response/authenticatorData`, `/rawId`, ...).
pub fn tamper_field(credential: &mut Value, pointer: &str, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = tagged_bytes(credential.pointer(pointer).unwrap());
    edit(&mut bytes);
    *credential.pointer_mut(pointer).unwrap() = json!({"$b64u": b64u(&bytes)});
}

/// The claims of a JWT (not verified).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&unb64u(payload)).unwrap()
}

/// An attestation key with a certificate that meets the `packed` requirements (v3; subject C, O,
/// OU = "Authenticator Attestation", CN; basic constraints CA = false; id-fido-gen-ce-aaguid = `aaguid`).
pub struct AttestationSigner {
    pub key: aws_lc_rs::signature::EcdsaKeyPair,
    pub cert_der: Vec<u8>,
}

impl AttestationSigner {
    pub fn new(aaguid: [u8; 16]) -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let cert_key = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            rcgen::DnType::CountryName,
            rcgen::DnValue::PrintableString("SE".try_into().unwrap()),
        );
        dn.push(rcgen::DnType::OrganizationName, "walletd test vendor");
        dn.push(rcgen::DnType::OrganizationalUnitName, "Authenticator Attestation");
        dn.push(rcgen::DnType::CommonName, "walletd test authenticator");
        params.distinguished_name = dn;
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        // id-fido-gen-ce-aaguid: the AAGUID as a DER OCTET STRING, not critical.
        let mut octets = vec![0x04, 16];
        octets.extend_from_slice(&aaguid);
        params.custom_extensions.push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4],
            octets,
        ));
        let cert = params.self_signed(&cert_key).unwrap();
        AttestationSigner {
            key,
            cert_der: cert.der().to_vec(),
        }
    }

    /// ES256 (ASN.1 DER) signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key.sign(&rng, message).unwrap().as_ref().to_vec()
    }
}

/// Turns the virtual authenticator's `none` registration into a `packed` one with an x5c chain: the AAGUID in the
/// attested credential data becomes `aaguid` (rpIdHash, flags, counter and key stay as the authenticator made
/// them), and `signer` signs authenticatorData || SHA-256(clientDataJSON).
pub fn make_packed(credential: &mut Value, aaguid: [u8; 16], signer: &AttestationSigner) {
    use ciborium::Value as Cbor;
    use sha2::Digest;
    let bytes = tagged_bytes(&credential["response"]["attestationObject"]);
    let value: Cbor = ciborium::de::from_reader(bytes.as_slice()).unwrap();
    let mut auth_data = value
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some("authData"))
        .and_then(|(_, v)| v.as_bytes().cloned())
        .unwrap();
    assert!(auth_data[32] & 0x40 != 0, "attested credential data present");
    auth_data[37..53].copy_from_slice(&aaguid);
    let client_data = tagged_bytes(&credential["response"]["clientDataJSON"]);
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&sha2::Sha256::digest(&client_data));
    let sig = signer.sign(&signed);
    let object = Cbor::Map(vec![
        (Cbor::Text("fmt".into()), Cbor::Text("packed".into())),
        (
            Cbor::Text("attStmt".into()),
            Cbor::Map(vec![
                (Cbor::Text("alg".into()), Cbor::Integer((-7).into())),
                (Cbor::Text("sig".into()), Cbor::Bytes(sig)),
                (
                    Cbor::Text("x5c".into()),
                    Cbor::Array(vec![Cbor::Bytes(signer.cert_der.clone())]),
                ),
            ]),
        ),
        (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
    ]);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&object, &mut out).unwrap();
    credential["response"]["attestationObject"] = json!({"$b64u": b64u(&out)});
}

/// Finishes a registration started with [`register_credential`].
pub async fn register_finish(w: &Walletd, challenge_id: &str, credential: &Value) -> Resp {
    post(
        w,
        "/user/register-webauthn-finish",
        &json!({"challengeId": challenge_id, "credential": credential, "displayName": "Alice",
                "privateData": {"$b64u": b64u(b"private")}}),
        None,
        &[],
    )
    .await
}
