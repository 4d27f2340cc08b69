//! The OID4VCI flow (docs/api-v2.md "OID4VCI issuance", steps 1-11). Each step is in its own module; this one strings
//! them together and sends the progress frames the web client expects.

pub mod attestation;
mod client_auth;
mod configuration;
pub mod credential;
pub mod dpop;
pub mod encryption;
mod grant;
pub mod metadata;
pub(crate) mod notify;
mod offer;
mod renewal;
pub mod token;
mod trust;

use serde_json::{Value, json};
use walletd_protocol::oid4vci::CredentialOffer;
use walletd_protocol::{ErrorCode, FlowComplete, FlowStart, IssuedCredential};

use self::credential::Issued;
use self::dpop::Dpop;
use self::renewal::Renewal;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::{FlowCtx, NotificationTarget};
use crate::session::complete;
use crate::vctm;

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
    let meta = metadata::fetch_issuer(ctx, &issuer).await?;
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

    // 4. Configuration
    let resume = start.auth_code.is_some() || renewal.is_some();
    let config_id = configuration::choose(ctx, &offer, &meta, resume).await?;
    let config = meta.configuration(&config_id).cloned().ok_or_else(|| {
        FlowFailure::new(
            if renewal.is_some() {
                ErrorCode::InvalidMessage
            } else {
                ErrorCode::MetadataFetchError
            },
            "the offered configuration is not in the metadata",
        )
    })?;

    // 5. Token
    let as_issuer = meta
        .json
        .get("authorization_servers")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .unwrap_or(&issuer)
        .to_string();
    let as_meta = metadata::fetch_as(ctx, &as_issuer).await?;
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
    let tokens = match &renewal {
        Some(r) => {
            ctx.progress("exchanging_token", json!({})).await;
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", r.refresh_token.as_str()),
            ];
            token::request_token(ctx, &as_meta, &form, &mut dpop, &auth).await?
        }
        None => grant::obtain_token(ctx, &start, &offer, &config_id, &config, &as_meta, &mut dpop, &mut auth).await?,
    };
    ctx.progress("token_obtained", json!({"token_type": tokens.token_type}))
        .await;

    // 6-8. Nonce, proofs, credential request (one invalid_nonce retry)
    let proof_types = credential::proof_types(&config);
    let client_id = auth.client_id.clone();
    let reissuance_kid = renewal
        .as_ref()
        .and_then(|_| start.reissuance_kid.clone())
        .filter(|k| !k.is_empty());
    let count = credential::batch_count(&meta, ctx.engine().config().max_batch_size);
    let enc_key = match encryption::choose(meta.json.get("credential_response_encryption")) {
        encryption::Support::None => None,
        encryption::Support::Use(enc) => {
            Some(walletd_jose::jwe::RecipientKey::generate(enc).ok_or_else(|| {
                FlowFailure::new(ErrorCode::InternalError, "cannot create the response encryption key")
            })?)
        }
        encryption::Support::RequiredUnsupported => {
            return Err(FlowFailure::new(
                ErrorCode::CredentialError,
                "the issuer requires response encryption with algorithms the engine does not implement (ECDH-ES with A256GCM, A128GCM, A128CBC-HS256 or A256CBC-HS512)",
            ));
        }
    };
    let mut issued = None;
    for attempt in 0..2 {
        let mut body = json!({"credential_configuration_id": config_id});
        if let Some(pt) = &proof_types {
            let n = credential::nonce(ctx, &meta, &tokens).await?;
            // A client with `provider_attestations` has the engine obtain the key attestation (not on renewal:
            // the client re-proves the key its credential is bound to).
            let proofs = if reissuance_kid.is_none() && attestation::by_engine(ctx, pt) {
                let instance = instance_id.as_deref();
                attestation::attested_proofs(ctx, &issuer, n.as_deref(), client_id.as_deref(), pt, count, instance)
                    .await?
            } else {
                credential::request_proofs(
                    ctx,
                    &issuer,
                    n.as_deref(),
                    client_id.as_deref(),
                    pt,
                    count,
                    reissuance_kid.as_deref(),
                )
                .await?
            };
            body["proofs"] = proofs;
        }
        if let Some(k) = &enc_key {
            body["credential_response_encryption"] = encryption::request_member(k);
        }
        ctx.progress(
            "requesting_credential",
            json!({"credential_configuration_id": config_id}),
        )
        .await;
        match credential::request_credential(ctx, &meta, &tokens, &mut dpop, &body, enc_key.as_ref()).await {
            Ok(i) => {
                issued = Some(i);
                break;
            }
            Err(None) if attempt == 0 && proof_types.is_some() => continue,
            Err(None) => {
                return Err(FlowFailure::new(
                    ErrorCode::CredentialError,
                    "the issuer refused the proof nonce twice",
                ));
            }
            Err(Some(f)) => return Err(f),
        }
    }
    let issued = issued.ok_or_else(|| FlowFailure::new(ErrorCode::CredentialError, "no credential was issued"))?;

    // 9. Deferred
    let (creds, notification_id) = match issued {
        Issued::Now(c, n) => (c, n),
        Issued::Deferred(tx, interval) => {
            ctx.progress("deferred", json!({"transaction_id": tx, "interval": interval}))
                .await;
            let window = if ctx.web_profile || !ctx.has_feature("deferred") {
                ctx.engine().config().web_deferred_window
            } else {
                ctx.engine().config().flow_timeout
            };
            credential::poll_deferred(ctx, &meta, &tokens, &mut dpop, &tx, interval, window, enc_key.as_ref()).await?
        }
    };

    // 10. Type metadata (failure just omits it)
    let format = config
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or("dc+sd-jwt")
        .to_string();
    let vct = config.get("vct").and_then(Value::as_str).map(str::to_string);
    // mso_mdoc: what the engine can check of the issued mdocs, reported to the client (crate::mdoc).
    if format == walletd_protocol::mdoc::FORMAT {
        crate::mdoc::check_issued(ctx, &issuer, &meta, &config, &creds).await?;
    }
    let type_metadata = match &vct {
        Some(v) => vctm::lookup(ctx.engine(), v).await.ok(),
        None => None,
    };

    // 11. Complete; keep only what a notification needs, in memory.
    if let (Some(endpoint), Some(id)) = (meta.str("notification_endpoint"), &notification_id) {
        ctx.notification = Some(NotificationTarget {
            endpoint: endpoint.to_string(),
            access_token: tokens.access_token.clone(),
            token_type: if tokens.token_type.eq_ignore_ascii_case("dpop") {
                "DPoP".into()
            } else {
                "Bearer".into()
            },
            dpop_jwk: Some(dpop.key.private_jwk().to_value()),
            ids: vec![id.clone()],
        });
    }
    let mut done = complete(&ctx.flow_id);
    done.credentials = Some(
        creds
            .into_iter()
            .map(|credential| IssuedCredential {
                format: format.clone(),
                credential,
                vct: vct.clone(),
                type_metadata: type_metadata.clone(),
                notification_id: notification_id.clone(),
            })
            .collect(),
    );
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
