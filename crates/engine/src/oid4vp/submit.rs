//! Step 5, the response: posted to the verifier's `response_uri` (`direct_post`, or `direct_post.jwt` encrypted to
//! its key, [`super::response`]); a refusal is posted there too.

use serde_json::{Value, json};
use walletd_egress::Method;

use super::request::{AuthRequest, ResponseMode};
use super::{CODE, fail, response};
use crate::failure::FlowResult;
use crate::flow::FlowCtx;

/// Posts the response; returns the verifier's `redirect_uri`, if any.
pub(super) async fn submit(
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
pub(super) async fn post_error(ctx: &FlowCtx, req: &AuthRequest, error: &str) -> Option<String> {
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
