//! Who the engine is at the token and PAR endpoints (docs/oid4vci.md, "Client authentication").

use serde_json::Value;
use walletd_protocol::{ErrorCode, FlowStart};

use super::token::ClientAuth;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// Client authentication in the order of docs/oid4vci.md: the client's attestation headers, else the tenant's
/// registration with this issuer (`private_key_jwt` when it has a key, else its `client_id`), else
/// `default_client_id`.
/// The registered private key is a secret: no message here or later names or prints it.
pub(super) async fn client_auth(
    ctx: &FlowCtx,
    start: &FlowStart,
    credential_issuer: &str,
    default_client_id: Option<String>,
) -> FlowResult<ClientAuth> {
    let attestation = start
        .client_attestation
        .clone()
        .filter(|a| !a.is_empty())
        .zip(start.client_attestation_pop.clone().filter(|p| !p.is_empty()));
    if attestation.is_some() {
        return Ok(ClientAuth {
            client_id: default_client_id,
            attestation,
            assertion_key: None,
        });
    }
    let registration = match ctx.engine().directory() {
        Some(d) => d.issuer_client(&ctx.user.tenant_id, credential_issuer).await,
        None => None,
    };
    let Some(reg) = registration else {
        return Ok(ClientAuth {
            client_id: default_client_id,
            ..ClientAuth::default()
        });
    };
    let unusable = |m: &str| FlowFailure::new(ErrorCode::TokenError, m.to_string());
    let assertion_key = match reg.client_jwk.as_deref() {
        None => None,
        Some(text) => {
            let jwk: Value = serde_json::from_str(text)
                .map_err(|_| unusable("the tenant's client key for this issuer is not a JWK"))?;
            let key = walletd_jose::EcKey::from_private_jwk_value(&jwk).ok_or_else(|| {
                unusable("the tenant's client key for this issuer is not an EC P-256 private JWK (ES256)")
            })?;
            Some(key.with_kid(jwk.get("kid").and_then(Value::as_str)))
        }
    };
    let client_id = reg.client_id.filter(|c| !c.is_empty()).or(default_client_id);
    if assertion_key.is_some() && client_id.is_none() {
        return Err(unusable(
            "the tenant's registration with this issuer has a client key but no client_id",
        ));
    }
    Ok(ClientAuth {
        client_id,
        attestation: None,
        assertion_key,
    })
}
