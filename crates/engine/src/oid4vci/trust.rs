//! Step 3, issuer trust, through the engine's one trust step ([`crate::trust_step`]). Key material: the signed
//! metadata's x5c chain, else the JWKS that verified `kid`-signed metadata, else the JWKS the metadata carries
//! (`jwks`, or fetched from `jwks_uri`), else none: the PDP resolves the issuer identifier itself
//! (docs/oid4vci.md, "Issuer key material for trust").

use serde_json::{Map, Value, json};
use walletd_protocol::ErrorCode;
use walletd_protocol::oid4vci::CredentialIssuerMetadata;
use walletd_trust::Role;

use super::metadata;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;
use crate::trust_step::{Decision, Judge, TrustKey, TrustQuestion};

/// Ends the flow with `UNTRUSTED_ISSUER` unless the issuer is trusted (or nobody is there to judge it).
pub(super) async fn evaluate(ctx: &mut FlowCtx, issuer: &str, meta: &CredentialIssuerMetadata) -> FlowResult<()> {
    let untrusted = |m: String| FlowFailure::new(ErrorCode::UntrustedIssuer, m);
    let Some(judge) = Judge::of(ctx).await else {
        return Ok(());
    };
    let key = if !meta.x5c.is_empty() {
        Some(TrustKey::X5c(meta.x5c.clone()))
    } else {
        trust_jwks(ctx, meta).await.map(TrustKey::Jwks)
    };
    let mut client_members = Map::new();
    client_members.insert("requires_resolution".into(), json!(key.is_none()));
    client_members.insert("context".into(), json!({"metadata_signed": meta.signed}));
    let question = TrustQuestion {
        subject: issuer.to_string(),
        role: Role::CredentialIssuer,
        subject_type: "credential_issuer",
        key,
        client_members,
        pdp_context: Vec::new(),
    };
    let decision = judge
        .decide(ctx, &question, "evaluating_trust", ErrorCode::UntrustedIssuer)
        .await?;
    let trusted = decision.trusted();
    match decision {
        Decision::Client(_) if trusted => Ok(()),
        Decision::Client(a) => {
            let reason: String = a
                .payload_str("reason")
                .unwrap_or("not trusted")
                .chars()
                .take(200)
                .collect();
            Err(untrusted(format!("the issuer is not trusted: {reason}")))
        }
        Decision::PdpTimedOut => Err(untrusted("issuer trust could not be evaluated in time".into())),
        Decision::Pdp(verdict) => {
            ctx.progress(
                "trust_evaluated",
                json!({"trusted": trusted, "framework": verdict.framework, "reason": verdict.reason}),
            )
            .await;
            if trusted {
                return Ok(());
            }
            Err(untrusted(format!(
                "the issuer is not trusted: {}",
                verdict.reason.as_deref().unwrap_or("no reason given")
            )))
        }
    }
}

/// The JWKS for the trust evaluation when there is no x5c chain: the one that verified `kid`-signed metadata, else
/// the metadata's `jwks`, else the one at its `jwks_uri` (fetched only here, when a trust evaluation needs it).
async fn trust_jwks(ctx: &FlowCtx, meta: &CredentialIssuerMetadata) -> Option<Value> {
    if let Some(j) = &meta.signing_jwks {
        return Some(j.clone());
    }
    match meta.json.get("jwks").filter(|j| j.get("keys").is_some()) {
        Some(j) => Some(j.clone()),
        None => metadata::fetch_jwks_uri(ctx, meta).await,
    }
}
