//! The OID4VCI flow (docs/api-v2.md "OID4VCI issuance", steps 1-11). Each step is in its own module; this one strings
//! them together and sends the progress frames the web client expects.

pub mod attestation;
mod client_auth;
mod configuration;
pub mod credential;
pub mod dpop;
pub mod encryption;
mod grant;
mod issue;
pub mod metadata;
pub(crate) mod notify;
mod offer;
mod renewal;
pub mod token;
mod trust;

use serde_json::{Value, json};
use walletd_protocol::oid4vci::CredentialOffer;
use walletd_protocol::{ErrorCode, FlowComplete, FlowStart};

use self::dpop::Dpop;
use self::renewal::Renewal;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::{FlowCtx, NotificationTarget};
use crate::session::complete;

/// Runs one issuance flow to its `flow_complete`.
pub(crate) async fn run(ctx: &mut FlowCtx, start: FlowStart) -> FlowResult<FlowComplete> {
    // Renewal (refresh_token + credential_issuer + selected_credential_configuration_id) skips the offer and the
    // authorization; everything else starts from an offer.
    let renewal = Renewal::from_start(&start)?;
    // The client's DPoP key on renewal (the refresh token is bound to it), else a fresh one.
    // The SIROS native SDKs carry it as JSON text; an object is accepted too.
    let client_dpop_jwk = match &start.dpop_jwk {
        Some(Value::String(text)) if !text.is_empty() => Some(serde_json::from_str(text).unwrap_or(Value::Null)),
        Some(Value::String(_)) | Some(Value::Null) | None => None,
        Some(other) => Some(other.clone()),
    };
    let mut dpop = match &client_dpop_jwk {
        Some(jwk) => {
            let key = walletd_jose::EcKey::from_private_jwk_value(jwk).ok_or_else(|| {
                FlowFailure::new(ErrorCode::InvalidMessage, "dpop_jwk is not an EC P-256 private JWK")
            })?;
            Dpop { key, nonce: None }
        }
        _ => Dpop::new(),
    };
    let offer = match &renewal {
        Some(r) => CredentialOffer {
            credential_issuer: r.credential_issuer.clone(),
            credential_configuration_ids: vec![r.configuration_id.clone()],
            grants: json!({}),
        },
        None => {
            // 1. Offer
            ctx.progress("parsing_offer", json!({})).await;
            let offer = offer::resolve(ctx, &start).await?;
            ctx.progress(
                "offer_parsed",
                json!({
                    "credential_issuer": offer.credential_issuer,
                    "credential_configuration_ids": offer.credential_configuration_ids,
                    "grants": offer.grants,
                }),
            )
            .await;
            offer
        }
    };
    let issuer = offer.credential_issuer.clone();

    // 2. Metadata
    ctx.progress("fetching_metadata", json!({"credential_issuer": issuer}))
        .await;
    // The issuer's own RFC 8414 metadata is asked for at the same time: most issuers are their own authorization
    // server, and the flow then pays one round trip for both. A failed issuer metadata fetch drops it.
    let engine = ctx.engine().clone();
    let own_as = async { Ok(metadata::fetch_own_as(&engine, &issuer).await) };
    let (meta, own_as_meta) = futures::future::try_join(metadata::fetch_issuer(ctx, &issuer), own_as).await?;
    ctx.progress(
        "metadata_fetched",
        json!({
            "credential_issuer": issuer,
            "credential_endpoint": meta.str("credential_endpoint"),
            "display": meta.json.get("display").cloned().unwrap_or(Value::Null),
            "validated": meta.signed,
        }),
    )
    .await;

    // 3. Trust (the client or the tenant's PDP, when either is to judge)
    trust::evaluate(ctx, &issuer, &meta).await?;

    // 4. Configuration(s): several only for a client that selects several (configuration::choose).
    let resume = start.auth_code.is_some() || renewal.is_some();
    let config_ids = configuration::choose(ctx, &offer, &meta, resume).await?;
    let mut configs = Vec::with_capacity(config_ids.len());
    for id in &config_ids {
        let config = meta.configuration(id).cloned().ok_or_else(|| {
            FlowFailure::new(
                if renewal.is_some() {
                    ErrorCode::InvalidMessage
                } else {
                    ErrorCode::MetadataFetchError
                },
                "the offered configuration is not in the metadata",
            )
        })?;
        configs.push((id.clone(), config));
    }
    let config_id = config_ids[0].clone();

    // 5. Token
    let as_issuer = meta
        .json
        .get("authorization_servers")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .unwrap_or(&issuer)
        .to_string();
    let own_as_meta = Some(own_as_meta).filter(|_| as_issuer == issuer);
    let as_meta = metadata::fetch_as(&engine, &as_issuer, own_as_meta).await?;
    let anonymous = renewal.is_none() && start.auth_code.is_none() && offer.pre_authorized_code().is_some();
    let mut auth = client_auth::client_auth(ctx, &start, &issuer, grant::client_id_for(&start, anonymous)).await?;
    // A client with `provider_attestations` and no authentication of its own: the engine obtains a WIA for it when
    // the authorization server takes attestation-based client authentication.
    let wia_by_engine =
        auth.attestation.is_none() && auth.assertion_key.is_none() && attestation::wia_by_engine(ctx, &as_meta);
    // The assertion's (and an engine-made PoP's) audience is the AS metadata's `issuer`; RFC 8414 §3.3 requires it to
    // be the identifier the metadata was looked up with. Otherwise an AS could name another AS and replay it there.
    if auth.assertion_key.is_some() || wia_by_engine {
        let named = as_meta
            .get("issuer")
            .and_then(Value::as_str)
            .map(|i| i.trim_end_matches('/'));
        if named != Some(as_issuer.trim_end_matches('/')) {
            return Err(FlowFailure::new(
                ErrorCode::TokenError,
                "the authorization server metadata names another issuer; no client assertion is sent to it",
            ));
        }
    }
    let mut instance_id = None;
    if wia_by_engine {
        let audience = token::assertion_audience(&as_meta).unwrap_or(&as_issuer).to_string();
        let (wia_auth, instance) = attestation::client_attestation(ctx, &audience, auth.client_id.take()).await?;
        auth = wia_auth;
        instance_id = Some(instance);
    }
    // The first credential request's nonce is fetched while the token request runs, unless the grant waits for
    // the user first (a nonce could age past its lifetime there): the nonce endpoint needs no token, so the flow
    // pays for the token exchange's round trips and not for one more after them.
    let early_nonce_endpoint = meta
        .str("nonce_endpoint")
        .filter(|_| credential::proof_types(&configs[0].1).is_some())
        .filter(|_| !grant::waits_for_user(&start, &offer, renewal.is_some()));
    // Never an error here: a failed nonce fetch is reported where the nonce is used, after the token.
    let early_nonce = async {
        Ok(match early_nonce_endpoint {
            Some(endpoint) => Some(credential::fetch_nonce(&engine, endpoint).await),
            None => None,
        })
    };
    let exchange = async {
        match &renewal {
            Some(r) => {
                ctx.progress("exchanging_token", json!({})).await;
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", r.refresh_token.as_str()),
                ];
                token::request_token(ctx, &as_meta, &form, &mut dpop, &auth).await
            }
            None => grant::obtain_token(ctx, &start, &offer, &configs, &as_meta, &mut dpop, &mut auth).await,
        }
    };
    // A failed token exchange ends the flow at once, dropping the nonce request.
    let (tokens, mut early_nonce) = futures::future::try_join(exchange, early_nonce).await?;
    ctx.progress("token_obtained", json!({"token_type": tokens.token_type}))
        .await;

    // 6-10. Nonce, proofs, credential request, deferred, checks, type metadata: once per configuration.
    let reissuance_kid = renewal
        .as_ref()
        .and_then(|_| start.reissuance_kid.clone())
        .filter(|k| !k.is_empty());
    let shared = issue::Shared {
        issuer: &issuer,
        meta: &meta,
        tokens: &tokens,
        client_id: auth.client_id.as_deref(),
        reissuance_kid: reissuance_kid.as_deref(),
        instance_id: instance_id.as_deref(),
    };
    let several = configs.len() > 1;
    let mut credentials = Vec::new();
    let mut notification_ids = Vec::new();
    for (id, config) in &configs {
        let batch = issue::issue(ctx, &shared, &mut dpop, id, config, early_nonce.take()).await?;
        notification_ids.extend(batch.notification_id);
        // Entries of several configurations say which one they belong to (each batch shares one format).
        credentials.extend(batch.credentials.into_iter().map(|mut c| {
            if several {
                c.credential_configuration_id = Some(id.clone());
            }
            c
        }));
    }

    // 11. Complete; keep only what a notification needs, in memory.
    if let (Some(endpoint), false) = (meta.str("notification_endpoint"), notification_ids.is_empty()) {
        ctx.notification = Some(NotificationTarget {
            endpoint: endpoint.to_string(),
            access_token: tokens.access_token.clone(),
            token_type: if tokens.token_type.eq_ignore_ascii_case("dpop") {
                "DPoP".into()
            } else {
                "Bearer".into()
            },
            dpop_jwk: Some(dpop.key.private_jwk().to_value()),
            ids: notification_ids,
        });
    }
    let mut done = complete(&ctx.flow_id);
    done.credentials = Some(credentials);
    done.credential_issuer = Some(issuer);
    done.selected_credential_configuration_id = Some(config_id);
    // Renewal material goes to the client (the engine keeps nothing): the refresh token and, when it is DPoP-bound,
    // the DPoP key it is bound to.
    // As JSON text: the SIROS native SDKs (the clients that renew) type `dpop_jwk` as a string.
    if tokens.refresh_token.is_some() && tokens.token_type.eq_ignore_ascii_case("dpop") {
        done.dpop_jwk = Some(Value::String(dpop.key.private_jwk().to_string()));
    }
    done.refresh_token = tokens.refresh_token;
    Ok(done)
}
