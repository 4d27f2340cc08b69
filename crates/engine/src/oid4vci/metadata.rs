//! Issuer and authorization server metadata discovery (RFC 8615 path insertion), through the egress guard.

use serde_json::Value;
use url::Url;
use walletd_egress::{METADATA_MAX_BYTES, Method};
use walletd_protocol::ErrorCode;

use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;
use crate::jose;

/// `https://host/.well-known/{name}{path}`.
pub fn well_known(issuer: &str, name: &str) -> Option<String> {
    let url = Url::parse(issuer).ok()?;
    let host = url.host_str()?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    Some(format!("{}://{host}{port}/.well-known/{name}{path}", url.scheme()))
}

/// Issuer metadata and whether it was signed.
pub struct IssuerMetadata {
    /// The metadata object (from the JWT's claims when signed).
    pub json: Value,
    /// Whether it came as a signed JWT.
    pub signed: bool,
}

impl IssuerMetadata {
    /// A string member.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }

    /// One credential configuration.
    pub fn configuration(&self, id: &str) -> Option<&Value> {
        self.json.get("credential_configurations_supported")?.get(id)
    }
}

/// Fetches `/.well-known/openid-credential-issuer` and checks its `credential_issuer`.
pub async fn fetch_issuer(ctx: &FlowCtx, issuer: &str) -> FlowResult<IssuerMetadata> {
    let code = ErrorCode::MetadataFetchError;
    let url = well_known(issuer, "openid-credential-issuer")
        .ok_or_else(|| FlowFailure::new(ErrorCode::OfferParseError, "credential_issuer is not a URL"))?;
    let req = ctx
        .engine()
        .egress()
        .request(Method::GET, url)
        .header("accept", "application/json, application/jwt")
        .max_bytes(METADATA_MAX_BYTES);
    let resp = ctx.outbound(code, "issuer metadata", req.send()).await?;
    if !resp.status.is_success() {
        return Err(FlowFailure::new(
            code,
            format!("issuer metadata: HTTP {}", resp.status.as_u16()),
        ));
    }
    let ctype = resp
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (json, signed) = if ctype.starts_with("application/jwt") {
        // Signed metadata: claims are taken after checking the type; the x5c chain is not validated yet.
        let text = resp.text();
        let jwt = jose::decode_jwt(text.trim())
            .ok_or_else(|| FlowFailure::new(code, "signed issuer metadata is not a JWT"))?;
        if jwt.header.get("typ").and_then(Value::as_str) != Some("openidvci-issuer-metadata+jwt") {
            return Err(FlowFailure::new(code, "signed issuer metadata has the wrong typ"));
        }
        (jwt.claims, true)
    } else {
        let v: Value = resp
            .json()
            .map_err(|_| FlowFailure::new(code, "issuer metadata is not valid JSON"))?;
        (v, false)
    };
    if !json.is_object() {
        return Err(FlowFailure::new(code, "issuer metadata is not an object"));
    }
    let meta = IssuerMetadata { json, signed };
    if meta.str("credential_issuer").map(|s| s.trim_end_matches('/')) != Some(issuer.trim_end_matches('/')) {
        return Err(FlowFailure::new(
            code,
            "issuer metadata names another credential_issuer",
        ));
    }
    if meta.str("credential_endpoint").is_none() {
        return Err(FlowFailure::new(code, "issuer metadata has no credential_endpoint"));
    }
    Ok(meta)
}

/// Authorization server metadata: RFC 8414 first, then OpenID Connect discovery.
pub async fn fetch_as(ctx: &FlowCtx, as_issuer: &str) -> FlowResult<Value> {
    let code = ErrorCode::MetadataFetchError;
    let mut candidates = Vec::new();
    if let Some(u) = well_known(as_issuer, "oauth-authorization-server") {
        candidates.push(u);
    }
    candidates.push(format!(
        "{}/.well-known/openid-configuration",
        as_issuer.trim_end_matches('/')
    ));
    let mut last = FlowFailure::new(code, "authorization server metadata not found");
    for url in candidates {
        let resp = ctx
            .outbound(
                code,
                "authorization server metadata",
                ctx.engine().egress().get(&url, METADATA_MAX_BYTES),
            )
            .await;
        match resp {
            Ok(r) if r.status.is_success() => match r.json::<Value>() {
                Ok(v) if v.get("token_endpoint").and_then(Value::as_str).is_some() => return Ok(v),
                _ => last = FlowFailure::new(code, "authorization server metadata is invalid"),
            },
            Ok(r) => {
                last = FlowFailure::new(
                    code,
                    format!("authorization server metadata: HTTP {}", r.status.as_u16()),
                )
            }
            Err(e) if e.code == ErrorCode::EgressBlocked => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::well_known;

    #[test]
    fn path_insertion() {
        assert_eq!(
            well_known("https://i.example/tenant/a", "openid-credential-issuer").unwrap(),
            "https://i.example/.well-known/openid-credential-issuer/tenant/a"
        );
        assert_eq!(
            well_known("http://127.0.0.1:8080/", "oauth-authorization-server").unwrap(),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
        );
    }
}
