//! The client identifier's prefix (OpenID4VP 1.0 §5.9): how the verifier is authenticated.

/// How the client identifier is authenticated (its prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `x509_san_dns:` (the leaf's SAN dNSName equals the identifier).
    X509SanDns,
    /// `x509_hash:` (SHA-256 of the leaf's DER equals the identifier).
    X509Hash,
    /// `redirect_uri:` (unsigned requests only; responses go to the identifier itself).
    RedirectUri,
    /// `decentralized_identifier:` or a bare `did:`.
    Did,
    /// `verifier_attestation:`.
    VerifierAttestation,
    /// No prefix: a verifier registered with the tenant.
    PreRegistered,
    /// A prefix the engine does not know (`openid_federation:`, `origin:`...).
    Other,
}

impl Prefix {
    /// The prefix of `client_id` and the identifier after it.
    pub fn split(client_id: &str) -> (Prefix, &str) {
        const KNOWN: [(&str, Prefix); 5] = [
            ("x509_san_dns:", Prefix::X509SanDns),
            ("x509_hash:", Prefix::X509Hash),
            ("redirect_uri:", Prefix::RedirectUri),
            ("decentralized_identifier:", Prefix::Did),
            ("verifier_attestation:", Prefix::VerifierAttestation),
        ];
        for (p, kind) in KNOWN {
            if let Some(rest) = client_id.strip_prefix(p) {
                return (kind, rest);
            }
        }
        if client_id.starts_with("did:") {
            return (Prefix::Did, client_id);
        }
        // Prefixes are `name:` with a lowercase name; an https URL or a plain name is a pre-registered client.
        match client_id.split_once(':') {
            Some((name, _))
                if !name.is_empty()
                    && name != "https"
                    && name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '-') =>
            {
                (Prefix::Other, client_id)
            }
            _ => (Prefix::PreRegistered, client_id),
        }
    }

    /// The name the client is shown (`verifier.client_id_scheme`).
    pub fn scheme_name(self) -> &'static str {
        match self {
            Prefix::X509SanDns => "x509_san_dns",
            Prefix::X509Hash => "x509_hash",
            Prefix::RedirectUri => "redirect_uri",
            Prefix::Did => "decentralized_identifier",
            Prefix::VerifierAttestation => "verifier_attestation",
            Prefix::PreRegistered => "pre-registered",
            Prefix::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            Prefix::split("x509_san_dns:v.example"),
            (Prefix::X509SanDns, "v.example")
        );
        assert_eq!(Prefix::split("did:web:v.example").0, Prefix::Did);
        assert_eq!(Prefix::split("https://v.example").0, Prefix::PreRegistered);
        assert_eq!(Prefix::split("verifier-1").0, Prefix::PreRegistered);
        assert_eq!(Prefix::split("openid_federation:https://v").0, Prefix::Other);
    }
}
