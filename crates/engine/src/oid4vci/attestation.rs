//! Key attestations obtained by the engine (docs/api-v2.md "Attestations obtained by the engine"): for a client
//! that declared `provider_attestations`, when the configuration accepts `attestation` proofs and this process has
//! a wallet provider, the engine asks the client for ordinary `jwt` proofs (each signed by one of its keys over the
//! issuer's nonce), checks them, has the provider attest exactly those public keys with that nonce, and sends the
//! issuer one `attestation` proof. The client keeps its keys; the engine only learns public keys, and the provider
//! attests only keys whose possession was just proven.

use serde_json::{Value, json};
use walletd_jose::Jwk;
use walletd_jose::jws::{JwsAlg, decode_jwt, verify_with_jwk};
use walletd_protocol::{ErrorCode, SignAction};

use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// The handshake feature with which a client asks the engine to obtain attestations for it.
pub const FEATURE: &str = "provider_attestations";

/// `typ` of an OpenID4VCI proof JWT.
const PROOF_TYP: &str = "openid4vci-proof+jwt";

/// How far a proof's `iat` may lie from now (seconds).
const IAT_WINDOW_SECS: i64 = 300;

/// Whether the engine obtains the key attestation in this flow.
pub fn by_engine(ctx: &FlowCtx, proof_types: &Value) -> bool {
    ctx.has_feature(FEATURE) && ctx.engine().wallet_provider().is_some() && proof_types.get("attestation").is_some()
}

/// Asks the client for `count` jwt proofs of its keys, checks them, and returns `{"attestation": [<key attestation
/// of those keys>]}` from the wallet provider.
pub async fn attested_proofs(
    ctx: &mut FlowCtx,
    issuer: &str,
    nonce: Option<&str>,
    client_id: Option<&str>,
    proof_types: &Value,
    count: usize,
) -> FlowResult<Value> {
    let algs = proof_types["attestation"]
        .get("proof_signing_alg_values_supported")
        .filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
        .cloned()
        .unwrap_or_else(|| json!(["ES256"]));
    let mut params = json!({
        "audience": issuer,
        "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": algs}},
        "count": count,
        "key_attestation": "engine",
    });
    if let Some(n) = nonce.filter(|n| !n.is_empty()) {
        params["nonce"] = json!(n);
    }
    if let Some(c) = client_id {
        params["issuer"] = json!(c);
    }
    let resp = ctx.sign(SignAction::GenerateProof, params).await?;
    let mut jwts: Vec<String> = Vec::new();
    for p in resp.proofs.unwrap_or_default() {
        match (p.proof_type.as_str(), p.jwt) {
            ("jwt", Some(j)) => jwts.push(j),
            _ => {
                return Err(bad(
                    "the engine obtains the key attestation: answer with jwt proofs of your keys",
                ));
            }
        }
    }
    jwts.extend(resp.proof_jwt);
    if jwts.is_empty() {
        return Err(bad("the client returned no proof"));
    }
    let accepted: Vec<JwsAlg> = algs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(JwsAlg::from_name)
        .collect();
    let mut keys: Vec<Value> = Vec::new();
    let mut seen = Vec::new();
    for j in &jwts {
        let key = proven_key(j, issuer, nonce, &accepted)?;
        let thumbprint = key.thumbprint().map_err(|_| bad("a proof's jwk has no thumbprint"))?;
        if !seen.contains(&thumbprint) {
            seen.push(thumbprint);
            keys.push(key.public_only().to_value());
        }
    }
    let port = ctx
        .engine()
        .wallet_provider()
        .cloned()
        .ok_or_else(|| FlowFailure::new(ErrorCode::InternalError, "no wallet provider"))?;
    let attestation = port
        .key_attestation(&ctx.user.tenant_id, &ctx.user.user_id, keys, nonce.map(str::to_string))
        .await
        .map_err(|r| {
            let shown: String = r.message.chars().take(200).collect();
            FlowFailure::new(
                ErrorCode::SignError,
                format!("the wallet provider refused the key attestation: {shown}"),
            )
            .with_details(json!({"wallet_provider": r.code}))
        })?;
    Ok(json!({"attestation": [attestation]}))
}

/// Checks one proof JWT (typ, the key in its header, its signature by that key, audience, nonce, freshness) and
/// returns the key it proves possession of.
fn proven_key(jwt: &str, audience: &str, nonce: Option<&str>, accepted: &[JwsAlg]) -> FlowResult<Jwk> {
    let d = decode_jwt(jwt).ok_or_else(|| bad("a proof is not a JWT"))?;
    if d.header_str("typ") != Some(PROOF_TYP) {
        return Err(bad("a proof JWT must have typ openid4vci-proof+jwt"));
    }
    let jwk = d
        .header
        .get("jwk")
        .and_then(|v| Jwk::from_value(v).ok())
        .ok_or_else(|| bad("a proof JWT needs its public key as jwk in the header"))?;
    if jwk.is_private() {
        return Err(bad("a proof JWT's jwk holds private key material"));
    }
    verify_with_jwk(&d, &jwk, accepted).map_err(|_| bad("a proof JWT does not verify with the key in its header"))?;
    let c = &d.claims;
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(bad("a proof JWT's aud is not the credential issuer"));
    }
    if let Some(n) = nonce.filter(|n| !n.is_empty())
        && c.get("nonce").and_then(Value::as_str) != Some(n)
    {
        return Err(bad("a proof JWT does not carry the issuer's nonce"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match c.get("iat").and_then(Value::as_i64) {
        Some(iat) if (iat - now).abs() <= IAT_WINDOW_SECS => Ok(jwk),
        _ => Err(bad("a proof JWT's iat is missing or not recent")),
    }
}

fn bad(m: &str) -> FlowFailure {
    FlowFailure::new(ErrorCode::SignError, m.to_string())
}
