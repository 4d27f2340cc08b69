//! WebAuthn ceremonies on webauthn-rs 0.6 (its engine, `webauthn-rs-core`, used directly because the
//! tenant-scoped 25-byte user handle and `residentKey: required` cannot be expressed through the `Passkey` wrapper).
//!
//! Rules applied here: discoverable credentials, user verification required, ES256/EdDSA/RS256, attestation
//! `none` unless configured, PRF requested by editing the options JSON. What the client returns is rebuilt into a
//! minimal credential before parsing, so PRF outputs (and any other extension output) never reach the verifier,
//! the database or a log line. The verifier traces its inputs (including the challenge) at TRACE level: every call
//! into it runs with logging silenced.

use std::time::Duration;

use serde_json::{Map, Value, json};
use url::Url;
use walletd_common::config::{AttestationPolicy, WebauthnConfig};
use walletd_common::tenant::Tenant;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationResult, AuthenticationState, COSEAlgorithm, Credential,
    CredentialID, PublicKeyCredential, RegisterPublicKeyCredential, RegistrationState, RequestRegistrationExtensions,
    UserVerificationPolicy,
};

use crate::error::AuthError;
use crate::tagged::{b64u, decode_value, untag};

/// The relying party of one tenant: the global `webauthn` section with the tenant's overrides applied.
pub struct RelyingParty {
    core: WebauthnCore,
    rp_id: String,
}

impl RelyingParty {
    /// Builds the relying party for `tenant`.
    pub fn for_tenant(cfg: &WebauthnConfig, tenant: &Tenant, timeout: Duration) -> Result<Self, AuthError> {
        let overrides = tenant.webauthn.as_ref();
        let rp_id = overrides
            .and_then(|w| w.rp_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| cfg.rp_id.clone());
        let origins: Vec<Url> = match overrides.filter(|w| !w.rp_origins.is_empty()) {
            Some(w) => w.rp_origins.iter().filter_map(|o| Url::parse(o).ok()).collect(),
            None => cfg.rp_origins.clone(),
        };
        if origins.is_empty() {
            return Err(AuthError::unavailable(&format!(
                "tenant {} has no usable WebAuthn origin",
                tenant.id
            )));
        }
        let core = WebauthnCore::new_unsafe_experts_only(&cfg.rp_name, &rp_id, origins, timeout, None, None);
        Ok(RelyingParty { core, rp_id })
    }

    /// The RP id credentials are bound to.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// Registration options (standard WebAuthn JSON, binaries as base64url strings) and the state to keep.
    pub fn start_registration(
        &self,
        user_handle: &[u8],
        user_name: &str,
        display_name: &str,
        exclude: Vec<Vec<u8>>,
        attestation: AttestationPolicy,
    ) -> Result<(Value, RegistrationState), AuthError> {
        let conveyance = match attestation {
            AttestationPolicy::None => AttestationConveyancePreference::None,
            AttestationPolicy::Direct => AttestationConveyancePreference::Direct,
        };
        let exclude: Vec<CredentialID> = exclude;
        let (ccr, state) = quiet(|| {
            let builder = self
                .core
                .new_challenge_register_builder(user_handle, user_name, display_name)?
                .attestation(conveyance)
                .credential_algorithms(vec![COSEAlgorithm::ES256, COSEAlgorithm::EDDSA, COSEAlgorithm::RS256])
                .require_resident_key(true)
                .user_verification_policy(UserVerificationPolicy::Required)
                .exclude_credentials(Some(exclude))
                .extensions(Some(RequestRegistrationExtensions {
                    cred_props: Some(true),
                    ..Default::default()
                }));
            self.core.generate_challenge_register(builder)
        })
        .map_err(|e| AuthError::bad_request("invalid_request", e.to_string()))?;
        let mut options = serde_json::to_value(&ccr).map_err(|e| AuthError::unavailable(&e))?;
        if let Some(pk) = options.get_mut("publicKey").and_then(Value::as_object_mut) {
            // webauthn-rs has no typed PRF input: request it here; the client adds its own salt.
            pk.insert("extensions".into(), json!({"credProps": true, "prf": {}}));
            pk.insert(
                "authenticatorSelection".into(),
                json!({"requireResidentKey": true, "residentKey": "required", "userVerification": "required"}),
            );
        }
        Ok((options, state))
    }

    /// Verifies a registration response against its state.
    pub fn finish_registration(
        &self,
        credential: &RegisterPublicKeyCredential,
        state: &RegistrationState,
    ) -> Result<Credential, AuthError> {
        quiet(|| self.core.register_credential(credential, state, None)).map_err(registration_error)
    }

