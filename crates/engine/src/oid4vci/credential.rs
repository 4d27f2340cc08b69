//! Nonce, proofs (via `sign_request generate_proof`), the credential request with `invalid_nonce` retry, and
//! deferred issuance.

use serde_json::{Value, json};
use walletd_egress::{CREDENTIAL_MAX_BYTES, METADATA_MAX_BYTES, Method};
use walletd_jose as jose;
use walletd_jose::jwe::RecipientKey;
use walletd_protocol::oid4vci::CredentialIssuerMetadata;
use walletd_protocol::{ErrorCode, SignAction};

use super::dpop::Dpop;
use super::encryption;
use super::token::Tokens;
use crate::Engine;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::{FlowCtx, outbound};

/// What the credential endpoint answered.
pub enum Issued {
    /// Credentials (strings or objects) plus the notification id.
    Now(Vec<Value>, Option<String>),
    /// Deferred: transaction id and polling interval (seconds).
    Deferred(String, u64),
}

/// A fresh `c_nonce` from the nonce endpoint (POST), else the token response's.
pub async fn nonce(ctx: &FlowCtx, meta: &CredentialIssuerMetadata, tokens: &Tokens) -> FlowResult<Option<String>> {
    match meta.str("nonce_endpoint") {
        Some(endpoint) => fetch_nonce(ctx.engine(), endpoint).await,
        None => Ok(tokens.c_nonce.clone()),
    }
}

/// `POST endpoint` (the issuer's nonce endpoint): its `c_nonce`. Needs no token, so a flow may run it while its
/// token request is under way (see `super::run`).
pub async fn fetch_nonce(engine: &Engine, endpoint: &str) -> FlowResult<Option<String>> {
    let code = ErrorCode::CredentialError;
    let req = engine
        .egress()
        .request(Method::POST, endpoint)
        .max_bytes(METADATA_MAX_BYTES);
    let resp = outbound(engine, code, "nonce request", req.send()).await?;
    if !resp.status.is_success() {
        return Err(FlowFailure::new(
            code,
            format!("the nonce endpoint answered HTTP {}", resp.status.as_u16()),
        ));
    }
    let v: Value = resp
        .json()
        .map_err(|_| FlowFailure::new(code, "the nonce response is not JSON"))?;
    Ok(v.get("c_nonce").and_then(Value::as_str).map(str::to_string))
}

/// The `proof_types_supported` to send, or `None` when the configuration needs no proof.
pub fn proof_types(config: &Value) -> Option<Value> {
    if let Some(p) = config
        .get("proof_types_supported")
        .filter(|p| p.as_object().is_some_and(|o| !o.is_empty()))
    {
        return Some(p.clone());
    }
    // Old metadata without proof types but with key binding: the web client signs ES256 JWT proofs.
    config
        .get("cryptographic_binding_methods_supported")
        .filter(|b| b.as_array().is_some_and(|a| !a.is_empty()))
        .map(|_| json!({"jwt": {"proof_signing_alg_values_supported": ["ES256"]}}))
}

