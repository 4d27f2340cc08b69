//! The token step: pre-authorized code (with tx_code) or authorization code (PKCE, PAR), DPoP with nonce retry,
//! client authentication.

use serde_json::{Value, json};
use walletd_egress::{METADATA_MAX_BYTES, Method};
use walletd_jose::{EcKey, b64, sha256_b64};
use walletd_protocol::ErrorCode;
use walletd_protocol::oid4vci::PRE_AUTH_GRANT;

use super::dpop::Dpop;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// What the token endpoint gave.
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// `DPoP` or `Bearer`.
    pub token_type: String,
    /// `c_nonce` of drafts.
    pub c_nonce: Option<String>,
    /// For renewal.
    pub refresh_token: Option<String>,
}

/// How the client authenticates at the token (and PAR) endpoint, in the order of docs/oid4vci.md: the client's
/// attestation headers, else the tenant's `private_key_jwt` registration, else a plain `client_id`.
#[derive(Default)]
pub struct ClientAuth {
    /// `client_id` sent as a form parameter (None: anonymous pre-authorized access).
    pub client_id: Option<String>,
    /// `OAuth-Client-Attestation` and `-PoP` headers.
    pub attestation: Option<(String, String)>,
    /// The tenant's registered private key for `private_key_jwt` (RFC 7523 client assertion, ES256). Its Debug
    /// output is the public half only.
    pub assertion_key: Option<EcKey>,
}

/// `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a client assertion is valid (it is made for one request).
const ASSERTION_TTL_SECS: u64 = 60;

impl ClientAuth {
    /// The form parameters of this authentication for one request: `client_id`, plus a fresh client assertion
    /// (`iss` = `sub` = client_id, `aud` = `audience`, `jti`, `iat`, `exp`) with `private_key_jwt`.
    pub fn form_params(&self, audience: &str) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let Some(id) = &self.client_id else { return out };
        out.push(("client_id", id.clone()));
        if self.attestation.is_none()
            && let Some(key) = &self.assertion_key
        {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let claims = json!({
                "iss": id, "sub": id, "aud": audience, "jti": uuid::Uuid::new_v4().to_string(),
                "iat": now, "exp": now + ASSERTION_TTL_SECS,
            });
            let mut header = json!({"typ": "JWT"});
            if let Some(kid) = &key.public_jwk().kid {
                header["kid"] = json!(kid);
            }
            out.push(("client_assertion_type", JWT_BEARER_ASSERTION.to_string()));
            out.push(("client_assertion", key.sign_jwt(&header, &claims)));
        }
        out
    }

    /// Adds the attestation headers, when the client supplied them.
    fn headers<'r>(&self, mut req: walletd_egress::EgressRequest<'r>) -> walletd_egress::EgressRequest<'r> {
        if let Some((att, pop)) = &self.attestation {
            req = req
                .header("OAuth-Client-Attestation", att.as_str())
                .header("OAuth-Client-Attestation-PoP", pop.as_str());
        }
        req
    }
}

/// The audience of a client assertion: the authorization server's issuer identifier (RFC 7523 §3 lets the AS
/// identify itself; the issuer identifier is the unambiguous choice, RFC 8414), else its token endpoint.
pub fn assertion_audience(as_meta: &Value) -> Option<&str> {
    as_meta
        .get("issuer")
        .and_then(Value::as_str)
        .or_else(|| as_meta.get("token_endpoint").and_then(Value::as_str))
}

