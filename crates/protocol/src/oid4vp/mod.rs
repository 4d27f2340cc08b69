//! OpenID4VP query languages, read by the engine (checking a verifier's request, translating PE for clients that
//! speak only DCQL) and by the Rust holder (matching): DCQL ([`dcql`]) and DIF Presentation Exchange 2.0 ([`pe`]).
//! Pure functions, no I/O.

pub mod dcql;
pub mod pe;
