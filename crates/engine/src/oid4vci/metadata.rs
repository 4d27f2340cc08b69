//! Issuer and authorization server metadata discovery (RFC 8615 path insertion), through the egress guard.

use serde_json::Value;
use walletd_egress::{METADATA_MAX_BYTES, Method};
use walletd_jose as jose;
use walletd_jose::jwk::parse_jwks;
use walletd_jose::signed_metadata::{self, verify_signed_metadata};
use walletd_protocol::ErrorCode;
use walletd_protocol::oid4vci::{CREDENTIAL_ISSUER_WELL_KNOWN, CredentialIssuerMetadata, well_known_url};

use crate::Engine;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::{FlowCtx, outbound};

/// Fetches `/.well-known/openid-credential-issuer` and checks its `credential_issuer`.
pub async fn fetch_issuer(ctx: &FlowCtx, issuer: &str) -> FlowResult<CredentialIssuerMetadata> {
    let code = ErrorCode::MetadataFetchError;
    let url = well_known_url(issuer, CREDENTIAL_ISSUER_WELL_KNOWN)
        .ok_or_else(|| FlowFailure::new(ErrorCode::OfferParseError, "credential_issuer is not a URL"))?;
    let req = ctx
        .engine()
        .egress()
        .request(Method::GET, url.as_str())
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
    let (json, signed, x5c) = if ctype.starts_with("application/jwt") {
        // Signed metadata: the signature must verify with the x5c leaf; whether that certificate belongs to a
        // trusted issuer is the PDP's question (the chain goes to the trust evaluation).
        let text = resp.text();
        let jwt = text.trim();
        match jose::decode_jwt(jwt) {
            // Signed by a key named only by `kid`: verified with the issuer's JWKS from the `jwks_uri` it names.
            Some(d) if d.header.get("x5c").is_none() && d.header.get("kid").is_some() => {
                let claims = verify_signed_metadata_by_kid(ctx, &d)
                    .await
                    .map_err(|m| FlowFailure::new(code, m))?;
                (claims.0, true, claims.1)
            }
            _ => {
                let (claims, chain) = verify_signed_metadata(jwt).map_err(|m| FlowFailure::new(code, m))?;
                (claims, true, (chain, None))
            }
        }
    } else {
        let v: Value = resp
            .json()
            .map_err(|_| FlowFailure::new(code, "issuer metadata is not valid JSON"))?;
        (v, false, (Vec::new(), None))
    };
    if !json.is_object() {
        return Err(FlowFailure::new(code, "issuer metadata is not an object"));
    }
    let (x5c, signing_jwks) = x5c;
    let meta = CredentialIssuerMetadata {
        json,
        signed,
        x5c,
        signing_jwks,
    };
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

/// Signed metadata whose header names its key by `kid` (no x5c): the JWKS comes from the `jwks_uri` the metadata
/// names (through the egress guard, `engine.jwks_max_bytes`); the key with that `kid` must verify the signature
/// (ES256 with a P-256 key, RS256 with an RSA key). Whether those keys belong to the issuer is the trust
/// evaluation's question: the JWKS becomes its key material.
async fn verify_signed_metadata_by_kid(
    ctx: &FlowCtx,
    d: &jose::DecodedJwt,
) -> Result<(Value, (Vec<Vec<u8>>, Option<Value>)), String> {
    signed_metadata::check_typ(d)?;
    let uri = d
        .claims
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("signed issuer metadata names its key by kid but has no jwks_uri")?;
    let max = ctx.engine().config().jwks_max_bytes;
    let resp = ctx
        .outbound(
            ErrorCode::MetadataFetchError,
            "issuer JWKS",
            ctx.engine().egress().get(uri, max),
        )
        .await
        .map_err(|f| f.message)?;
    if !resp.status.is_success() {
        return Err(format!("issuer JWKS: HTTP {}", resp.status.as_u16()));
    }
    let jwks = parse_jwks(&resp.body).ok_or("the issuer's jwks_uri does not serve a JWKS")?;
    let claims = signed_metadata::verify_signed_metadata_with_jwks(d, &jwks)?;
    Ok((claims, (Vec::new(), Some(jwks.to_value()))))
}

/// The issuer's JWKS from the metadata's `jwks_uri` (GET through the egress guard, at most `engine.jwks_max_bytes`,
/// within `engine.outbound_timeout`), for the trust evaluation's key material. Any failure (no `jwks_uri`, blocked,
/// too large, not a JWKS) answers `None`: the trust request then asks the PDP to resolve the issuer itself.
pub async fn fetch_jwks_uri(ctx: &FlowCtx, meta: &CredentialIssuerMetadata) -> Option<Value> {
    let uri = meta.str("jwks_uri")?;
    let max = ctx.engine().config().jwks_max_bytes;
    let resp = ctx
        .outbound(
            ErrorCode::UntrustedIssuer,
            "issuer JWKS",
            ctx.engine().egress().get(uri, max),
        )
        .await;
    let resp = match resp {
        Ok(r) if r.status.is_success() => r,
        Ok(r) => {
            tracing::debug!(flow_id = %ctx.flow_id, status = r.status.as_u16(), "issuer jwks_uri not usable");
            return None;
        }
        Err(e) => {
            tracing::debug!(flow_id = %ctx.flow_id, error = %e.message, "issuer jwks_uri not fetched");
            return None;
        }
    };
    parse_jwks(&resp.body).map(|j| j.to_value())
}

/// Authorization server metadata: RFC 8414 first, then OpenID Connect discovery. `first`: the answer of the first
/// of them when the flow already has it ([`fetch_own_as`]); it is not asked again.
pub async fn fetch_as(engine: &Engine, as_issuer: &str, mut first: Option<FlowResult<Value>>) -> FlowResult<Value> {
    let mut last = FlowFailure::new(ErrorCode::MetadataFetchError, "authorization server metadata not found");
    for url in as_metadata_urls(as_issuer) {
        let answer = match first.take() {
            Some(answer) => answer,
            None => fetch_as_at(engine, &url).await,
        };
        match answer {
            Ok(v) => return Ok(v),
            Err(e) if e.code == ErrorCode::EgressBlocked => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The answer of the first place [`fetch_as`] looks at for `issuer` as its own authorization server (RFC 8414),
/// the common case: a flow asks for it beside the issuer metadata, before it knows whether the issuer names
/// another server, and hands it to [`fetch_as`] only when it names none (see `super::run`).
pub async fn fetch_own_as(engine: &Engine, issuer: &str) -> FlowResult<Value> {
    let url = as_metadata_urls(issuer).swap_remove(0);
    fetch_as_at(engine, &url).await
}

/// Where an authorization server's metadata may be, in the order to try: RFC 8414, then OpenID Connect discovery.
fn as_metadata_urls(as_issuer: &str) -> Vec<String> {
    let mut urls = Vec::with_capacity(2);
    if let Some(u) = well_known_url(as_issuer, "oauth-authorization-server") {
        urls.push(u.to_string());
    }
    urls.push(format!(
        "{}/.well-known/openid-configuration",
        as_issuer.trim_end_matches('/')
    ));
    urls
}

/// `GET url`: authorization server metadata with a `token_endpoint`.
async fn fetch_as_at(engine: &Engine, url: &str) -> FlowResult<Value> {
    let code = ErrorCode::MetadataFetchError;
    let get = engine.egress().get(url, METADATA_MAX_BYTES);
    let r = outbound(engine, code, "authorization server metadata", get).await?;
    if !r.status.is_success() {
        return Err(FlowFailure::new(
            code,
            format!("authorization server metadata: HTTP {}", r.status.as_u16()),
        ));
    }
    match r.json::<Value>() {
        Ok(v) if v.get("token_endpoint").and_then(Value::as_str).is_some() => Ok(v),
        _ => Err(FlowFailure::new(code, "authorization server metadata is invalid")),
    }
}
