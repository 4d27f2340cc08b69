//! Which URLs the metadata-only proxy fetches, and which responses it accepts. Pure functions, no I/O.
//!
//! A URL is a metadata document when
//! 1. its path contains `/.well-known/<name>` for a known `<name>` (the kind follows from the name), or
//! 2. an already accepted document referenced it from a field that names a metadata document (`jwks_uri`, an
//!    issuer configuration's `vct`, type metadata's `extends`), or
//! 3. it has no query and its response is SD-JWT VC type metadata for exactly this URL (a JSON object whose `vct`
//!    equals the URL): how the web client resolves a credential's `vct` that no fetched document named.
//!
//! Every other URL, and every response that is not JSON or a compact JWT, is refused. docs/web-client.md states
//! the same rule for operators.

use serde_json::Value;
use url::Url;

/// The kind of a metadata document; the label is the metric's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// OpenID4VCI credential issuer metadata.
    CredentialIssuer,
    /// RFC 8414 authorization server metadata or an OpenID provider configuration.
    AuthorizationServer,
    /// JWT VC issuer metadata (SD-JWT VC issuer keys).
    JwtVcIssuer,
    /// SD-JWT VC type metadata (and what it `extends`).
    TypeMetadata,
    /// A JSON Web Key Set.
    Jwks,
}

impl DocKind {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            DocKind::CredentialIssuer => "credential_issuer",
            DocKind::AuthorizationServer => "authorization_server",
            DocKind::JwtVcIssuer => "jwt_vc_issuer",
            DocKind::TypeMetadata => "type_metadata",
            DocKind::Jwks => "jwks",
        }
    }
}

/// How a requested URL was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recognised {
    /// By its well-known path or a reference: fetch, accept any JSON/JWT document.
    Known(DocKind),
    /// Only a candidate `vct` URL: fetch, accept only type metadata that names this URL.
    VctCandidate,
}

/// The URL to fetch (fragment removed) or `None` when it can never be a metadata document.
pub fn normalise(input: &str) -> Option<Url> {
    let mut url = Url::parse(input.trim()).ok()?;
    if !matches!(url.scheme(), "https" | "http") || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    url.host_str()?;
    url.set_fragment(None);
    Some(url)
}

/// The kind a well-known path names (rule 1); `None` when the path has no known `/.well-known/<name>`.
pub fn well_known_kind(url: &Url) -> Option<DocKind> {
    if url.query().is_some() {
        return None;
    }
    let mut segments = url.path_segments()?;
    while let Some(segment) = segments.next() {
        if segment != ".well-known" {
            continue;
        }
        return match segments.next()? {
            "openid-credential-issuer" => Some(DocKind::CredentialIssuer),
            "oauth-authorization-server" | "openid-configuration" => Some(DocKind::AuthorizationServer),
            "jwt-vc-issuer" => Some(DocKind::JwtVcIssuer),
            // `/.well-known/vct/<path>`: the well-known location of type metadata; a name alone is not one.
            "vct" => segments.next().filter(|s| !s.is_empty()).map(|_| DocKind::TypeMetadata),
            "jwks.json" | "jwks" => Some(DocKind::Jwks),
            _ => None,
        };
    }
    None
}

/// URLs an accepted document of `kind` names as metadata documents (rule 2), with their kinds.
pub fn references(kind: DocKind, doc: &Value) -> Vec<(Url, DocKind)> {
    let mut out = Vec::new();
    let mut push = |v: Option<&Value>, k: DocKind| {
        if let Some(u) = v.and_then(Value::as_str).and_then(normalise) {
            out.push((u, k));
        }
    };
    match kind {
        DocKind::CredentialIssuer => {
            push(doc.get("jwks_uri"), DocKind::Jwks);
            if let Some(configs) = doc
                .get("credential_configurations_supported")
                .and_then(Value::as_object)
            {
                for c in configs.values() {
                    push(c.get("vct"), DocKind::TypeMetadata);
                }
            }
        }
        DocKind::AuthorizationServer | DocKind::JwtVcIssuer => push(doc.get("jwks_uri"), DocKind::Jwks),
        DocKind::TypeMetadata => push(doc.get("extends"), DocKind::TypeMetadata),
        DocKind::Jwks => {}
    }
    out
}

/// The accepted body of a response, by its media type: JSON (parsed) or a compact JWT (as text).
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    Jwt(String),
}

/// Checks a 2xx response body against its `Content-Type`: JSON types must parse, JWT types must be a compact JWS
/// (three base64url parts). `None` refuses it.
pub fn accept_body(content_type: &str, body: &[u8]) -> Option<Body> {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (top, sub) = essence.split_once('/')?;
    if top != "application" {
        return None;
    }
    if sub == "json" || sub.ends_with("+json") {
        return serde_json::from_slice(body).ok().map(Body::Json);
    }
    if sub == "jwt" || sub.ends_with("+jwt") {
        let text = std::str::from_utf8(body).ok()?.trim();
        let parts: Vec<&str> = text.split('.').collect();
        let b64u = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        return (parts.len() == 3 && parts.iter().all(b64u)).then(|| Body::Jwt(text.to_string()));
    }
    None
}

/// Rule 3's precondition: a URL that could be a `vct` (no query, a path below the root).
pub fn may_be_vct(url: &Url) -> bool {
    url.query().is_none() && url.path() != "/" && !url.path().is_empty()
}