    /// Discoverable-login options (empty `allowCredentials`) and the state to keep.
    pub fn start_login(&self) -> Result<(Value, AuthenticationState), AuthError> {
        let (rcr, state) = quiet(|| {
            let builder = self
                .core
                .new_challenge_authenticate_builder(Vec::new(), Some(UserVerificationPolicy::Required))?;
            self.core.generate_challenge_authenticate(builder)
        })
        .map_err(|e| AuthError::bad_request("invalid_request", e.to_string()))?;
        let options = serde_json::to_value(&rcr).map_err(|e| AuthError::unavailable(&e))?;
        Ok((options, state))
    }

    /// Verifies an assertion made with `stored`. The verifier's own sign-count check is disabled (the stored
    /// counter is passed as 0) because the configured policy decides; the caller compares counters.
    pub fn finish_login(
        &self,
        assertion: &PublicKeyCredential,
        state: &AuthenticationState,
        mut stored: Credential,
    ) -> Result<AuthenticationResult, AuthError> {
        stored.counter = 0;
        quiet(|| self.core.authenticate_single_credential(assertion, state, &stored)).map_err(assertion_error)
    }
}

/// Runs `f` with every log line dropped: the verifier traces ceremony state and client data.
fn quiet<T>(f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
}

/// A registration response the verifier can parse, plus what the server keeps from the extension outputs.
pub struct ParsedRegistration {
    pub credential: RegisterPublicKeyCredential,
    /// The client reported PRF support (`prf.enabled`, or PRF results present).
    pub prf_capable: bool,
    /// AAGUID from the attested credential data, when present and not all zero.
    pub aaguid: Option<String>,
}

/// Parses a registration response as the web client sends it (tagged or plain binaries).
pub fn parse_registration(raw: &Value) -> Result<ParsedRegistration, AuthError> {
    let mut v = raw.clone();
    untag(&mut v);
    let ext = v
        .get("clientExtensionResults")
        .or_else(|| v.get("extensions"))
        .cloned()
        .unwrap_or(Value::Null);
    let prf = ext.get("prf");
    let prf_capable = prf.and_then(|p| p.get("enabled")).and_then(Value::as_bool) == Some(true)
        || prf.and_then(|p| p.get("results")).is_some_and(|r| !r.is_null());
    let response = v
        .get("response")
        .ok_or_else(|| malformed("the credential has no `response`"))?;
    let attestation_object = binary(response, "attestationObject")?;
    let client_data = binary(response, "clientDataJSON")?;
    let raw_id = match v.get("rawId").or_else(|| v.get("id")) {
        Some(id) => decode_value(id).ok_or_else(|| malformed("`rawId` is not base64url"))?,
        None => return Err(malformed("the credential has no `rawId`")),
    };
    let aaguid = aaguid_of(&attestation_object)?;
    // Only what verification needs; extension outputs other than credProps are dropped here.
    let mut ext_out = Map::new();
    if let Some(cp) = ext.get("credProps").filter(|c| c.is_object()) {
        ext_out.insert("credProps".into(), cp.clone());
    }
    let minimal = json!({
        "id": b64u(&raw_id),
        "rawId": b64u(&raw_id),
        "type": "public-key",
        "response": {"attestationObject": b64u(&attestation_object), "clientDataJSON": b64u(&client_data)},
        "clientExtensionResults": ext_out,
    });
    let credential = serde_json::from_value(minimal).map_err(|_| malformed("the credential has the wrong shape"))?;
    Ok(ParsedRegistration {
        credential,
        prf_capable,
        aaguid,
    })
}

/// An assertion as the web client sends it, reduced to what verification needs.
pub struct ParsedAssertion {
    pub credential: PublicKeyCredential,
    pub credential_id: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
    /// `clientDataJSON.crossOrigin` was `true`: the ceremony ran in a frame of another origin. webauthn-rs-core checks
    /// this only at registration, so the login refuses it itself.
    pub cross_origin: bool,
}

