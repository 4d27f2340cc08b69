//! The wallet-provider role through the real binary: the web client's route, the service routes, the public JWKS,
//! status list and metadata, and the operators' revocation, with the key ring signer and with a SoftHSM2 token.

mod interop;
mod routes;
