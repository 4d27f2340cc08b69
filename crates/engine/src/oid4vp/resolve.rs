//! Step 1, the request: from `request_uri` / `request_uri_ref` / inline parameters, fetched through the egress
//! guard, verified by its client_id prefix ([`super::request`]), and the verifier's authority completed (the
//! tenant's registration, a DID document from the PDP).

use serde_json::{Value, json};
use walletd_egress::{Method, REQUEST_OBJECT_MAX_BYTES};
use walletd_protocol::FlowStart;

use super::request::{self, AuthRequest, Authority, Source};
use super::{CODE, did, fail, keys};
use crate::failure::FlowResult;
use crate::flow::FlowCtx;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The request from `request_uri` / `request_uri_ref` / inline parameters, verified and checked.
pub(super) async fn resolve(ctx: &FlowCtx, start: &FlowStart) -> FlowResult<AuthRequest> {
    let source = match (&start.request_uri_ref, &start.request_uri) {
        (Some(r), _) if !r.trim().is_empty() => Source::Reference {
            uri: r.trim().to_string(),
            post: false,
            client_id: start.client_id.clone(),
        },
        (_, Some(u)) => request::parse_start(u, start.client_id.as_deref()).map_err(fail)?,
        _ => return Err(fail("flow_start needs request_uri or request_uri_ref")),
    };
    let authenticated = match source {
        Source::Params(mut params) => match params.remove("request") {
            Some(Value::String(jwt)) => {
                let cid = params.get("client_id").and_then(Value::as_str);
                request::verify_request_object(&jwt, cid, None, now()).map_err(fail)?
            }
            _ => request::authenticate_inline(params).map_err(fail)?,
        },
        Source::Reference { uri, post, client_id } => {
            let (text, wallet_nonce) = fetch_request_object(ctx, &uri, post).await?;
            request::verify_request_object(&text, client_id.as_deref(), wallet_nonce.as_deref(), now()).map_err(fail)?
        }
    };
    let mut req = request::validate(authenticated).map_err(fail)?;
    complete_authority(ctx, &mut req).await?;
    Ok(req)
}

/// The asynchronous part of authenticating the verifier: the tenant's registration of a pre-registered client,
/// the DID document of a DID client (from the PDP). Refusals are `PRESENTATION_ERROR`, before anything is posted.
async fn complete_authority(ctx: &FlowCtx, req: &mut AuthRequest) -> FlowResult<()> {
    match &req.authority {
        Authority::Registration => {
            let found = match ctx.engine().directory() {
                Some(d) => d.verifier(&ctx.user.tenant_id, &req.client_id).await,
                None => None,
            };
            let shown: String = req.client_id.chars().take(80).collect();
            let reg = found.ok_or_else(|| {
                fail(format!(
                    "the verifier \"{shown}\" is not registered with this wallet provider (pre-registered client_id)"
                ))
            })?;
            // The request is unsigned: what binds it to the registration is where the response goes.
            let registered = url::Url::parse(&reg.url).ok();
            let target = url::Url::parse(&req.response_uri).ok();
            let same_origin = matches!((&registered, &target), (Some(r), Some(t))
                if r.scheme() == t.scheme() && r.host_str() == t.host_str() && r.port_or_known_default() == t.port_or_known_default());
            if !same_origin {
                return Err(fail(
                    "the response_uri is not on the registered verifier's URL (pre-registered client_id)",
                ));
            }
            req.authority = Authority::Registered(reg);
        }
        Authority::Did {
            did,
            kid,
            key: None,
            jwt,
        } => {
            let doc = resolve_did(ctx, did).await?;
            let key = did::key_from_document(&doc, did, kid).map_err(fail)?;
            keys::verify_with_jwk(jwt, &key, "the request object (DID key)").map_err(fail)?;
            req.authority = Authority::Did {
                did: did.clone(),
                kid: kid.clone(),
                key: Some(key),
                jwt: jwt.clone(),
            };
        }
        _ => {}
    }
    Ok(())
}

/// A DID document through the tenant's PDP (AuthZEN resolution request; the document is the answer's
/// `context.trust_metadata`). Without a PDP only `did:jwk` is supported.
async fn resolve_did(ctx: &FlowCtx, did: &str) -> FlowResult<Value> {
    let method: String = did
        .split(':')
        .take(2)
        .collect::<Vec<_>>()
        .join(":")
        .chars()
        .take(40)
        .collect();
    let no_resolver = || {
        fail(format!(
            "{method} verifiers need a trust service (PDP) to resolve the DID"
        ))
    };
    let trust = ctx.engine().trust().cloned().ok_or_else(no_resolver)?;
    let tenant = ctx.engine().tenant_trust(&ctx.user.tenant_id).await;
    let pdp = trust.pdp_for(tenant.pdp_url.as_ref()).ok_or_else(no_resolver)?;
    let answer = tokio::time::timeout(
        ctx.engine().config().trust_timeout,
        trust.resolve(Some(&pdp), did, None, None),
    )
    .await
    .map_err(|_| fail("the DID resolution did not answer in time"))?
    .map_err(|e| fail(format!("the DID could not be resolved ({})", e.code())))?;
    if answer.get("decision").and_then(Value::as_bool) != Some(true) {
        return Err(fail("the trust service could not resolve the verifier's DID"));
    }
    answer
        .get("context")
        .and_then(|c| c.get("trust_metadata"))
        .filter(|d| d.is_object())
        .cloned()
        .ok_or_else(|| fail("the DID resolution returned no DID document"))
}

/// GETs the request object, or POSTs the wallet's metadata and a fresh `wallet_nonce` (returned for the check).
async fn fetch_request_object(ctx: &FlowCtx, uri: &str, post: bool) -> FlowResult<(String, Option<String>)> {
    let egress = ctx.engine().egress();
    let accept = "application/oauth-authz-req+jwt, application/jwt, application/json";
    let (req, nonce) = if post {
        let nonce = walletd_jose::b64(uuid::Uuid::new_v4().as_bytes());
        let metadata = json!({
            "vp_formats_supported": {"dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}},
            "client_id_prefixes_supported": ["x509_san_dns", "x509_hash", "redirect_uri", "decentralized_identifier",
                "verifier_attestation", "pre-registered"],
            "request_object_signing_alg_values_supported": ["ES256", "ES384", "RS256", "PS256"],
            "response_modes_supported": ["direct_post", "direct_post.jwt"],
        })
        .to_string();
        let r = egress
            .request(Method::POST, uri)
            .header("accept", accept)
            .form(&[("wallet_metadata", metadata.as_str()), ("wallet_nonce", nonce.as_str())]);
        (r, Some(nonce))
    } else {
        (egress.request(Method::GET, uri).header("accept", accept), None)
    };
    let resp = ctx
        .outbound(CODE, "request object", req.max_bytes(REQUEST_OBJECT_MAX_BYTES).send())
        .await?;
    if !resp.status.is_success() {
        return Err(fail(format!("request object: HTTP {}", resp.status.as_u16())));
    }
    Ok((resp.text(), nonce))
}
