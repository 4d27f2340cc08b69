//! The tenant-scoped WebAuthn user handle: `0x01 || SHA-256(tenant_id)[0..8] || uuid` (25 bytes). The tenant
//! part lets a login that starts without a tenant find it, and keeps one person's accounts in two tenants apart on
//! the same authenticator.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Version byte of the scoped handle format.
const SCOPED_V1: u8 = 0x01;

/// Length of a scoped handle.
pub const SCOPED_LEN: usize = 25;

/// The first 8 bytes of SHA-256 of a tenant id.
pub fn tenant_hash(tenant_id: &str) -> [u8; 8] {
    let digest = Sha256::digest(tenant_id.as_bytes());
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// The handle of `user` in `tenant_id`.
pub fn user_handle(tenant_id: &str, user: Uuid) -> Vec<u8> {
    let mut out = Vec::with_capacity(SCOPED_LEN);
    out.push(SCOPED_V1);
    out.extend_from_slice(&tenant_hash(tenant_id));
    out.extend_from_slice(user.as_bytes());
    out
}

/// A user handle as presented at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserHandle {
    /// The 25-byte form: names the tenant (by hash) and the user.
    Scoped { tenant_hash: [u8; 8], user: Uuid },
    /// A plain UUID (16 raw bytes or its 36-character text), as older registrations used.
    Plain(Uuid),
}

impl UserHandle {
    /// Parses the bytes an authenticator returned; `None` when they are none of the accepted forms.
    pub fn parse(bytes: &[u8]) -> Option<UserHandle> {
        match bytes.len() {
            SCOPED_LEN if bytes[0] == SCOPED_V1 => {
                let mut tenant_hash = [0u8; 8];
                tenant_hash.copy_from_slice(&bytes[1..9]);
                let user = Uuid::from_slice(&bytes[9..]).ok()?;
                Some(UserHandle::Scoped { tenant_hash, user })
            }
            16 => Uuid::from_slice(bytes).ok().map(UserHandle::Plain),
            36 => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| Uuid::parse_str(s).ok())
                .map(UserHandle::Plain),
            _ => None,
        }
    }

    /// The user the handle names.
    pub fn user(&self) -> Uuid {
        match self {
            UserHandle::Scoped { user, .. } | UserHandle::Plain(user) => *user,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_handle_round_trips_and_names_the_tenant() {
        let user = Uuid::new_v4();
        let h = user_handle("acme", user);
        assert_eq!(h.len(), 25);
        assert_eq!(h[0], 1);
        assert_eq!(
            UserHandle::parse(&h),
            Some(UserHandle::Scoped {
                tenant_hash: tenant_hash("acme"),
                user
            })
        );
        assert_ne!(tenant_hash("acme"), tenant_hash("default"));
    }

    #[test]
    fn plain_uuid_handles_are_accepted() {
        let user = Uuid::new_v4();
        assert_eq!(UserHandle::parse(user.as_bytes()), Some(UserHandle::Plain(user)));
        assert_eq!(
            UserHandle::parse(user.to_string().as_bytes()),
            Some(UserHandle::Plain(user))
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        assert_eq!(UserHandle::parse(b""), None);
        assert_eq!(UserHandle::parse(&[2u8; 25]), None);
        assert_eq!(UserHandle::parse(&[0u8; 24]), None);
        assert_eq!(UserHandle::parse(&[b'x'; 36]), None);
    }
}
