//! The error codes of the protocol.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every error code the engine sends (`error.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum ErrorCode {
    AuthFailed,
    Forbidden,
    InvalidMessage,
    UnknownFlow,
    OfferParseError,
    MetadataFetchError,
    UntrustedIssuer,
    UntrustedVerifier,
    AuthorizationFailed,
    TokenError,
    CredentialError,
    SignError,
    SignTimeout,
    PresentationError,
    FlowTimeout,
    TooManyRequests,
    EgressBlocked,
    InternalError,
}

impl ErrorCode {
    /// The wire spelling (`"TOKEN_ERROR"`).
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            AuthFailed => "AUTH_FAILED",
            Forbidden => "FORBIDDEN",
            InvalidMessage => "INVALID_MESSAGE",
            UnknownFlow => "UNKNOWN_FLOW",
            OfferParseError => "OFFER_PARSE_ERROR",
            MetadataFetchError => "METADATA_FETCH_ERROR",
            UntrustedIssuer => "UNTRUSTED_ISSUER",
            UntrustedVerifier => "UNTRUSTED_VERIFIER",
            AuthorizationFailed => "AUTHORIZATION_FAILED",
            TokenError => "TOKEN_ERROR",
            CredentialError => "CREDENTIAL_ERROR",
            SignError => "SIGN_ERROR",
            SignTimeout => "SIGN_TIMEOUT",
            PresentationError => "PRESENTATION_ERROR",
            FlowTimeout => "FLOW_TIMEOUT",
            TooManyRequests => "TOO_MANY_REQUESTS",
            EgressBlocked => "EGRESS_BLOCKED",
            InternalError => "INTERNAL_ERROR",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
