//! The auth role: it alone holds signing keys and issues tokens; other roles only validate them.

mod keyring;

pub use keyring::{KeyRing, jwks_routes};