/// Parses a login response (tagged or plain binaries). PRF results are not read and not kept.
pub fn parse_assertion(raw: &Value) -> Result<ParsedAssertion, AuthError> {
    let mut v = raw.clone();
    untag(&mut v);
    let response = v
        .get("response")
        .ok_or_else(|| malformed("the credential has no `response`"))?;
    let authenticator_data = binary(response, "authenticatorData")?;
    let client_data = binary(response, "clientDataJSON")?;
    let signature = binary(response, "signature")?;
    let user_handle = match response.get("userHandle") {
        None | Some(Value::Null) => None,
        Some(h) => Some(decode_value(h).ok_or_else(|| malformed("`userHandle` is not base64url"))?),
    };
    let raw_id = match v.get("rawId").or_else(|| v.get("id")) {
        Some(id) => decode_value(id).ok_or_else(|| malformed("`rawId` is not base64url"))?,
        None => return Err(malformed("the credential has no `rawId`")),
    };
    let minimal = json!({
        "id": b64u(&raw_id),
        "rawId": b64u(&raw_id),
        "type": "public-key",
        "response": {
            "authenticatorData": b64u(&authenticator_data),
            "clientDataJSON": b64u(&client_data),
            "signature": b64u(&signature),
            "userHandle": user_handle.as_deref().map(b64u),
        },
        "clientExtensionResults": {},
    });
    let credential = serde_json::from_value(minimal).map_err(|_| malformed("the credential has the wrong shape"))?;
    let cross_origin = serde_json::from_slice::<Value>(&client_data)
        .ok()
        .and_then(|cd| cd.get("crossOrigin").and_then(Value::as_bool))
        .unwrap_or(false);
    Ok(ParsedAssertion {
        credential,
        credential_id: raw_id,
        user_handle,
        cross_origin,
    })
}

fn binary(obj: &Value, field: &str) -> Result<Vec<u8>, AuthError> {
    let v = obj
        .get(field)
        .ok_or_else(|| malformed(format!("the credential response has no `{field}`")))?;
    decode_value(v).ok_or_else(|| malformed(format!("`{field}` is not base64url")))
}

fn malformed(message: impl Into<String>) -> AuthError {
    AuthError::bad_request("malformed_credential", message)
}

/// The AAGUID in an attestation object's authenticator data (`None` when absent or all zero). Fails on CBOR
/// that is not an attestation object.
fn aaguid_of(attestation_object: &[u8]) -> Result<Option<String>, AuthError> {
    let value: ciborium::Value = ciborium::de::from_reader(attestation_object)
        .map_err(|_| malformed("`attestationObject` is not valid CBOR"))?;
    let map = value
        .as_map()
        .ok_or_else(|| malformed("`attestationObject` is not a CBOR map"))?;
    let auth_data = map
        .iter()
        .find(|(k, _)| k.as_text() == Some("authData"))
        .and_then(|(_, v)| v.as_bytes())
        .ok_or_else(|| malformed("`attestationObject` has no authData"))?;
    // rpIdHash (32) | flags (1) | signCount (4) | attested credential data when flag AT (0x40): aaguid (16) ...
    if auth_data.len() < 37 {
        return Err(malformed("authData is too short"));
    }
    if auth_data[32] & 0x40 == 0 || auth_data.len() < 53 {
        return Ok(None);
    }
    let aaguid = &auth_data[37..53];
    if aaguid.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    Ok(uuid::Uuid::from_slice(aaguid).ok().map(|u| u.to_string()))
}

fn registration_error(e: WebauthnError) -> AuthError {
    match e {
        WebauthnError::MismatchedChallenge => AuthError::bad_request("challenge_mismatch", e.to_string()),
        WebauthnError::InvalidRPOrigin => AuthError::bad_request("origin_mismatch", e.to_string()),
        WebauthnError::InvalidRPIDHash => AuthError::bad_request("rp_id_mismatch", e.to_string()),
        WebauthnError::UserNotVerified => AuthError::bad_request("user_not_verified", e.to_string()),
        WebauthnError::UserNotPresent => AuthError::bad_request("user_not_present", e.to_string()),
        WebauthnError::CredentialAlteredAlgFromRequest | WebauthnError::COSEKeyInvalidAlgorithm => {
            AuthError::bad_request("algorithm_not_allowed", e.to_string())
        }
        other => AuthError::bad_request("invalid_attestation", other.to_string()),
    }
}

fn assertion_error(e: WebauthnError) -> AuthError {
    match e {
        WebauthnError::MismatchedChallenge => AuthError::unauthorized("challenge_mismatch", e.to_string()),
        WebauthnError::InvalidRPOrigin => AuthError::unauthorized("origin_mismatch", e.to_string()),
        WebauthnError::InvalidRPIDHash => AuthError::unauthorized("rp_id_mismatch", e.to_string()),
        WebauthnError::UserNotVerified => AuthError::unauthorized("user_not_verified", e.to_string()),
        WebauthnError::UserNotPresent => AuthError::unauthorized("user_not_present", e.to_string()),
        WebauthnError::ParseNOMFailure
        | WebauthnError::ParseCBORFailure(_)
        | WebauthnError::ParseJSONFailure(_)
        | WebauthnError::ParseBase64Failure(_)
        | WebauthnError::ParseInsufficientBytesAvailable => {
            AuthError::bad_request("malformed_credential", e.to_string())
        }
        other => AuthError::unauthorized("invalid_assertion", other.to_string()),
    }
}
