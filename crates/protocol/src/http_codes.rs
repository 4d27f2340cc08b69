//! The error codes of the REST API (API v1): the `error` member of every `{"error":"<code>","message":"..."}` body
//! the roles answer with (built by `walletd_common::http::ApiError`). The WebSocket protocol has its own codes
//! ([`crate::ErrorCode`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Declares [`HttpErrorCode`] from one table so the variants, their wire spellings and [`HttpErrorCode::ALL`] cannot
/// drift apart.
macro_rules! http_error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $wire:literal,)+) => {
        /// Every error code a role answers over HTTP. The HTTP status goes with the code in most cases; where one
        /// code is answered with several statuses the route decides (docs/api-v1.md has the table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum HttpErrorCode {
            $($(#[doc = $doc])+ #[serde(rename = $wire)] $variant,)+
        }

        impl HttpErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [HttpErrorCode] = &[$(HttpErrorCode::$variant,)+];

            /// The wire spelling (`"not_found"`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(HttpErrorCode::$variant => $wire,)+
                }
            }
        }
    };
}

http_error_codes! {
    // Shared by every role (walletd-common).
    /// 400: the request is malformed (body, query, path).
    BadRequest = "bad_request",
    /// 401: no usable bearer token.
    Unauthorized = "unauthorized",
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"`: the token was refused. Spelled as the Go backend
    /// spells it, which web clients compare against.
    InvalidToken = "Invalid token",
    /// 403: authenticated but not allowed (also a disabled tenant outside auth).
    Forbidden = "forbidden",
    /// 404: no such resource (also auth and registry lookups).
    NotFound = "not_found",
    /// 409: the resource already exists (admin API, auth).
    Conflict = "conflict",
    /// 413: the request body is over the configured limit.
    PayloadTooLarge = "payload_too_large",
    /// 408: the request took longer than the configured timeout.
    RequestTimeout = "request_timeout",
    /// 503: a dependency (database, key source) is down; retry.
    Unavailable = "unavailable",
    /// 500: an internal failure (logged; the client learns nothing more).
    InternalError = "internal_error",

    // Auth role: WebAuthn ceremonies, sessions, tenants, private data.
    /// 400: the attestation format or algorithm is not allowed by policy.
    AlgorithmNotAllowed = "algorithm_not_allowed",
    /// 403: the tenant requires an attestation the authenticator did not give.
    AttestationRequired = "attestation_required",
    /// 403: the authenticator model (AAGUID) is not allowed by policy.
    AuthenticatorNotAllowed = "authenticator_not_allowed",
    /// 400: the ceremony's challenge has expired.
    ChallengeExpired = "challenge_expired",
    /// 400: the challenge is unknown or was already used.
    ChallengeInvalid = "challenge_invalid",
    /// 400 (registration) or 401 (login): the signed challenge is not the one issued.
    ChallengeMismatch = "challenge_mismatch",
    /// 409: the passkey is already registered.
    CredentialExists = "credential_exists",
    /// 401: the assertion signature does not verify.
    InvalidAssertion = "invalid_assertion",
    /// 400: the attestation does not verify.
    InvalidAttestation = "invalid_attestation",
    /// 400: a token or ceremony names another audience.
    InvalidAudience = "invalid_audience",
    /// 401: the refresh token is unknown, expired or revoked.
    InvalidRefreshToken = "invalid_refresh_token",
    /// 400: the request fails validation (WebAuthn options, parameters).
    InvalidRequest = "invalid_request",
    /// 400: tenant settings fail validation.
    InvalidSettings = "invalid_settings",
    /// 401: the assertion's user handle does not name the user.
    InvalidUserHandle = "invalid_user_handle",
    /// 403: the invite code is unknown, used or expired.
    InviteInvalid = "invite_invalid",
    /// 403: the tenant registers only with an invite.
    InviteRequired = "invite_required",
    /// 409: the user's last passkey cannot be removed.
    LastPasskey = "last_passkey",
    /// 400: the request body could not be read.
    MalformedBody = "malformed_body",
    /// 400: the credential in the request is not well formed.
    MalformedCredential = "malformed_credential",
    /// 400: the request body is not the expected JSON.
    MalformedJson = "malformed_json",
    /// 400: the private data is not valid.
    MalformedPrivateData = "malformed_private_data",
    /// 400 (registration) or 401 (login): the client data's origin is not allowed.
    OriginMismatch = "origin_mismatch",
    /// 404: no such passkey.
    PasskeyNotFound = "passkey_not_found",
    /// 412: the private data (auth) or the blob (storage) changed since the client's ETag.
    PreconditionFailed = "precondition_failed",
    /// 400: the private-data store refused the write.
    PrivateDataRefused = "private_data_refused",
    /// 429: too many requests from this client; slow down.
    RateLimited = "rate_limited",
    /// 400 (registration) or 401 (login): the relying-party id hash does not match.
    RpIdMismatch = "rp_id_mismatch",
    /// 401: the authenticator's signature counter went backwards (a cloned key).
    SignCountRegression = "sign_count_regression",
    /// 403: the tenant is disabled.
    TenantDisabled = "tenant_disabled",
    /// 403: the token's tenant is not the request's tenant.
    TenantMismatch = "tenant_mismatch",
    /// 404: no such tenant.
    TenantNotFound = "tenant_not_found",
    /// 409: the user has the maximum number of passkeys.
    TooManyPasskeys = "too_many_passkeys",
    /// 404: the passkey is not registered.
    UnknownCredential = "unknown_credential",
    /// 404: no such user.
    UserNotFound = "user_not_found",
    /// 400 (registration) or 401 (login): the authenticator did not report user presence.
    UserNotPresent = "user_not_present",
    /// 400 (registration) or 401 (login): user verification is required and was not reported.
    UserNotVerified = "user_not_verified",

    // Storage role.
    /// 413: one blob is over the size limit.
    BlobTooLarge = "blob_too_large",
    /// 413: the user's storage quota is used up.
    QuotaExceeded = "quota_exceeded",
    /// 415: the body is neither the JSON nor the octet-stream form.
    UnsupportedMediaType = "unsupported_media_type",

    // Backend role: the legacy proxy, web-client compat routes, the trust passthrough.
    /// 404: the legacy proxy is turned off.
    ProxyDisabled = "proxy_disabled",
    /// 400: egress policy refuses the destination.
    EgressBlocked = "egress_blocked",
    /// 400: the destination is not a usable URL.
    InvalidUrl = "invalid_url",
    /// 502: the upstream failed or answered something unusable (backend, registry).
    UpstreamError = "upstream_error",
    /// 504: the upstream did not answer in time (backend, registry).
    UpstreamTimeout = "upstream_timeout",
    /// 502: the upstream answer is over the size limit.
    UpstreamTooLarge = "upstream_too_large",
    /// 404: the tenant has no trust PDP.
    PdpNotConfigured = "pdp_not_configured",
    /// 504: the trust PDP did not answer in time.
    PdpTimeout = "pdp_timeout",
    /// 502 (500 when its configuration is invalid): the trust PDP failed.
    PdpError = "pdp_error",

    // Registry role (type metadata).
    /// 502: a fetched document does not match its integrity hash.
    IntegrityMismatch = "integrity_mismatch",
    /// 502: the `extends` chain is invalid (a loop, too deep, unreachable).
    ExtendsInvalid = "extends_invalid",
    /// 502: an image the metadata references is refused.
    ImageRefused = "image_refused",
    /// 502: the upstream document is not valid type metadata.
    InvalidDocument = "invalid_document",

    // Wallet-provider role.
    /// 400: the proof of possession of the instance key does not verify or is not for this challenge.
    PopInvalid = "pop_invalid",
    /// 403: an operator revoked the wallet instance.
    InstanceRevoked = "instance_revoked",
    /// 403: the wallet instance belongs to another tenant or user.
    InstanceNotOwned = "instance_not_owned",
}

impl std::fmt::Display for HttpErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::HttpErrorCode;

    #[test]
    fn wire_spellings_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in HttpErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
            assert_eq!(serde_json::from_value::<HttpErrorCode>(json).unwrap(), *code);
        }
    }
}
