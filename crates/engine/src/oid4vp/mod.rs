//! The OID4VP flow (docs/api-v2.md "OID4VP presentation", steps 1-5): resolve and verify the authorization request
//! ([`resolve`], parsing in [`request`]), evaluate the verifier's trust ([`trust`]), let the client choose and
//! consent (matching is the client's: [`matching`]), have it sign, post the response ([`submit`], built by
//! [`response`]; for a PE request with a [`pe`] submission). DCQL and PE parsing is `walletd_protocol::oid4vp`'s.

pub mod attestation;
pub mod did;
pub mod keys;
mod matching;
pub mod pe;
pub mod request;
mod resolve;
pub mod response;
mod submit;
mod trust;

use serde_json::{Value, json};
use walletd_protocol::oid4vp::dcql;
use walletd_protocol::oid4vp::pe::to_dcql;
use walletd_protocol::{ErrorCode, FlowComplete, FlowStart, SignAction, SignPresentationParams};

use self::request::ResponseMode;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;
use crate::session::complete;

const CODE: ErrorCode = ErrorCode::PresentationError;

fn fail(message: impl Into<String>) -> FlowFailure {
    FlowFailure::new(CODE, message)
}

/// Runs one presentation flow to its `flow_complete`.
pub(crate) async fn run(ctx: &mut FlowCtx, start: FlowStart) -> FlowResult<FlowComplete> {
    // 1. Request
    ctx.progress("parsing_request", json!({})).await;
    let req = resolve::resolve(ctx, &start).await?;
    if !req.transaction_data.is_empty() && !ctx.has_feature("transaction_data") {
        // The web client neither shows nor hashes transaction data: signing blind is not consent.
        return Err(fail(
            "the verifier sent transaction_data, which this client cannot show or sign",
        ));
    }
    ctx.progress(
        "request_parsed",
        json!({"client_id": req.client_id, "response_mode": mode_name(req.response_mode)}),
    )
    .await;

    // 2. Verifier trust
    let verifier = trust::evaluate(ctx, &req).await?;

    // 3. Selection and consent (matching happens on the client)
    let query_ids = match (&req.dcql_query, &req.presentation_definition) {
        (Some(q), _) => dcql::query_ids(q),
        (None, Some(pd)) => dcql::query_ids(&to_dcql(pd)),
        _ => Vec::new(),
    };
    let mut payload = json!({"verifier": verifier});
    // Clients with the `match_request` feature (never the web profile) match first; no match ends the flow.
    if !ctx.web_profile && ctx.has_feature("match_request") {
        match matching::request_match(ctx, &req, &query_ids).await? {
            Ok(matches) => payload["matches"] = Value::Array(matches),
            Err(f) => {
                let redirect = submit::post_error(ctx, &req, "access_denied").await;
                return Err(match redirect {
                    Some(r) => f.with_details(json!({"redirect_uri": r})),
                    None => f,
                });
            }
        }
    }
    match (&req.dcql_query, &req.presentation_definition) {
        (Some(q), _) => payload["dcql_query"] = q.clone(),
        (None, Some(pd)) if ctx.has_feature("presentation_definition") => {
            payload["presentation_definition"] = pd.clone()
        }
        (None, Some(pd)) => payload["dcql_query"] = to_dcql(pd),
        _ => {}
    }
    if !req.transaction_data.is_empty() {
        payload["transaction_data"] = json!(req.transaction_data);
    }
    ctx.progress("credential_selection", payload).await;
    let timeout = ctx.engine().config().user_action_timeout;
    let consent = match ctx.wait_action(&["consent"], timeout, CODE).await {
        Ok(a) => a,
        Err(f) if matches!(f.code, ErrorCode::PresentationError | ErrorCode::FlowTimeout) => {
            // Declined or timed out: the verifier learns it (best effort) and may send the user somewhere.
            let redirect = submit::post_error(ctx, &req, "access_denied").await;
            return Err(match redirect {
                Some(r) => f.with_details(json!({"redirect_uri": r})),
                None => f,
            });
        }
        Err(f) => return Err(f),
    };
    let selected = consent
        .payload
        .get("selected_credentials")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .cloned()
        .ok_or_else(|| fail("consent carries no selected_credentials"))?;
    for s in &selected {
        let qid = s.get("credential_query_id").and_then(Value::as_str).unwrap_or_default();
        if !query_ids.iter().any(|q| q == qid) {
            return Err(fail("consent names a credential query the verifier did not ask for"));
        }
        if s.get("credential_id").is_none() {
            return Err(fail("consent names no credential_id"));
        }
    }

    // 4. Signing (the holder's key never leaves the client)
    let mut params = SignPresentationParams {
        audience: req.client_id.clone(),
        nonce: req.nonce.clone(),
        credentials_to_include: selected.clone(),
        response_uri: req.response_uri.clone(),
        verifier_jwk_thumbprint: None,
        verifier_session_id: None,
        transaction_data: (!req.transaction_data.is_empty()).then(|| req.transaction_data.clone()),
        mdoc: None,
    };
    // mso_mdoc: the DeviceAuth signing request (handover / SessionTranscript inputs, crate::mdoc::handover).
    if crate::mdoc::handover::asks_for_mdoc(req.dcql_query.as_ref()) {
        let enc_key = match req.response_mode {
            ResponseMode::DirectPostJwt => response::encryption_key(&req.client_metadata),
            ResponseMode::DirectPost => None,
        };
        let m = crate::mdoc::handover::params(
            &req.client_id,
            &req.nonce,
            &req.response_uri,
            enc_key.as_ref(),
            req.dcql_query.as_ref(),
            &selected,
        )
        .ok_or_else(|| FlowFailure::new(ErrorCode::InternalError, "cannot build the mdoc handover"))?;
        params.verifier_jwk_thumbprint = m.jwk_thumbprint.clone();
        params.mdoc = Some(m);
    }
    let params = serde_json::to_value(&params)
        .map_err(|_| FlowFailure::new(ErrorCode::InternalError, "cannot encode the signing request"))?;
    let signed = ctx.sign(SignAction::SignPresentation, params).await?;
    let vp = signed
        .vp_token
        .ok_or_else(|| FlowFailure::new(ErrorCode::SignError, "the client returned no vp_token"))?;
    let per_query = response::normalize_vp_token(&vp, &query_ids)
        .map_err(|m| FlowFailure::new(ErrorCode::SignError, format!("the client's vp_token is unusable: {m}")))?;

    // 5. Response
    ctx.progress(
        "submitting_response",
        json!({"response_mode": mode_name(req.response_mode), "response_uri": req.response_uri}),
    )
    .await;
    let (vp_token, submission) = match &req.presentation_definition {
        Some(pd) => {
            let (t, s) = pe::submission(pd, &per_query);
            (t, Some(s))
        }
        None => (Value::Object(per_query), None),
    };
    let redirect_uri = submit::submit(ctx, &req, vp_token, submission).await?;
    let mut done = complete(&ctx.flow_id);
    done.redirect_uri = redirect_uri;
    Ok(done)
}

fn mode_name(m: ResponseMode) -> &'static str {
    match m {
        ResponseMode::DirectPost => "direct_post",
        ResponseMode::DirectPostJwt => "direct_post.jwt",
    }
}
