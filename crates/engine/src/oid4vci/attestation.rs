//! Attestations obtained by the engine (docs/api-v2.md "Attestations obtained by the engine"), for a client that
//! declared `provider_attestations` when this process has a wallet provider:
//!
//! - key attestations: when the configuration accepts `attestation` proofs, the engine asks the client for ordinary
//!   `jwt` proofs (each signed by one of its keys over the issuer's nonce), checks them, has the provider attest
//!   exactly those public keys with that nonce, and sends the issuer one `attestation` proof;
//! - Wallet Instance Attestations: when the authorization server accepts `attest_jwt_client_auth`, the engine takes
//!   a challenge from the provider, has the client sign a PoP over it with its instance key, obtains the WIA, then
//!   has the client sign the PoP for the authorization server, and checks it is by the attested key.
//!
//! The client keeps its keys and signs everything itself; the engine only learns public keys, and the provider
//! attests only keys whose possession was just proven.

use serde_json::{Value, json};
use walletd_jose::Jwk;
use walletd_jose::jws::{JwsAlg, decode_jwt, verify_with_jwk};
use walletd_protocol::{ErrorCode, SignAction};

use super::token::ClientAuth;
use crate::directory::{ProviderRefusal, WalletProviderPort};
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// The handshake feature with which a client asks the engine to obtain attestations for it.
pub const FEATURE: &str = "provider_attestations";

/// `typ` of an OpenID4VCI proof JWT.
const PROOF_TYP: &str = "openid4vci-proof+jwt";

/// `typ` of the PoP JWT of OAuth attestation-based client authentication.
const POP_TYP: &str = "oauth-client-attestation-pop+jwt";

/// The token endpoint authentication method of attestation-based client authentication.
const ATTEST_JWT_CLIENT_AUTH: &str = "attest_jwt_client_auth";

/// Algorithms accepted for the client's signatures over PoPs.
const POP_ALGS: &[JwsAlg] = &[JwsAlg::Es256, JwsAlg::Es384, JwsAlg::Ps256, JwsAlg::Rs256];

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
    instance_id: Option<&str>,
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
    let port = provider(ctx)?;
    let attestation = port
        .key_attestation(
            &ctx.user.tenant_id,
            &ctx.user.user_id,
            keys,
            nonce.map(str::to_string),
            instance_id.map(str::to_string),
        )
        .await
        .map_err(|r| refused("key attestation", r))?;
    Ok(json!({"attestation": [attestation]}))
}

/// Whether the engine authenticates the client with a Wallet Instance Attestation at this authorization server.
pub fn wia_by_engine(ctx: &FlowCtx, as_meta: &Value) -> bool {
    ctx.has_feature(FEATURE)
        && ctx.engine().wallet_provider().is_some()
        && as_meta
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .is_some_and(|m| m.iter().any(|v| v.as_str() == Some(ATTEST_JWT_CLIENT_AUTH)))
}

/// Obtains a WIA for the client's instance key and the client's PoP for `audience` (the authorization server):
/// the client authentication of the token and PAR requests, plus the instance the WIA was issued to.
pub async fn client_attestation(
    ctx: &mut FlowCtx,
    audience: &str,
    client_id: Option<String>,
) -> FlowResult<(ClientAuth, String)> {
    let port = provider(ctx)?;
    let (tenant, user) = (ctx.user.tenant_id.clone(), ctx.user.user_id.clone());
    let challenge = port
        .wia_challenge(&tenant, &user)
        .await
        .map_err(|r| refused("challenge", r))?;
    let mut params = json!({"audience": port.issuer(), "challenge": challenge});
    if let Some(c) = &client_id {
        params["client_id"] = json!(c);
    }
    let pop = ask_pop(ctx, params).await?;
    let wia = port
        .wallet_instance_attestation(&tenant, &user, pop, challenge, client_id)
        .await
        .map_err(|r| refused("wallet instance attestation", r))?;
    let internal = |m: &str| FlowFailure::new(ErrorCode::InternalError, m.to_string());
    let claims = decode_jwt(&wia.jwt)
        .ok_or_else(|| internal("the wallet provider's attestation is not a JWT"))?
        .claims;
    let sub = claims["sub"]
        .as_str()
        .ok_or_else(|| internal("the wallet provider's attestation has no sub"))?
        .to_string();
    let instance_key = Jwk::from_value(&claims["cnf"]["jwk"])
        .map_err(|_| internal("the wallet provider's attestation has no cnf.jwk"))?;
    // The PoP for the authorization server: by the attested instance key, for this server, as this client.
    let pop = ask_pop(ctx, json!({"audience": audience, "client_id": sub})).await?;
    let d = decode_jwt(&pop).ok_or_else(|| bad("the PoP is not a JWT"))?;
    if d.header_str("typ") != Some(POP_TYP) {
        return Err(bad("a PoP must have typ oauth-client-attestation-pop+jwt"));
    }
    verify_with_jwk(&d, &instance_key, POP_ALGS)
        .map_err(|_| bad("the PoP is not signed by the instance key the attestation names"))?;
    if d.claims.get("aud").and_then(Value::as_str) != Some(audience)
        || d.claims.get("iss").and_then(Value::as_str) != Some(sub.as_str())
    {
        return Err(bad(
            "the PoP's aud must be the authorization server and its iss the client_id",
        ));
    }
    let auth = ClientAuth {
        client_id: Some(sub),
        attestation: Some((wia.jwt, pop)),
        assertion_key: None,
    };
    Ok((auth, wia.instance_id))
}

/// Asks the client to sign a PoP with its instance key (answered with `proof_jwt`).
async fn ask_pop(ctx: &mut FlowCtx, params: Value) -> FlowResult<String> {
    let resp = ctx.sign(SignAction::ClientAttestationPop, params).await?;
    resp.proof_jwt
        .filter(|j| !j.is_empty())
        .ok_or_else(|| bad("answer client_attestation_pop with proof_jwt"))
}

fn provider(ctx: &FlowCtx) -> FlowResult<std::sync::Arc<dyn WalletProviderPort>> {
    ctx.engine()
        .wallet_provider()
        .cloned()
        .ok_or_else(|| FlowFailure::new(ErrorCode::InternalError, "no wallet provider"))
}

/// A refusal of the provider: `SIGN_ERROR` with the provider's code in `details.wallet_provider`.
fn refused(what: &str, r: ProviderRefusal) -> FlowFailure {
    let shown: String = r.message.chars().take(200).collect();
    FlowFailure::new(
        ErrorCode::SignError,
        format!("the wallet provider refused the {what}: {shown}"),
    )
    .with_details(json!({"wallet_provider": r.code}))
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
