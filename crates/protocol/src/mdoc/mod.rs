//! ISO/IEC 18013-5 mdocs (`mso_mdoc` credentials) read from untrusted input: the issued `IssuerSigned` structure
//! with its COSE_Sign1 `IssuerAuth` and Mobile Security Object, the element digests, and the OpenID4VP 1.0
//! `SessionTranscript` a DeviceResponse is signed over. CBOR through `ciborium`, COSE through `coset`; every
//! decode is bounded in size and nesting depth ([`Limits`]). Signatures and certificate chains are checked with
//! `walletd-jose` by the engine and the holder (this crate holds no crypto but digests).

mod cbor;
mod device;
mod issuer_signed;
mod tdate;
#[cfg(test)]
mod tests;

pub use cbor::{decode, embedded, encode, map_get, text};
pub use device::{
    DeviceRequestItem, device_authentication_bytes, device_response, oid4vp_session_transcript, select_items,
};
pub use issuer_signed::{
    IssuerSigned, IssuerSignedItem, Mso, Validity, issuer_signed_from_value, parse_credential, parse_issuer_signed,
};
pub use tdate::parse_tdate;

/// The credential format identifier of OpenID4VCI / OpenID4VP.
pub const FORMAT: &str = "mso_mdoc";

/// Bounds of one CBOR decode of untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded structure (bytes, before base64 decoding is counted as its decoded size).
    pub max_bytes: usize,
    /// Deepest nesting of arrays, maps and tags.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_depth: 32,
        }
    }
}

/// Why an mdoc structure was refused. The messages name the structure, never its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdocError {
    /// Larger than [`Limits::max_bytes`].
    TooLarge(usize),
    /// Nested deeper than [`Limits::max_depth`].
    TooDeep(usize),
    /// Not base64url.
    NotBase64,
    /// Not the structure the standard defines (what is wrong, in words).
    Malformed(String),
    /// An element's digest differs from the MSO's (namespace, element identifier).
    DigestMismatch(String, String),
}

impl std::fmt::Display for MdocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MdocError::TooLarge(l) => write!(f, "the mdoc structure is larger than {l} bytes"),
            MdocError::TooDeep(l) => write!(f, "the mdoc structure is nested deeper than {l} levels"),
            MdocError::NotBase64 => write!(f, "the mdoc credential is not base64url"),
            MdocError::Malformed(m) => write!(f, "malformed mdoc: {m}"),
            MdocError::DigestMismatch(ns, e) => {
                write!(f, "the digest of element {e} in namespace {ns} does not match the MSO")
            }
        }
    }
}

impl std::error::Error for MdocError {}

pub(crate) fn malformed(m: impl Into<String>) -> MdocError {
    MdocError::Malformed(m.into())
}
