//! # walletd-jose: the JOSE and X.509 primitives of walletd
//!
//! One implementation of each: base64url ([`b64`]), typed JWKs with their `kty`/`crv` checks and RFC 7638
//! thumbprints ([`jwk`]), P-256 key pairs and the persisted signing key ([`keys`], [`pem`]), compact JWS
//! ([`jws`]), ECDH-ES JWE ([`jwe`]), x5c certificate chains read with `x509-parser` ([`x5c`]) and signed
//! OpenID4VCI issuer metadata ([`signed_metadata`]). Built on aws-lc-rs, the crypto backend of the workspace.
//! No I/O besides the signing key file; fetching is the callers' business (through the egress guard).
#![warn(missing_docs)]

pub mod b64;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod keys;
pub mod pem;
pub mod signed_metadata;
pub mod signing_key;
pub mod x509_chain;
pub mod x5c;

pub use b64::{b64, b64_decode, sha256_b64};
pub use jwk::{Jwk, JwkError};
pub use jws::{DecodedJwt, JwsAlg, JwsError, decode_jwt};
pub use keys::EcKey;
pub use signing_key::{KeyError, SigningKey};