/// Rule 3: the body is type metadata for `url` (its `vct` equals the URL, fragment-free).
pub fn is_type_metadata_for(url: &Url, body: &Body) -> bool {
    let Body::Json(doc) = body else { return false };
    doc.get("vct")
        .and_then(Value::as_str)
        .and_then(normalise)
        .is_some_and(|vct| &vct == url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(u: &str) -> Option<DocKind> {
        well_known_kind(&normalise(u).unwrap())
    }

    #[test]
    fn well_known_paths_are_recognised_wherever_they_sit() {
        use DocKind::*;
        for (u, k) in [
            (
                "https://i.example/.well-known/openid-credential-issuer",
                CredentialIssuer,
            ),
            (
                "https://i.example/.well-known/openid-credential-issuer/tenant/a",
                CredentialIssuer,
            ),
            (
                "https://i.example/tenant/a/.well-known/openid-credential-issuer",
                CredentialIssuer,
            ),
            (
                "https://as.example/.well-known/oauth-authorization-server",
                AuthorizationServer,
            ),
            (
                "https://as.example/realm/.well-known/openid-configuration",
                AuthorizationServer,
            ),
            ("https://i.example/.well-known/jwt-vc-issuer/x", JwtVcIssuer),
            ("https://i.example/.well-known/vct/pid/1", TypeMetadata),
            ("https://i.example/.well-known/jwks.json", Jwks),
            (
                "https://i.example/.well-known/openid-credential-issuer#frag",
                CredentialIssuer,
            ),
        ] {
            assert_eq!(kind(u), Some(k), "{u}");
        }
        for u in [
            "https://i.example/",
            "https://i.example/api/users",
            "https://i.example/.well-known/security.txt",
            "https://i.example/.well-known/vct",
            "https://i.example/.well-known/openid-credential-issuer?x=1",
            "https://i.example/well-known/openid-credential-issuer",
        ] {
            assert_eq!(kind(u), None, "{u}");
        }
        for u in [
            "ftp://i.example/.well-known/jwks",
            "https://u:p@i.example/.well-known/jwks",
            "not a url",
        ] {
            assert!(normalise(u).is_none(), "{u}");
        }
    }

    #[test]
    fn references_name_only_metadata_fields() {
        let issuer = json!({
            "credential_issuer": "https://i.example",
            "credential_endpoint": "https://i.example/credential",
            "credential_configurations_supported": {
                "pid": {"format": "dc+sd-jwt", "vct": "https://vct.example/pid"},
                "mdl": {"format": "mso_mdoc", "doctype": "org.iso.18013.5.1.mDL"},
                "urn": {"format": "dc+sd-jwt", "vct": "urn:eudi:pid:1"}
            }
        });
        let refs = references(DocKind::CredentialIssuer, &issuer);
        assert_eq!(
            refs,
            vec![(Url::parse("https://vct.example/pid").unwrap(), DocKind::TypeMetadata)]
        );
        let asm = json!({"issuer": "https://as.example", "jwks_uri": "https://as.example/keys", "token_endpoint": "https://as.example/t"});
        assert_eq!(
            references(DocKind::AuthorizationServer, &asm),
            vec![(Url::parse("https://as.example/keys").unwrap(), DocKind::Jwks)]
        );
        let tm = json!({"vct": "https://vct.example/pid", "extends": "https://vct.example/base#x"});
        assert_eq!(
            references(DocKind::TypeMetadata, &tm),
            vec![(Url::parse("https://vct.example/base").unwrap(), DocKind::TypeMetadata)]
        );
    }

    #[test]
    fn only_json_and_compact_jwt_bodies_pass() {
        assert_eq!(
            accept_body("application/json; charset=utf-8", b"{\"a\":1}"),
            Some(Body::Json(json!({"a":1})))
        );
        assert!(accept_body("application/vct+json", b"{}").is_some());
        assert!(accept_body("application/jwt", b"eyJh.eyJi.c2ln").is_some());
        assert!(accept_body("application/entity-statement+jwt", b"a.b.c\n").is_some());
        assert!(accept_body("application/json", b"{not json").is_none());
        assert!(accept_body("application/jwt", b"a.b").is_none());
        assert!(accept_body("application/jwt", b"a.b.c d").is_none());
        assert!(accept_body("text/html", b"<html>").is_none());
        assert!(accept_body("image/png", b"\x89PNG").is_none());
        assert!(accept_body("", b"{}").is_none());
    }

    #[test]
    fn a_vct_candidate_must_name_itself() {
        let url = normalise("https://vct.example/pid#integrity").unwrap();
        assert!(is_type_metadata_for(
            &url,
            &Body::Json(json!({"vct": "https://vct.example/pid"}))
        ));
        assert!(!is_type_metadata_for(
            &url,
            &Body::Json(json!({"vct": "https://vct.example/other"}))
        ));
        assert!(!is_type_metadata_for(&url, &Body::Json(json!({"name": "x"}))));
        assert!(!is_type_metadata_for(&url, &Body::Jwt("a.b.c".into())));
        assert!(may_be_vct(&url));
        for u in ["https://vct.example/", "https://vct.example/pid?x=1"] {
            assert!(!may_be_vct(&normalise(u).unwrap()), "{u}");
        }
    }
}