/// Asks the client for `count` proofs and checks their shape (not their keys: that is the issuer's job).
pub async fn request_proofs(
    ctx: &mut FlowCtx,
    issuer: &str,
    nonce: Option<&str>,
    client_id: Option<&str>,
    proof_types: &Value,
    count: usize,
    reissuance_kid: Option<&str>,
) -> FlowResult<Value> {
    let mut params = json!({"audience": issuer, "proof_types_supported": proof_types, "count": count});
    if let Some(k) = reissuance_kid {
        // Renewal: the client re-proves possession of the key the old credential is bound to.
        params["reissuance_kid"] = json!(k);
    }
    if let Some(n) = nonce.filter(|n| !n.is_empty()) {
        params["nonce"] = json!(n);
    }
    if let Some(c) = client_id {
        params["issuer"] = json!(c);
    }
    let resp = ctx.sign(SignAction::GenerateProof, params).await?;
    let bad = |m: &str| FlowFailure::new(ErrorCode::SignError, m.to_string());
    let mut jwts = Vec::new();
    let mut attestations = Vec::new();
    for p in resp.proofs.unwrap_or_default() {
        match (p.proof_type.as_str(), p.jwt, p.attestation) {
            ("jwt", Some(j), _) => jwts.push(j),
            ("attestation", _, Some(a)) => attestations.push(a),
            _ => return Err(bad("a proof is missing its value or has an unknown proof_type")),
        }
    }
    if let Some(j) = resp.proof_jwt {
        jwts.push(j);
    }
    if !attestations.is_empty() {
        if !jwts.is_empty() || proof_types.get("attestation").is_none() {
            return Err(bad("proofs must all be of one supported type"));
        }
        // OpenID4VCI 1.0: one key attestation (it lists every attested key), a JWT of typ key-attestation+jwt.
        if attestations.len() != 1 {
            return Err(bad("an attestation proof is exactly one key attestation"));
        }
        let d = jose::decode_jwt(&attestations[0]).ok_or_else(|| bad("the key attestation is not a JWT"))?;
        let typ = d.header.get("typ").and_then(Value::as_str).unwrap_or_default();
        if typ != "key-attestation+jwt" && typ != "keyattestation+jwt" {
            return Err(bad("a key attestation must have typ key-attestation+jwt"));
        }
        return Ok(json!({"attestation": attestations}));
    }
    if jwts.is_empty() {
        return Err(bad("the client returned no proof"));
    }
    if proof_types.get("jwt").is_none() {
        return Err(bad("the issuer does not accept jwt proofs"));
    }
    for j in &jwts {
        let d = jose::decode_jwt(j).ok_or_else(|| bad("a proof is not a JWT"))?;
        if d.header.get("typ").and_then(Value::as_str) != Some("openid4vci-proof+jwt") {
            return Err(bad("a proof JWT must have typ openid4vci-proof+jwt"));
        }
        if d.header.get("jwk").is_none() && d.header.get("kid").is_none() {
            return Err(bad("a proof JWT needs jwk or kid in its header"));
        }
    }
    Ok(json!({"jwt": jwts}))
}

/// POSTs the credential request. `Err(None)` means `invalid_nonce` (the caller re-signs once).
pub async fn request_credential(
    ctx: &FlowCtx,
    meta: &CredentialIssuerMetadata,
    tokens: &Tokens,
    dpop: &mut Dpop,
    body: &Value,
    enc: Option<&RecipientKey>,
) -> Result<Issued, Option<FlowFailure>> {
    let code = ErrorCode::CredentialError;
    let endpoint = meta.str("credential_endpoint").unwrap_or_default().to_string();
    let resp = authorized_post(ctx, &endpoint, tokens, dpop, body, CREDENTIAL_MAX_BYTES).await?;
    if resp.status.is_success()
        && let Some(key) = enc
    {
        let v = decrypt_json(&resp, key).map_err(|m| Some(FlowFailure::new(code, m)))?;
        return parse_issued(&v).map_err(|m| Some(FlowFailure::new(code, m)));
    }
    let v: Option<Value> = resp.json().ok();
    if !resp.status.is_success() {
        let err = v
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if err == "invalid_nonce" || err == "invalid_proof" && v.as_ref().is_some_and(|v| v.get("c_nonce").is_some()) {
            return Err(None);
        }
        let shown: String = err.chars().take(64).collect();
        return Err(Some(
            FlowFailure::new(
                code,
                format!(
                    "the credential endpoint refused the request (HTTP {})",
                    resp.status.as_u16()
                ),
            )
            .with_details(json!({"error": shown})),
        ));
    }
    let v = v.ok_or_else(|| Some(FlowFailure::new(code, "the credential response is not JSON")))?;
    parse_issued(&v).map_err(|m| Some(FlowFailure::new(code, m)))
}

/// The JSON inside an encrypted (`application/jwt`, compact JWE) credential response. Error responses stay plain
/// JSON (OpenID4VCI encrypts only successful responses), and a plain JSON answer to an encrypted request is refused:
/// the issuer ignored what it advertised.
fn decrypt_json(resp: &walletd_egress::EgressResponse, key: &RecipientKey) -> Result<Value, String> {
    let text = resp.text();
    if text.trim_start().starts_with('{') {
        return Err("the issuer answered in clear although response encryption was requested".into());
    }
    let plain = key.decrypt(&text)?;
    serde_json::from_slice(&plain).map_err(|_| "the decrypted credential response is not JSON".to_string())
}

fn parse_issued(v: &Value) -> Result<Issued, String> {
    let notification_id = v.get("notification_id").and_then(Value::as_str).map(str::to_string);
    if let Some(list) = v.get("credentials").and_then(Value::as_array).filter(|l| !l.is_empty()) {
        let creds = list
            .iter()
            .map(|c| c.get("credential").cloned().unwrap_or_else(|| c.clone()))
            .collect();
        return Ok(Issued::Now(creds, notification_id));
    }
    if let Some(c) = v.get("credential").filter(|c| !c.is_null()) {
        return Ok(Issued::Now(vec![c.clone()], notification_id));
    }
    if let Some(t) = v.get("transaction_id").and_then(Value::as_str) {
        let interval = v.get("interval").and_then(Value::as_u64).unwrap_or(5).clamp(1, 60);
        return Ok(Issued::Deferred(t.to_string(), interval));
    }
    Err("the credential response has no credential and no transaction_id".into())
}

