//! An issuer's OpenID4VCI metadata, fetched and verified the one way every role does it: well-known discovery
//! (RFC 8615 path insertion, then the appended form some issuers use) through the egress guard, the
//! `credential_issuer` it names checked, and `signed_metadata` (when present) verified with its x5c leaf, its
//! signed values taking precedence over the unsigned ones (OpenID4VCI 12.2.3). The registry adds the tenant's
//! trust verdict on top; the backend's web-client compat route returns the metadata itself.

use serde_json::Value;
use url::Url;
use walletd_egress::{EgressClient, EgressError, METADATA_MAX_BYTES};
use walletd_jose::signed_metadata::verify_signed_metadata;
use walletd_protocol::oid4vci::{CREDENTIAL_ISSUER_WELL_KNOWN, well_known_url};

/// Issuer metadata that passed discovery and, when it carried `signed_metadata`, signature verification.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedIssuerMetadata {
    /// The metadata object, signed values merged over the unsigned ones.
    pub metadata: Value,
    /// Whether `signed_metadata` was present and verified.
    pub signed_metadata_verified: bool,
    /// The certificate chain (DER, leaf first) of the signed metadata; empty when unsigned.
    pub x5c: Vec<Vec<u8>>,
}

/// Why an issuer's metadata could not be had. Messages name the issuer's document, never internal addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerMetadataError {
    /// The issuer identifier is not an http(s) URL without query or fragment.
    #[error("{0}")]
    BadIssuer(String),
    /// The egress guard refused the issuer's address.
    #[error("{0}")]
    Blocked(String),
    /// No well-known location serves metadata.
    #[error("{0}")]
    NotFound(String),
    /// The document is not JSON or names another `credential_issuer`.
    #[error("{0}")]
    InvalidDocument(String),
    /// `signed_metadata` does not verify or was issued by another entity.
    #[error("{0}")]
    Integrity(String),
    /// The issuer could not be reached or answered with an error.
    #[error("{message}")]
    Upstream {
        /// What went wrong.
        message: String,
        /// Whether it was a timeout.
        timeout: bool,
    },
}

impl IssuerMetadataError {
    fn from_egress(e: &EgressError) -> Self {
        let message = format!("issuer metadata: {e}");
        match e.code() {
            "EGRESS_BLOCKED" | "EGRESS_INVALID_URL" => IssuerMetadataError::Blocked(message),
            code => IssuerMetadataError::Upstream {
                message,
                timeout: code == "EGRESS_TIMEOUT",
            },
        }
    }
}

/// Checks that `issuer` is an http(s) URL without query or fragment (before anything is cached or fetched).
pub fn check_issuer(issuer: &str) -> Result<(), IssuerMetadataError> {
    let url = Url::parse(issuer).map_err(|_| IssuerMetadataError::BadIssuer("issuer must be a URL".into()))?;
    if !matches!(url.scheme(), "https" | "http") || url.query().is_some() || url.fragment().is_some() {
        return Err(IssuerMetadataError::BadIssuer(
            "issuer must be an http(s) URL without query or fragment".into(),
        ));
    }
    Ok(())
}

