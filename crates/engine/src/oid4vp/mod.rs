//! The OID4VP flow (spec "OID4VP flow", steps 1-5): resolve and verify the authorization request, evaluate the
//! verifier's trust, let the client choose and consent (matching is the client's), have it sign, post the
//! response. Request parsing is in [`request`], PE/DCQL in [`pe`]/[`dcql`], the response in [`response`].

pub mod attestation;
pub mod dcql;
pub mod did;
pub mod keys;
pub mod pe;
pub mod request;
pub mod response;

use serde_json::{Value, json};
use walletd_egress::{Method, REQUEST_OBJECT_MAX_BYTES};
use walletd_protocol::{ErrorCode, FlowComplete, FlowStart, ServerMessage, SignAction};
use walletd_trust::{EvaluationRequest, Role};

use self::attestation::IssuerKey;
use self::request::{AuthRequest, Authority, ResponseMode, Source};
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::{FlowCtx, FlowInput};
use crate::session::complete;

const CODE: ErrorCode = ErrorCode::PresentationError;

fn fail(message: impl Into<String>) -> FlowFailure {
    FlowFailure::new(CODE, message)
}

/// Runs one presentation flow to its `flow_complete`.
pub(crate) async fn run(ctx: &mut FlowCtx, start: FlowStart) -> FlowResult<FlowComplete> {
    // 1. Request
    ctx.progress("parsing_request", json!({})).await;
    let req = resolve(ctx, &start).await?;
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
    let verifier = evaluate_trust(ctx, &req).await?;

    // 3. Selection and consent (matching happens on the client)
    let query_ids = match (&req.dcql_query, &req.presentation_definition) {
        (Some(q), _) => dcql::query_ids(q),
        (None, Some(pd)) => dcql::query_ids(&pe::to_dcql(pd)),
        _ => Vec::new(),
    };
    let mut payload = json!({"verifier": verifier});
    // Clients with the `match_request` feature (never the web profile) match first; no match ends the flow.
    if !ctx.web_profile && ctx.has_feature("match_request") {
        match request_match(ctx, &req, &query_ids).await? {
            Ok(matches) => payload["matches"] = Value::Array(matches),
            Err(f) => {
                let redirect = post_error(ctx, &req, "access_denied").await;
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
        (None, Some(pd)) => payload["dcql_query"] = pe::to_dcql(pd),
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
            let redirect = post_error(ctx, &req, "access_denied").await;
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
    let mut params = json!({
        "audience": req.client_id,
        "nonce": req.nonce,
        "credentials_to_include": selected,
        "response_uri": req.response_uri,
    });
    if !req.transaction_data.is_empty() {
        params["transaction_data"] = json!(req.transaction_data);
    }
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
    let redirect_uri = submit(ctx, &req, vp_token, submission).await?;
    let mut done = complete(&ctx.flow_id);
    done.redirect_uri = redirect_uri;
    Ok(done)
}

/// Sends `match_request` (the DCQL query; for a PE request the definition and its DCQL translation) and waits for
/// the `match_response` with its `message_id`. `Ok(Err(_))` is an answer for the verifier: `no_match_reason`, no
/// matches, or `decline` (the caller posts `access_denied`, which OpenID4VP 1.0 also uses for a wallet without the
/// requested credentials). `Err(_)` posts nothing: a client `error`, a timeout, a closed session.
async fn request_match(
    ctx: &mut FlowCtx,
    req: &AuthRequest,
    query_ids: &[String],
) -> FlowResult<FlowResult<Vec<Value>>> {
    let message_id = uuid::Uuid::new_v4().to_string();
    let (dcql_query, presentation_definition) = match (&req.dcql_query, &req.presentation_definition) {
        (Some(q), _) => (Some(q.clone()), None),
        (None, Some(pd)) => (Some(pe::to_dcql(pd)), Some(pd.clone())),
        _ => (None, None),
    };
    ctx.step = Some("matching".into());
    tracing::debug!(flow_id = %ctx.flow_id, step = "matching", "flow step");
    ctx.send(ServerMessage::MatchRequest {
        flow_id: ctx.flow_id.clone(),
        message_id: message_id.clone(),
        dcql_query,
        presentation_definition,
    })
    .await;
    let deadline = tokio::time::Instant::now() + ctx.engine().config().sign_timeout;
    loop {
        let input = tokio::time::timeout_at(deadline, ctx.inbox.recv()).await.map_err(|_| {
            FlowFailure::new(
                ErrorCode::FlowTimeout,
                "the client did not answer the match request in time",
            )
        })?;
        match input {
            Some(FlowInput::Match(m)) if m.message_id == message_id => {
                if let Some(e) = &m.error {
                    let text = e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string());
                    let shown: String = text.chars().take(200).collect();
                    return Err(fail(format!("the client could not match: {shown}")));
                }
                let matches = m.matches.unwrap_or_default();
                if let Some(reason) = m.no_match_reason.filter(|_| matches.is_empty()).or_else(|| {
                    matches
                        .is_empty()
                        .then(|| "the client has no matching credential".to_string())
                }) {
                    let shown: String = reason.chars().take(200).collect();
                    return Ok(Err(fail(format!("no matching credential: {shown}"))));
                }
                for m in &matches {
                    if let Some(q) = m.get("credential_query_id").and_then(Value::as_str)
                        && !query_ids.iter().any(|id| id == q)
                    {
                        return Err(fail(
                            "the client matched a credential query the verifier did not ask for",
                        ));
                    }
                }
                return Ok(Ok(matches));
            }
            Some(FlowInput::Action(a)) if a.action == "decline" => {
                let reason = a.payload_str("reason").unwrap_or("declined by the user");
                let shown: String = reason.chars().take(200).collect();
                return Ok(Err(fail(format!("declined: {shown}"))));
            }
            Some(_) => {
                ctx.send(ServerMessage::error(
                    ErrorCode::InvalidMessage,
                    "unexpected message for a flow that is waiting for match_response",
                ))
                .await;
            }
            None => return Err(FlowFailure::new(ErrorCode::InternalError, "the session ended")),
        }
    }
}

fn mode_name(m: ResponseMode) -> &'static str {
    match m {
        ResponseMode::DirectPost => "direct_post",
        ResponseMode::DirectPostJwt => "direct_post.jwt",
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Step 1: the request from `request_uri` / `request_uri_ref` / inline parameters, verified and checked.
async fn resolve(ctx: &FlowCtx, start: &FlowStart) -> FlowResult<AuthRequest> {
    let source = match (&start.request_uri_ref, &start.request_uri) {
        (Some(r), _) if !r.trim().is_empty() => Source::Reference {
            uri: r.trim().to_string(),
            post: false,
            client_id: start.client_id.clone(),
        },
        (_, Some(u)) => request::parse_start(u, start.client_id.as_deref()).map_err(fail)?,
        _ => return Err(fail("flow_start needs request_uri or request_uri_ref")),
    };
    let authenticated = match source {
        Source::Params(mut params) => match params.remove("request") {
            Some(Value::String(jwt)) => {
                let cid = params.get("client_id").and_then(Value::as_str);
                request::verify_request_object(&jwt, cid, None, now()).map_err(fail)?
            }
            _ => request::authenticate_inline(params).map_err(fail)?,
        },
        Source::Reference { uri, post, client_id } => {
            let (text, wallet_nonce) = fetch_request_object(ctx, &uri, post).await?;
            request::verify_request_object(&text, client_id.as_deref(), wallet_nonce.as_deref(), now()).map_err(fail)?
        }
    };
    let mut req = request::validate(authenticated).map_err(fail)?;
    complete_authority(ctx, &mut req).await?;
    Ok(req)
}

/// The asynchronous part of authenticating the verifier: the tenant's registration of a pre-registered client,
/// the DID document of a DID client (from the PDP). Refusals are `PRESENTATION_ERROR`, before anything is posted.
async fn complete_authority(ctx: &FlowCtx, req: &mut AuthRequest) -> FlowResult<()> {
    match &req.authority {
        Authority::Registration => {
            let found = match ctx.engine().directory() {
                Some(d) => d.verifier(&ctx.user.tenant_id, &req.client_id).await,
                None => None,
            };
            let shown: String = req.client_id.chars().take(80).collect();
            let reg = found.ok_or_else(|| {
                fail(format!(
                    "the verifier \"{shown}\" is not registered with this wallet provider (pre-registered client_id)"
                ))
            })?;
            // The request is unsigned: what binds it to the registration is where the response goes.
            let registered = url::Url::parse(&reg.url).ok();
            let target = url::Url::parse(&req.response_uri).ok();
            let same_origin = matches!((&registered, &target), (Some(r), Some(t))
                if r.scheme() == t.scheme() && r.host_str() == t.host_str() && r.port_or_known_default() == t.port_or_known_default());
            if !same_origin {
                return Err(fail(
                    "the response_uri is not on the registered verifier's URL (pre-registered client_id)",
                ));
            }
            req.authority = Authority::Registered(reg);
        }
        Authority::Did {
            did,
            kid,
            key: None,
            jwt,
        } => {
            let doc = resolve_did(ctx, did).await?;
            let key = did::key_from_document(&doc, did, kid).map_err(fail)?;
            keys::verify_with_jwk(jwt, &key, "the request object (DID key)").map_err(fail)?;
            req.authority = Authority::Did {
                did: did.clone(),
                kid: kid.clone(),
                key: Some(key),
                jwt: jwt.clone(),
            };
        }
        _ => {}
    }
    Ok(())
}

/// A DID document through the tenant's PDP (AuthZEN resolution request; the document is the answer's
/// `context.trust_metadata`). Without a PDP only `did:jwk` is supported.
async fn resolve_did(ctx: &FlowCtx, did: &str) -> FlowResult<Value> {
    let method: String = did
        .split(':')
        .take(2)
        .collect::<Vec<_>>()
        .join(":")
        .chars()
        .take(40)
        .collect();
    let no_resolver = || {
        fail(format!(
            "{method} verifiers need a trust service (PDP) to resolve the DID"
        ))
    };
    let trust = ctx.engine().trust().cloned().ok_or_else(no_resolver)?;
    let tenant = ctx.engine().tenant_trust(&ctx.user.tenant_id).await;
    let pdp = trust.pdp_for(tenant.pdp_url.as_ref()).ok_or_else(no_resolver)?;
    let answer = tokio::time::timeout(
        ctx.engine().config().trust_timeout,
        trust.resolve(Some(&pdp), did, None, None),
    )
    .await
    .map_err(|_| fail("the DID resolution did not answer in time"))?
    .map_err(|e| fail(format!("the DID could not be resolved ({})", e.code())))?;
    if answer.get("decision").and_then(Value::as_bool) != Some(true) {
        return Err(fail("the trust service could not resolve the verifier's DID"));
    }
    answer
        .get("context")
        .and_then(|c| c.get("trust_metadata"))
        .filter(|d| d.is_object())
        .cloned()
        .ok_or_else(|| fail("the DID resolution returned no DID document"))
}

/// GETs the request object, or POSTs the wallet's metadata and a fresh `wallet_nonce` (returned for the check).
async fn fetch_request_object(ctx: &FlowCtx, uri: &str, post: bool) -> FlowResult<(String, Option<String>)> {
    let egress = ctx.engine().egress();
    let accept = "application/oauth-authz-req+jwt, application/jwt, application/json";
    let (req, nonce) = if post {
        let nonce = walletd_jose::b64(uuid::Uuid::new_v4().as_bytes());
        let metadata = json!({
            "vp_formats_supported": {"dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}},
            "client_id_prefixes_supported": ["x509_san_dns", "x509_hash", "redirect_uri", "decentralized_identifier",
                "verifier_attestation", "pre-registered"],
            "request_object_signing_alg_values_supported": ["ES256", "ES384", "RS256", "PS256"],
            "response_modes_supported": ["direct_post", "direct_post.jwt"],
        })
        .to_string();
        let r = egress
            .request(Method::POST, uri)
            .header("accept", accept)
            .form(&[("wallet_metadata", metadata.as_str()), ("wallet_nonce", nonce.as_str())]);
        (r, Some(nonce))
    } else {
        (egress.request(Method::GET, uri).header("accept", accept), None)
    };
    let resp = ctx
        .outbound(CODE, "request object", req.max_bytes(REQUEST_OBJECT_MAX_BYTES).send())
        .await?;
    if !resp.status.is_success() {
        return Err(fail(format!("request object: HTTP {}", resp.status.as_u16())));
    }
    Ok((resp.text(), nonce))
}

/// The key material the verifier's trust is judged on, and whose: `(subject, role, key)`.
enum TrustKey {
    X5c(Vec<Vec<u8>>),
    Jwk(Value),
}

const ATTESTATION_ISSUER_ROLE: &str = "verifier-attestation-issuer";

/// Step 2: the verifier as the client shows it; untrusted verifiers end the flow.
async fn evaluate_trust(ctx: &mut FlowCtx, req: &AuthRequest) -> FlowResult<Value> {
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
    // Whose key is judged: the verifier's own (x5c, DID key), or, for an attested verifier, its attestation issuer's.
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
    if ctx.engine().config().client_mediated_trust {
        let mut request = json!({
            "subject_id": subject,
            "subject_type": if attested { ATTESTATION_ISSUER_ROLE } else { "credential_verifier" },
            "context": {"client_id_scheme": req.prefix.scheme_name(), "response_uri": req.response_uri},
        });
        if attested {
            request["context"]["client_id"] = json!(req.client_id);
        }
        match &key {
            Some(TrustKey::X5c(chain)) => {
                let chain: Vec<String> = chain.iter().map(walletd_jose::b64::std_b64).collect();
                request["key_material"] = json!({"type": "x5c", "x5c": chain});
            }
            Some(TrustKey::Jwk(j)) => request["key_material"] = json!({"type": "jwk", "jwk": j}),
            None => {}
        }
        ctx.progress(
            "evaluating_verifier_trust",
            json!({"trust_evaluation_required": true, "request": request}),
        )
        .await;
        let timeout = ctx.engine().config().trust_timeout;
        let a = ctx
            .wait_action(&["trust_result"], timeout, ErrorCode::UntrustedVerifier)
            .await?;
        if !a.payload.get("trusted").and_then(Value::as_bool).unwrap_or(false) {
            return Err(untrusted(
                a.payload_str("reason")
                    .unwrap_or("the client's trust evaluation said no"),
            ));
        }
        verifier["trusted"] = json!(true);
        verifier["trusted_status"] = json!("trusted");
        for k in ["framework", "logo", "name"] {
            if let Some(v) = a.payload.get(k).filter(|v| v.is_string()) {
                verifier[k] = v.clone();
            }
        }
        return Ok(verifier);
    }
    ctx.progress("evaluating_verifier_trust", json!({"client_id": req.client_id}))
        .await;
    // OpenID4VP 1.0: a wallet that cannot establish trust in the attestation's issuer must refuse the request.
    let no_pdp = || {
        if attested {
            Err(untrusted("no trust service is configured to evaluate who attested it"))
        } else {
            Ok(())
        }
    };
    let Some(trust) = ctx.engine().trust().cloned() else {
        no_pdp()?;
        return Ok(verifier);
    };
    let tenant = ctx.engine().tenant_trust(&ctx.user.tenant_id).await;
    if trust.pdp_for(tenant.pdp_url.as_ref()).is_none() {
        no_pdp()?;
        return Ok(verifier);
    }
    let eval = match key {
        Some(TrustKey::X5c(chain)) => EvaluationRequest::x5c(&subject, &chain, role),
        Some(TrustKey::Jwk(j)) => EvaluationRequest::jwk(&subject, j, role),
        None => EvaluationRequest::resolution(&req.client_id, Some("credential_verifier"), None)
            .with_context("role", json!("credential_verifier")),
    }
    .with_context("response_uri", json!(req.response_uri));
    let eval = if attested {
        eval.with_context("client_id", json!(req.client_id))
    } else {
        eval
    };
    let verdict = tokio::time::timeout(ctx.engine().config().trust_timeout, trust.evaluate(&tenant, &eval))
        .await
        .map_err(|_| untrusted("the trust evaluation did not answer in time"))?;
    if !verdict.is_trusted() {
        return Err(untrusted(
            verdict.reason.as_deref().unwrap_or("the trust service said no"),
        ));
    }
    verifier["trusted"] = json!(true);
    verifier["trusted_status"] = json!("trusted");
    if let Some(f) = &verdict.framework {
        verifier["framework"] = json!(f);
    }
    Ok(verifier)
}

/// Posts the response; returns the verifier's `redirect_uri`, if any.
async fn submit(
    ctx: &FlowCtx,
    req: &AuthRequest,
    vp_token: Value,
    submission: Option<Value>,
) -> FlowResult<Option<String>> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    match req.response_mode {
        ResponseMode::DirectPost => {
            let token = match &vp_token {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            fields.push(("vp_token", token));
            if let Some(s) = &submission {
                fields.push(("presentation_submission", s.to_string()));
            }
            if let Some(s) = &req.state {
                fields.push(("state", s.clone()));
            }
        }
        ResponseMode::DirectPostJwt => {
            let jwk = response::encryption_key(&req.client_metadata)
                .ok_or_else(|| fail("the verifier's client_metadata has no P-256 encryption key"))?;
            let enc = response::choose_enc(&req.client_metadata).map_err(fail)?;
            let mut payload = json!({"vp_token": vp_token});
            if let Some(s) = &submission {
                payload["presentation_submission"] = s.clone();
            }
            if let Some(s) = &req.state {
                payload["state"] = json!(s);
            }
            let jwe = response::encrypt(&jwk, enc, payload.to_string().as_bytes()).map_err(fail)?;
            fields.push(("response", jwe));
        }
    }
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = ctx
        .outbound(
            CODE,
            "verifier response_uri",
            ctx.engine()
                .egress()
                .request(Method::POST, req.response_uri.as_str())
                .header("accept", "application/json")
                .form(&pairs)
                .send(),
        )
        .await?;
    let body: Value = resp.json().unwrap_or(Value::Null);
    if !resp.status.is_success() {
        let mut f = fail(format!(
            "the verifier rejected the presentation: HTTP {}",
            resp.status.as_u16()
        ));
        if let Some(e) = body.get("error").and_then(Value::as_str) {
            f = f.with_details(json!({"error": e.chars().take(100).collect::<String>()}));
        }
        return Err(f);
    }
    Ok(body.get("redirect_uri").and_then(Value::as_str).map(str::to_string))
}

/// Tells the verifier the user said no (best effort); returns its `redirect_uri`, if any.
async fn post_error(ctx: &FlowCtx, req: &AuthRequest, error: &str) -> Option<String> {
    let mut pairs = vec![("error", error)];
    if let Some(s) = &req.state {
        pairs.push(("state", s.as_str()));
    }
    let send = ctx
        .engine()
        .egress()
        .request(Method::POST, req.response_uri.as_str())
        .header("accept", "application/json")
        .form(&pairs)
        .send();
    let resp = ctx.outbound(CODE, "verifier response_uri", send).await.ok()?;
    let body: Value = resp.json().ok()?;
    body.get("redirect_uri").and_then(Value::as_str).map(str::to_string)
}