async fn authorized_post(
    ctx: &FlowCtx,
    endpoint: &str,
    tokens: &Tokens,
    dpop: &mut Dpop,
    body: &Value,
    max: usize,
) -> Result<walletd_egress::EgressResponse, Option<FlowFailure>> {
    let code = ErrorCode::CredentialError;
    let is_dpop = tokens.token_type.eq_ignore_ascii_case("dpop");
    for attempt in 0..2 {
        let mut req = ctx
            .engine()
            .egress()
            .request(Method::POST, endpoint.to_string())
            .json(body)
            .max_bytes(max);
        if is_dpop {
            req = req
                .header("authorization", format!("DPoP {}", tokens.access_token))
                .header("DPoP", dpop.proof(&Method::POST, endpoint, Some(&tokens.access_token)));
        } else {
            req = req.bearer_auth(&tokens.access_token);
        }
        let resp = ctx
            .outbound(code, "credential request", req.send())
            .await
            .map_err(Some)?;
        if is_dpop && attempt == 0 && dpop.take_nonce_challenge(&resp) {
            continue;
        }
        return Ok(resp);
    }
    Err(Some(FlowFailure::new(
        code,
        "the credential endpoint kept asking for a new DPoP nonce",
    )))
}

/// Polls the metadata's `deferred_credential_endpoint` until credentials arrive or `window` ends.
#[allow(clippy::too_many_arguments)]
pub async fn poll_deferred(
    ctx: &FlowCtx,
    meta: &CredentialIssuerMetadata,
    tokens: &Tokens,
    dpop: &mut Dpop,
    transaction_id: &str,
    mut interval: u64,
    window: std::time::Duration,
    enc: Option<&RecipientKey>,
) -> FlowResult<(Vec<Value>, Option<String>)> {
    let code = ErrorCode::CredentialError;
    let pending = || {
        FlowFailure::new(code, "the credential is not ready yet (deferred issuance)")
            .with_details(json!({"transaction_id": transaction_id}))
    };
    let Some(endpoint) = meta.str("deferred_credential_endpoint").map(str::to_string) else {
        return Err(pending());
    };
    let deadline = tokio::time::Instant::now() + window;
    loop {
        let wake = tokio::time::Instant::now() + std::time::Duration::from_secs(interval);
        if wake > deadline {
            return Err(pending());
        }
        tokio::time::sleep_until(wake).await;
        let mut body = json!({"transaction_id": transaction_id});
        if let Some(k) = enc {
            body["credential_response_encryption"] = encryption::request_member(k);
        }
        let resp = authorized_post(ctx, &endpoint, tokens, dpop, &body, CREDENTIAL_MAX_BYTES)
            .await
            .map_err(|e| e.unwrap_or_else(pending))?;
        let v: Value = match enc {
            Some(k) if resp.status.is_success() => decrypt_json(&resp, k).map_err(|m| FlowFailure::new(code, m))?,
            _ => resp.json().unwrap_or(Value::Null),
        };
        if resp.status.is_success() {
            match parse_issued(&v) {
                Ok(Issued::Now(c, n)) => return Ok((c, n)),
                Ok(Issued::Deferred(_, i)) => interval = i,
                Err(m) => return Err(FlowFailure::new(code, m)),
            }
        } else if v.get("error").and_then(Value::as_str) == Some("issuance_pending") {
            interval = v
                .get("interval")
                .and_then(Value::as_u64)
                .unwrap_or(interval)
                .clamp(1, 60);
        } else {
            return Err(FlowFailure::new(
                code,
                format!("the deferred endpoint answered HTTP {}", resp.status.as_u16()),
            ));
        }
    }
}

/// How many credentials to ask for: the issuer's `batch_credential_issuance.batch_size` (absent: no batching),
/// capped by `engine.max_batch_size`; at least 1.
pub fn batch_count(meta: &CredentialIssuerMetadata, max: usize) -> usize {
    let issuer_max = meta
        .json
        .get("batch_credential_issuance")
        .and_then(|b| b.get("batch_size"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .min(usize::MAX as u64) as usize;
    issuer_max.min(max).max(1)
}
