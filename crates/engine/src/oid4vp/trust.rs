//! Step 2, verifier trust, through the engine's one trust step ([`crate::trust_step`]): the verifier as the client
//! shows it (name, logo, domain, whether trusted). A verifier the tenant registered is trusted by that registration;
//! for the others the key judged is the verifier's own (x5c, DID key) or, for an attested verifier, its attestation
//! issuer's. Untrusted verifiers end the flow with `UNTRUSTED_VERIFIER`.

use serde_json::{Map, Value, json};
use walletd_protocol::ErrorCode;
use walletd_trust::Role;

use super::attestation::IssuerKey;
use super::request::{AuthRequest, Authority};
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;
use crate::trust_step::{Decision, Judge, TrustKey, TrustQuestion};

/// The role (and client-mediated `subject_type`) of a verifier attestation's issuer.
const ATTESTATION_ISSUER_ROLE: &str = "verifier-attestation-issuer";

/// The `verifier` object of `credential_selection`, once the verifier is trusted.
pub(super) async fn evaluate(ctx: &mut FlowCtx, req: &AuthRequest) -> FlowResult<Value> {
    let host = |u: &str| {
        url::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default()
    };
    let domain = host(&req.response_uri);
    let meta = &req.client_metadata;
    let name = meta
        .get("client_name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| domain.clone());
    let mut verifier = json!({
        "name": name, "trusted": false, "trusted_status": "unknown", "domain": domain,
        "client_id_scheme": req.prefix.scheme_name(), "client_id": req.client_id,
    });
    if let Some(logo) = meta.get("logo_uri").and_then(Value::as_str) {
        verifier["logo"] = json!(logo);
    }
    if let Authority::Registered(reg) = &req.authority {
        // The tenant's operator registered this verifier: that registration is the trust decision, and its name
        // (not the request's client_metadata) is what the user sees.
        ctx.progress("evaluating_verifier_trust", json!({"client_id": req.client_id}))
            .await;
        verifier["name"] = json!(reg.name);
        verifier["domain"] = json!(host(&reg.url));
        verifier["trusted"] = json!(true);
        verifier["trusted_status"] = json!("trusted");
        verifier["framework"] = json!("pre-registered");
        return Ok(verifier);
    }
    let untrusted = |reason: &str| {
        let reason: String = reason.chars().take(200).collect();
        FlowFailure::new(
            ErrorCode::UntrustedVerifier,
            format!("The verifier \"{name}\" is not trusted: {reason}"),
        )
    };
    let attested = matches!(req.authority, Authority::Attestation(_));
    let judge = Judge::of(ctx).await;
    if !matches!(judge, Some(Judge::Client)) {
        ctx.progress("evaluating_verifier_trust", json!({"client_id": req.client_id}))
            .await;
    }
    let Some(judge) = judge else {
        // OpenID4VP 1.0: a wallet that cannot establish trust in the attestation's issuer must refuse the request.
        if attested {
            return Err(untrusted("no trust service is configured to evaluate who attested it"));
        }
        return Ok(verifier);
    };
    let decision = judge
        .decide(
            ctx,
            &question(req),
            "evaluating_verifier_trust",
            ErrorCode::UntrustedVerifier,
        )
        .await?;
    let trusted = decision.trusted();
    match decision {
        Decision::Client(a) => {
            if !trusted {
                return Err(untrusted(
                    a.payload_str("reason")
                        .unwrap_or("the client's trust evaluation said no"),
                ));
            }
            for k in ["framework", "logo", "name"] {
                if let Some(v) = a.payload.get(k).filter(|v| v.is_string()) {
                    verifier[k] = v.clone();
                }
            }
        }
        Decision::PdpTimedOut => return Err(untrusted("the trust evaluation did not answer in time")),
        Decision::Pdp(verdict) => {
            if !trusted {
                return Err(untrusted(
                    verdict.reason.as_deref().unwrap_or("the trust service said no"),
                ));
            }
            if let Some(f) = &verdict.framework {
                verifier["framework"] = json!(f);
            }
        }
    }
    verifier["trusted"] = json!(true);
    verifier["trusted_status"] = json!("trusted");
    Ok(verifier)
}

/// Whose key is judged: the verifier's own (x5c, DID key), or, for an attested verifier, its attestation issuer's.
fn question(req: &AuthRequest) -> TrustQuestion {
    let (subject, role, key) = match &req.authority {
        Authority::Attestation(att) => (
            att.iss.clone(),
            Role::Other(ATTESTATION_ISSUER_ROLE.into()),
            Some(match &att.issuer_key {
                IssuerKey::X5c(chain) => TrustKey::X5c(chain.clone()),
                IssuerKey::Jwk(j) => TrustKey::Jwk(j.clone()),
            }),
        ),
        Authority::Did { key: Some(k), .. } => (
            req.client_id.clone(),
            Role::CredentialVerifier,
            Some(TrustKey::Jwk(k.clone())),
        ),
        _ if !req.x5c.is_empty() => (
            req.client_id.clone(),
            Role::CredentialVerifier,
            Some(TrustKey::X5c(req.x5c.clone())),
        ),
        _ => (req.client_id.clone(), Role::CredentialVerifier, None),
    };
    let attested = matches!(req.authority, Authority::Attestation(_));
    let mut context = json!({"client_id_scheme": req.prefix.scheme_name(), "response_uri": req.response_uri});
    // The PDP judges the verifier and where responses go, not the transaction: it gets the response_uri's origin.
    // The full URI usually names the verifier's session, which the PDP has no need to see, and a per-session value
    // in the request made every presentation miss the verdict cache.
    let response_origin = url::Url::parse(&req.response_uri)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    let mut pdp_context = vec![("response_origin", json!(response_origin))];
    if attested {
        // Which verifier the attestation issuer vouches for.
        context["client_id"] = json!(req.client_id);
        pdp_context.push(("client_id", json!(req.client_id)));
    }
    let mut client_members = Map::new();
    client_members.insert("context".into(), context);
    TrustQuestion {
        subject,
        role,
        subject_type: if attested {
            ATTESTATION_ISSUER_ROLE
        } else {
            "credential_verifier"
        },
        key,
        client_members,
        pdp_context,
    }
}
