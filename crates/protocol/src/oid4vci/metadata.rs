//! Credential issuer metadata as the engine holds it once fetched (and verified when signed), and the one
//! well-known URL function every role uses to find an issuer's or authorization server's metadata.

use serde_json::Value;
use url::Url;

/// The well-known name of OpenID4VCI credential issuer metadata (`/.well-known/openid-credential-issuer`).
pub const CREDENTIAL_ISSUER_WELL_KNOWN: &str = "openid-credential-issuer";

/// Where `name`'s well-known document of `identifier` is: the `/.well-known/{name}` segment inserted between the
/// host and the identifier's path (RFC 8615 as OpenID4VCI and RFC 8414 use it; a trailing `/` of the path is
/// dropped). Query, fragment and user info are not carried over. `None` when `identifier` is not a URL with a host.
pub fn well_known_url(identifier: &str, name: &str) -> Option<Url> {
    let base = Url::parse(identifier).ok()?;
    base.host_str()?;
    let path = base.path().trim_end_matches('/');
    let mut out = base.clone();
    out.set_path(&format!("/.well-known/{name}{path}"));
    out.set_query(None);
    out.set_fragment(None);
    // Cannot fail for a URL with a host.
    let _ = out.set_username("");
    let _ = out.set_password(None);
    Some(out)
}

/// Credential issuer metadata and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialIssuerMetadata {
    /// The metadata object (from the JWT's claims when signed).
    pub json: Value,
    /// Whether it came as a signed JWT whose signature verifies with its x5c leaf certificate (`validated`).
    pub signed: bool,
    /// The signed metadata's certificate chain (DER, leaf first): the key material for the trust evaluation.
    pub x5c: Vec<Vec<u8>>,
    /// The JWKS that verified signed metadata identified by `kid` (from its `jwks_uri`): the key material then.
    pub signing_jwks: Option<Value>,
}

impl CredentialIssuerMetadata {
    /// A string member.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }

    /// One credential configuration.
    pub fn configuration(&self, id: &str) -> Option<&Value> {
        self.json.get("credential_configurations_supported")?.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_insertion() {
        let u = |s, name| well_known_url(s, name).unwrap().to_string();
        assert_eq!(
            u("https://i.example/tenant/a", "openid-credential-issuer"),
            "https://i.example/.well-known/openid-credential-issuer/tenant/a"
        );
        assert_eq!(
            u("http://127.0.0.1:8080/", "oauth-authorization-server"),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn well_known_path_is_inserted() {
        let u = |s| well_known_url(s, CREDENTIAL_ISSUER_WELL_KNOWN).unwrap().to_string();
        assert_eq!(
            u("https://iss.example"),
            "https://iss.example/.well-known/openid-credential-issuer"
        );
        assert_eq!(
            u("https://iss.example/tenant/a/"),
            "https://iss.example/.well-known/openid-credential-issuer/tenant/a"
        );
    }

    #[test]
    fn only_the_identifier_s_origin_and_path_are_kept() {
        let u = |s| well_known_url(s, CREDENTIAL_ISSUER_WELL_KNOWN).map(|u| u.to_string());
        assert_eq!(
            u("https://user:pw@iss.example:8443/t?q=1#f").as_deref(),
            Some("https://iss.example:8443/.well-known/openid-credential-issuer/t")
        );
        assert_eq!(u("not a url"), None);
        assert_eq!(u("mailto:a@b.example"), None);
    }
}