/// POSTs the token request (form) with DPoP when the AS supports it, retrying once on `use_dpop_nonce`.
pub async fn request_token(
    ctx: &FlowCtx,
    as_meta: &Value,
    form: &[(&str, &str)],
    dpop: &mut Dpop,
    auth: &ClientAuth,
) -> FlowResult<Tokens> {
    let code = ErrorCode::TokenError;
    let endpoint = as_meta
        .get("token_endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| FlowFailure::new(code, "the authorization server has no token_endpoint"))?
        .to_string();
    let use_dpop = as_meta.get("dpop_signing_alg_values_supported").is_some();
    let audience = assertion_audience(as_meta).unwrap_or(&endpoint).to_string();
    for attempt in 0..2 {
        // A fresh assertion per request (its jti is single use).
        let auth_params = auth.form_params(&audience);
        let mut form: Vec<(&str, &str)> = form.to_vec();
        form.extend(auth_params.iter().map(|(k, v)| (*k, v.as_str())));
        let mut req = ctx
            .engine()
            .egress()
            .request(Method::POST, endpoint.clone())
            .header("accept", "application/json")
            .form(&form)
            .max_bytes(METADATA_MAX_BYTES);
        if use_dpop {
            req = req.header("DPoP", dpop.proof(&Method::POST, &endpoint, None));
        }
        req = auth.headers(req);
        let resp = ctx.outbound(code, "token request", req.send()).await?;
        if use_dpop && attempt == 0 && dpop.take_nonce_challenge(&resp) {
            continue;
        }
        if !resp.status.is_success() {
            let oauth_error = resp
                .json::<Value>()
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string));
            let mut f = FlowFailure::new(
                code,
                format!("the token endpoint refused the request (HTTP {})", resp.status.as_u16()),
            );
            if let Some(e) = oauth_error {
                let shown: String = e.chars().take(64).collect();
                f = f.with_details(json!({"error": shown}));
            }
            return Err(f);
        }
        let v: Value = resp
            .json()
            .map_err(|_| FlowFailure::new(code, "the token response is not JSON"))?;
        let access_token = v
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| FlowFailure::new(code, "the token response has no access_token"))?
            .to_string();
        let token_type = v
            .get("token_type")
            .and_then(Value::as_str)
            .unwrap_or("Bearer")
            .to_string();
        return Ok(Tokens {
            access_token,
            token_type,
            c_nonce: v.get("c_nonce").and_then(Value::as_str).map(str::to_string),
            refresh_token: v.get("refresh_token").and_then(Value::as_str).map(str::to_string),
        });
    }
    Err(FlowFailure::new(
        code,
        "the token endpoint kept asking for a new DPoP nonce",
    ))
}

/// The pre-authorized code form.
pub fn pre_authorized_form<'a>(code: &'a str, tx_code: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
    let mut form = vec![("grant_type", PRE_AUTH_GRANT), ("pre-authorized_code", code)];
    if let Some(t) = tx_code {
        form.push(("tx_code", t));
    }
    form
}

/// PKCE verifier and S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = b64(rand::random::<[u8; 32]>());
    let challenge = sha256_b64(&verifier);
    (verifier, challenge)
}

/// An opaque random value (state).
pub fn random_token() -> String {
    b64(rand::random::<[u8; 16]>())
}

/// Builds the authorization URL, pushing the request (PAR) when the AS offers it (required: failure is fatal).
#[allow(clippy::too_many_arguments)]
pub async fn authorization_url(
    ctx: &FlowCtx,
    as_meta: &Value,
    auth: &ClientAuth,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    issuer_state: Option<&str>,
    scope: Option<&str>,
    authorization_details: Option<String>,
) -> FlowResult<String> {
    let code = ErrorCode::AuthorizationFailed;
    let endpoint = as_meta
        .get("authorization_endpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| FlowFailure::new(code, "the authorization server has no authorization_endpoint"))?;
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(s) = issuer_state {
        params.push(("issuer_state", s));
    }
    if let Some(s) = scope {
        params.push(("scope", s));
    }
    if let Some(d) = authorization_details.as_deref() {
        params.push(("authorization_details", d));
    }
    let mut url =
        url::Url::parse(endpoint).map_err(|_| FlowFailure::new(code, "authorization_endpoint is not a URL"))?;
    if let Some(par) = as_meta
        .get("pushed_authorization_request_endpoint")
        .and_then(Value::as_str)
    {
        // The pushed request authenticates the client like the token request does.
        let audience = assertion_audience(as_meta).unwrap_or(par).to_string();
        let auth_params = auth.form_params(&audience);
        let mut form = params.clone();
        form.extend(
            auth_params
                .iter()
                .filter(|(k, _)| *k != "client_id")
                .map(|(k, v)| (*k, v.as_str())),
        );
        let req = ctx
            .engine()
            .egress()
            .request(Method::POST, par)
            .form(&form)
            .max_bytes(METADATA_MAX_BYTES);
        let req = auth.headers(req);
        let resp = ctx.outbound(code, "pushed authorization request", req.send()).await?;
        if !resp.status.is_success() {
            return Err(FlowFailure::new(
                code,
                format!("the PAR endpoint refused the request (HTTP {})", resp.status.as_u16()),
            ));
        }
        let v: Value = resp
            .json()
            .map_err(|_| FlowFailure::new(code, "the PAR response is not JSON"))?;
        let request_uri = v
            .get("request_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| FlowFailure::new(code, "the PAR response has no request_uri"))?;
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("request_uri", request_uri);
    } else {
        let mut q = url.query_pairs_mut();
        for (k, v) in &params {
            q.append_pair(k, v);
        }
    }
    Ok(url.to_string())
}