/// Fetches `issuer`'s metadata through `egress` and verifies it (see the module documentation).
pub async fn fetch_verified(
    egress: &EgressClient,
    issuer: &str,
) -> Result<VerifiedIssuerMetadata, IssuerMetadataError> {
    check_issuer(issuer)?;
    let mut metadata = discover(egress, issuer).await?;
    let Some(jwt) = metadata.get("signed_metadata").and_then(Value::as_str) else {
        return Ok(VerifiedIssuerMetadata {
            metadata,
            signed_metadata_verified: false,
            x5c: Vec::new(),
        });
    };
    let (claims, chain) = verify_signed_metadata(jwt.trim())
        .map_err(|m| IssuerMetadataError::Integrity(format!("signed_metadata: {m}")))?;
    if claims
        .get("iss")
        .and_then(Value::as_str)
        .is_some_and(|iss| !same_issuer(iss, issuer))
    {
        return Err(IssuerMetadataError::Integrity(
            "signed_metadata was issued by another entity".into(),
        ));
    }
    // Signed values take precedence over the unsigned ones (OpenID4VCI 12.2.3).
    if let (Some(m), Some(c)) = (metadata.as_object_mut(), claims.as_object()) {
        for (k, v) in c {
            if !matches!(k.as_str(), "iss" | "sub" | "iat" | "exp" | "nbf" | "jti") {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(VerifiedIssuerMetadata {
        metadata,
        signed_metadata_verified: true,
        x5c: chain,
    })
}

async fn discover(egress: &EgressClient, issuer: &str) -> Result<Value, IssuerMetadataError> {
    let mut last = IssuerMetadataError::NotFound(format!("no OpenID4VCI metadata for {issuer}"));
    for url in well_known_urls(issuer) {
        let resp = egress
            .get(url.as_str(), METADATA_MAX_BYTES)
            .await
            .map_err(|e| IssuerMetadataError::from_egress(&e))?;
        match resp.status.as_u16() {
            200..=299 => {}
            404 => continue,
            code => {
                last = IssuerMetadataError::Upstream {
                    message: format!("issuer metadata answered HTTP {code}"),
                    timeout: false,
                };
                continue;
            }
        }
        let meta: Value = resp
            .json()
            .map_err(|_| IssuerMetadataError::InvalidDocument("issuer metadata is not JSON".into()))?;
        let named = meta
            .get("credential_issuer")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !same_issuer(named, issuer) {
            return Err(IssuerMetadataError::InvalidDocument(
                "issuer metadata names another credential_issuer".into(),
            ));
        }
        return Ok(meta);
    }
    Err(last)
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Where an issuer's metadata may be: the well-known segment inserted between host and path (RFC 8615, as
/// OpenID4VCI requires), and for issuers with a path also appended after it (a common deployment mistake).
pub fn well_known_urls(issuer: &str) -> Vec<Url> {
    let Some(inserted) = well_known_url(issuer, CREDENTIAL_ISSUER_WELL_KNOWN) else {
        return Vec::new();
    };
    let mut out = vec![inserted];
    if let Ok(mut appended) = Url::parse(issuer) {
        let path = appended.path().trim_end_matches('/').to_string();
        if !path.is_empty() {
            appended.set_path(&format!("{path}/.well-known/{CREDENTIAL_ISSUER_WELL_KNOWN}"));
            out.push(appended);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_urls() {
        let u = |s| well_known_urls(s).iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert_eq!(
            u("https://i.example"),
            ["https://i.example/.well-known/openid-credential-issuer"]
        );
        assert_eq!(
            u("https://i.example/t/1/"),
            [
                "https://i.example/.well-known/openid-credential-issuer/t/1",
                "https://i.example/t/1/.well-known/openid-credential-issuer"
            ]
        );
    }

    #[test]
    fn well_known_path_is_inserted_first() {
        // The backend's compat route used to build only this URL; it is still the first one tried.
        let first = |s| well_known_urls(s)[0].to_string();
        assert_eq!(
            first("https://iss.example"),
            "https://iss.example/.well-known/openid-credential-issuer"
        );
        assert_eq!(
            first("https://iss.example/tenant/a/"),
            "https://iss.example/.well-known/openid-credential-issuer/tenant/a"
        );
    }

    #[test]
    fn issuer_identifiers_are_checked() {
        assert!(check_issuer("https://i.example/t").is_ok());
        for bad in [
            "not a url",
            "ftp://i.example",
            "https://i.example/?q=1",
            "https://i.example/#f",
        ] {
            assert!(
                matches!(check_issuer(bad), Err(IssuerMetadataError::BadIssuer(_))),
                "{bad}"
            );
        }
    }
}
