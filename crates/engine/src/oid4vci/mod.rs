//! The OID4VCI flow (spec steps 1-11). Each step is in its own module; this one strings them together and sends
//! the progress frames the web client expects.

pub mod credential;
pub mod dpop;
pub mod encryption;
pub mod metadata;
pub(crate) mod notify;
pub mod offer;
pub mod token;

use serde_json::{Value, json};
use walletd_egress::METADATA_MAX_BYTES;
use walletd_protocol::{ErrorCode, FlowComplete, FlowStart, IssuedCredential};
use walletd_trust::{EvaluationRequest, Role};

use self::credential::Issued;
use self::dpop::Dpop;
use self::metadata::IssuerMetadata;
use self::offer::{CredentialOffer, OfferSource};
use self::token::{ClientAuth, Tokens};
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
            let offer = resolve_offer(ctx, &start).await?;
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

    // 3. Trust (server-side PDP when one is configured)
    evaluate_trust(ctx, &issuer, &meta).await?;

    // 4. Configuration
    let resume = start.auth_code.is_some() || renewal.is_some();
    let config_id = choose_configuration(ctx, &offer, &meta, resume).await?;
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
    let mut auth = client_auth(ctx, &start, &issuer, client_id_for(&start, anonymous)).await?;
    // The assertion's audience is the AS metadata's `issuer`; RFC 8414 §3.3 requires it to be the identifier the
    // metadata was looked up with. Otherwise an AS could name another AS and replay the assertion there.
    if auth.assertion_key.is_some() {
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
    let tokens = match &renewal {
        Some(r) => {
            ctx.progress("exchanging_token", json!({})).await;
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", r.refresh_token.as_str()),
            ];
            token::request_token(ctx, &as_meta, &form, &mut dpop, &auth).await?
        }
        None => obtain_token(ctx, &start, &offer, &config_id, &config, &as_meta, &mut dpop, &mut auth).await?,
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
    let count = batch_count(&meta, ctx.engine().config().max_batch_size);
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
            let proofs = credential::request_proofs(
                ctx,
                &issuer,
                n.as_deref(),
                client_id.as_deref(),
                pt,
                count,
                reissuance_kid.as_deref(),
            )
            .await?;
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

/// How many credentials to ask for: the issuer's `batch_credential_issuance.batch_size` (absent: no batching),
/// capped by `engine.max_batch_size`; at least 1.
fn batch_count(meta: &IssuerMetadata, max: usize) -> usize {
    let issuer_max = meta
        .json
        .get("batch_credential_issuance")
        .and_then(|b| b.get("batch_size"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .min(usize::MAX as u64) as usize;
    issuer_max.min(max).max(1)
}

async fn resolve_offer(ctx: &FlowCtx, start: &FlowStart) -> FlowResult<CredentialOffer> {
    let bad = |m: String| FlowFailure::new(ErrorCode::OfferParseError, m);
    let source = match (&start.offer, &start.credential_offer_uri) {
        (Some(o), _) if !o.is_null() && o.as_str() != Some("") => offer::parse_offer_input(o).map_err(bad)?,
        (_, Some(uri)) if !uri.is_empty() => {
            // Any other scheme (file:, gopher:, ...) is fetched through the egress guard, which refuses it.
            if uri.starts_with("openid-credential-offer:") {
                offer::parse_offer_url(uri).map_err(bad)?
            } else {
                OfferSource::Reference(uri.clone())
            }
        }
        _ => return Err(bad("flow_start needs `offer` or `credential_offer_uri`".into())),
    };
    match source {
        OfferSource::Value(o) => Ok(o),
        OfferSource::Reference(url) => {
            let code = ErrorCode::OfferParseError;
            let resp = ctx
                .outbound(
                    code,
                    "credential offer",
                    ctx.engine().egress().get(&url, METADATA_MAX_BYTES),
                )
                .await?;
            if !resp.status.is_success() {
                return Err(bad(format!(
                    "the offer location answered HTTP {}",
                    resp.status.as_u16()
                )));
            }
            let v: Value = resp.json().map_err(|_| bad("the fetched offer is not JSON".into()))?;
            offer::parse_offer_object(&v).map_err(bad)
        }
    }
}

/// Issuer trust (spec step 3). Key material: the signed metadata's x5c chain, else the JWKS the metadata carries
/// (`jwks`, or fetched from `jwks_uri`), else a resolution-only request (the PDP resolves the issuer identifier
/// itself).
async fn evaluate_trust(ctx: &mut FlowCtx, issuer: &str, meta: &IssuerMetadata) -> FlowResult<()> {
    let untrusted = |m: String| FlowFailure::new(ErrorCode::UntrustedIssuer, m);
    if ctx.engine().config().client_mediated_trust {
        let jwks = trust_jwks(ctx, meta).await;
        let jwks = jwks.as_ref();
        let key_material = if !meta.x5c.is_empty() {
            let chain: Vec<String> = meta.x5c.iter().map(walletd_jose::b64::std_b64).collect();
            json!({"type": "x5c", "x5c": chain})
        } else if let Some(j) = jwks {
            json!({"type": "jwks", "jwks": j})
        } else {
            Value::Null
        };
        let mut request = json!({
            "subject_id": issuer,
            "subject_type": "credential_issuer",
            "requires_resolution": key_material.is_null(),
            "context": {"metadata_signed": meta.signed},
        });
        if !key_material.is_null() {
            request["key_material"] = key_material;
        }
        ctx.progress(
            "evaluating_trust",
            json!({"trust_evaluation_required": true, "request": request}),
        )
        .await;
        let timeout = ctx.engine().config().trust_timeout;
        let a = ctx
            .wait_action(&["trust_result"], timeout, ErrorCode::UntrustedIssuer)
            .await?;
        let trusted = a.payload.get("trusted").and_then(Value::as_bool).unwrap_or(false);
        if !trusted {
            let reason: String = a
                .payload_str("reason")
                .unwrap_or("not trusted")
                .chars()
                .take(200)
                .collect();
            return Err(untrusted(format!("the issuer is not trusted: {reason}")));
        }
        return Ok(());
    }
    let Some(trust) = ctx.engine().trust().cloned() else {
        return Ok(());
    };
    let tenant = ctx.engine().tenant_trust(&ctx.user.tenant_id).await;
    if trust.pdp_for(tenant.pdp_url.as_ref()).is_none() {
        return Ok(());
    }
    let jwks = trust_jwks(ctx, meta).await;
    let jwks = jwks.as_ref();
    let req = if !meta.x5c.is_empty() {
        EvaluationRequest::x5c(issuer, &meta.x5c, Role::CredentialIssuer)
    } else if let Some(r) = jwks.and_then(|j| EvaluationRequest::jwks(issuer, j, Role::CredentialIssuer).ok()) {
        r
    } else {
        EvaluationRequest::resolution(issuer, Some("credential_issuer"), None)
            .with_context("role", json!("credential_issuer"))
    };
    let verdict = tokio::time::timeout(ctx.engine().config().trust_timeout, trust.evaluate(&tenant, &req))
        .await
        .map_err(|_| untrusted("issuer trust could not be evaluated in time".into()))?;
    ctx.progress(
        "trust_evaluated",
        json!({"trusted": verdict.is_trusted(), "framework": verdict.framework, "reason": verdict.reason}),
    )
    .await;
    if !verdict.is_trusted() {
        return Err(untrusted(format!(
            "the issuer is not trusted: {}",
            verdict.reason.as_deref().unwrap_or("no reason given")
        )));
    }
    Ok(())
}

/// The JWKS for the trust evaluation when there is no x5c chain: the one that verified `kid`-signed metadata, else
/// the metadata's `jwks`, else the one at its `jwks_uri` (fetched only here, when a trust evaluation needs it).
async fn trust_jwks(ctx: &FlowCtx, meta: &IssuerMetadata) -> Option<Value> {
    if !meta.x5c.is_empty() {
        return None;
    }
    if let Some(j) = &meta.signing_jwks {
        return Some(j.clone());
    }
    match meta.json.get("jwks").filter(|j| j.get("keys").is_some()) {
        Some(j) => Some(j.clone()),
        None => metadata::fetch_jwks_uri(ctx, meta).await,
    }
}

async fn choose_configuration(
    ctx: &mut FlowCtx,
    offer: &CredentialOffer,
    meta: &IssuerMetadata,
    resume: bool,
) -> FlowResult<String> {
    let ids = &offer.credential_configuration_ids;
    if ids.len() == 1 || resume || !ctx.has_feature("select_credential") {
        // Web profile (and resume): the first offered id.
        return Ok(ids[0].clone());
    }
    let available: Vec<Value> = ids
        .iter()
        .map(|id| {
            let c = meta.configuration(id).cloned().unwrap_or(Value::Null);
            let display = c
                .get("credential_metadata")
                .and_then(|m| m.get("display"))
                .or_else(|| c.get("display"))
                .cloned()
                .unwrap_or(Value::Null);
            json!({"id": id, "display": display, "format": c.get("format"), "vct": c.get("vct")})
        })
        .collect();
    ctx.progress("awaiting_selection", json!({"available_credentials": available}))
        .await;
    let timeout = ctx.engine().config().user_action_timeout;
    let a = ctx
        .wait_action(&["select_credential"], timeout, ErrorCode::CredentialError)
        .await?;
    let chosen = a.payload_str("credential_configuration_id").unwrap_or_default();
    ids.iter()
        .find(|i| *i == chosen)
        .cloned()
        .ok_or_else(|| FlowFailure::new(ErrorCode::InvalidMessage, "the selected configuration was not offered"))
}

fn client_id_for(start: &FlowStart, pre_authorized: bool) -> Option<String> {
    if pre_authorized {
        // Anonymous pre-authorized access: no client_id, no `iss` in proofs.
        return None;
    }
    start.client_id.clone().or_else(|| {
        start
            .redirect_uri
            .as_ref()
            .and_then(|r| url::Url::parse(r).ok())
            .map(|u| u.origin().ascii_serialization())
    })
}

#[allow(clippy::too_many_arguments)]
async fn obtain_token(
    ctx: &mut FlowCtx,
    start: &FlowStart,
    offer: &CredentialOffer,
    config_id: &str,
    config: &Value,
    as_meta: &Value,
    dpop: &mut Dpop,
    auth: &mut ClientAuth,
) -> FlowResult<Tokens> {
    let issuer = offer.credential_issuer.clone();
    // Same-tab resume: straight to the token request with the code the client brought back.
    if let (Some(code), Some(verifier)) = (&start.auth_code, &start.code_verifier) {
        let redirect = start.redirect_uri.clone().unwrap_or_default();
        ctx.progress("exchanging_token", json!({})).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
            ("redirect_uri", redirect.as_str()),
        ];
        return token::request_token(ctx, as_meta, &form, dpop, auth).await;
    }
    if let Some(pre) = offer.pre_authorized_code() {
        let pre = pre.to_string();
        let mut tx_value = None;
        if let Some(tx) = offer.tx_code() {
            let mut tx_obj = tx.clone();
            if let Some(mode) = tx.get("input_mode").cloned() {
                tx_obj["inputMode"] = mode;
            }
            let mut payload = json!({
                "type": "tx_code",
                "pre_authorized_code": pre,
                "tx_code": tx_obj,
                "credential_issuer": issuer,
            });
            if let Some(d) = tx.get("description") {
                payload["message"] = d.clone();
            }
            ctx.progress("authorization_required", payload).await;
            let timeout = ctx.engine().config().user_action_timeout;
            let a = ctx
                .wait_action(&["provide_pin"], timeout, ErrorCode::TokenError)
                .await?;
            tx_value = Some(a.payload_str("tx_code").unwrap_or_default().to_string());
        }
        ctx.progress("exchanging_token", json!({})).await;
        let form = token::pre_authorized_form(&pre, tx_value.as_deref());
        return token::request_token(ctx, as_meta, &form, dpop, auth).await;
    }
    // Authorization code.
    let grant = offer.authorization_code().cloned().unwrap_or(json!({}));
    let redirect = start.redirect_uri.clone().ok_or_else(|| {
        FlowFailure::new(
            ErrorCode::AuthorizationFailed,
            "the authorization code flow needs redirect_uri",
        )
    })?;
    let client_id = auth.client_id.clone().unwrap_or_else(|| redirect.clone());
    auth.client_id = Some(client_id.clone());
    let (verifier, challenge) = token::pkce();
    let state = token::random_token();
    let scope = config.get("scope").and_then(Value::as_str);
    let details = scope
        .is_none()
        .then(|| json!([{"type": "openid_credential", "credential_configuration_id": config_id}]).to_string());
    let url = token::authorization_url(
        ctx,
        as_meta,
        auth,
        &client_id,
        &redirect,
        &state,
        &challenge,
        grant.get("issuer_state").and_then(Value::as_str),
        scope,
        details,
    )
    .await?;
    ctx.progress(
        "authorization_required",
        json!({
            "authorization_url": url,
            "expected_redirect_uri": redirect,
            "state": state,
            "code_verifier": verifier,
            "credential_offer": offer.narrowed_json(config_id),
        }),
    )
    .await;
    let timeout = ctx.engine().config().user_action_timeout;
    let a = ctx
        .wait_action(&["authorization_complete"], timeout, ErrorCode::AuthorizationFailed)
        .await?;
    if a.payload_str("state") != Some(state.as_str()) {
        return Err(FlowFailure::new(
            ErrorCode::AuthorizationFailed,
            "the authorization response has the wrong state",
        ));
    }
    let code = a
        .payload_str("code")
        .ok_or_else(|| FlowFailure::new(ErrorCode::AuthorizationFailed, "authorization_complete needs `code`"))?
        .to_string();
    let verifier = a.payload_str("code_verifier").map(str::to_string).unwrap_or(verifier);
    ctx.progress("exchanging_token", json!({})).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", verifier.as_str()),
        ("redirect_uri", redirect.as_str()),
    ];
    token::request_token(ctx, as_meta, &form, dpop, auth).await
}

/// A renewal request: `flow_start` with `refresh_token`, `credential_issuer` and
/// `selected_credential_configuration_id`.
struct Renewal {
    refresh_token: String,
    credential_issuer: String,
    configuration_id: String,
}

impl Renewal {
    fn from_start(start: &FlowStart) -> FlowResult<Option<Renewal>> {
        let Some(refresh_token) = start.refresh_token.clone().filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let bad = |m: &str| FlowFailure::new(ErrorCode::InvalidMessage, m.to_string());
        let credential_issuer = start
            .credential_issuer
            .clone()
            .filter(|i| url::Url::parse(i).is_ok())
            .ok_or_else(|| bad("renewal (refresh_token) needs credential_issuer, a URL"))?;
        let configuration_id = start
            .selected_credential_configuration_id
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| bad("renewal (refresh_token) needs selected_credential_configuration_id"))?;
        Ok(Some(Renewal {
            refresh_token,
            credential_issuer,
            configuration_id,
        }))
    }
}

/// Client authentication in the spec's order: the client's attestation headers, else the tenant's registration
/// with this issuer (`private_key_jwt` when it has a key, else its `client_id`), else `default_client_id`.
/// The registered private key is a secret: no message here or later names or prints it.
async fn client_auth(
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
