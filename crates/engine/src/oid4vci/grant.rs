//! Step 5, the grant: the authorization code the client brought back (same-tab resume), the offer's pre-authorized
//! code (with the user's tx_code when the offer asks for one), or a fresh authorization: the client is sent to the
//! authorization URL and comes back with `authorization_complete`. The token request itself is in [`super::token`].

use serde_json::{Value, json};
use walletd_protocol::oid4vci::CredentialOffer;
use walletd_protocol::{ErrorCode, FlowStart};

use super::dpop::Dpop;
use super::token::{self, ClientAuth, Tokens};
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// The `client_id` to use: none for anonymous pre-authorized access, else the client's, else its redirect
/// origin.
pub(super) fn client_id_for(start: &FlowStart, pre_authorized: bool) -> Option<String> {
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

/// The grant a flow uses, in the order [`obtain_token`] tries them: the code a same-tab resume brought back, else the
/// offer's pre-authorized code, else a fresh authorization. One decision, read by [`obtain_token`] and by
/// [`waits_for_user`], so the two cannot disagree about which grant comes first.
enum Grant<'a> {
    /// Same-tab resume: the authorization code and PKCE verifier the client brought back.
    Resume { code: &'a str, verifier: &'a str },
    /// The offer's pre-authorized code, and the offer's `tx_code` object when the user must type one.
    PreAuthorized { code: &'a str, tx_code: Option<&'a Value> },
    /// A fresh authorization: the client is sent to the authorization URL.
    Authorization,
}

impl<'a> Grant<'a> {
    fn of(start: &'a FlowStart, offer: &'a CredentialOffer) -> Grant<'a> {
        if let (Some(code), Some(verifier)) = (&start.auth_code, &start.code_verifier) {
            return Grant::Resume { code, verifier };
        }
        match offer.pre_authorized_code() {
            Some(code) => Grant::PreAuthorized {
                code,
                tx_code: offer.tx_code(),
            },
            None => Grant::Authorization,
        }
    }
}

/// Whether [`obtain_token`] (or a renewal's refresh, `renewal`) waits for the user before its token request: for a
/// transaction code, or for a fresh authorization. A same-tab resume brings its code along.
pub(super) fn waits_for_user(start: &FlowStart, offer: &CredentialOffer, renewal: bool) -> bool {
    !renewal
        && matches!(
            Grant::of(start, offer),
            Grant::PreAuthorized { tx_code: Some(_), .. } | Grant::Authorization
        )
}

/// Obtains the tokens through the grant `start` and `offer` call for.
#[allow(clippy::too_many_arguments)]
pub(super) async fn obtain_token(
    ctx: &mut FlowCtx,
    start: &FlowStart,
    offer: &CredentialOffer,
    configs: &[(String, Value)],
    as_meta: &Value,
    dpop: &mut Dpop,
    auth: &mut ClientAuth,
) -> FlowResult<Tokens> {
    match Grant::of(start, offer) {
        Grant::Resume { code, verifier } => {
            // Straight to the token request with the code the client brought back.
            let redirect = start.redirect_uri.clone().unwrap_or_default();
            ctx.progress("exchanging_token", json!({})).await;
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", redirect.as_str()),
            ];
            return token::request_token(ctx, as_meta, &form, dpop, auth).await;
        }
        Grant::PreAuthorized { code, tx_code } => {
            let mut tx_value = None;
            if let Some(tx) = tx_code {
                let mut tx_obj = tx.clone();
                if let Some(mode) = tx.get("input_mode").cloned() {
                    tx_obj["inputMode"] = mode;
                }
                let mut payload = json!({
                    "type": "tx_code",
                    "pre_authorized_code": code,
                    "tx_code": tx_obj,
                    "credential_issuer": offer.credential_issuer,
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
            let form = token::pre_authorized_form(code, tx_value.as_deref());
            return token::request_token(ctx, as_meta, &form, dpop, auth).await;
        }
        Grant::Authorization => {}
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
    // Every selected configuration is authorized at once: their scopes when each has one, else authorization
    // details naming each.
    let scopes: Option<Vec<&str>> = configs
        .iter()
        .map(|(_, c)| c.get("scope").and_then(Value::as_str))
        .collect();
    let scope = scopes.map(|s| s.join(" "));
    let details = scope.is_none().then(|| {
        let d: Vec<Value> = configs
            .iter()
            .map(|(id, _)| json!({"type": "openid_credential", "credential_configuration_id": id}))
            .collect();
        Value::Array(d).to_string()
    });
    let ids: Vec<String> = configs.iter().map(|(id, _)| id.clone()).collect();
    let url = token::authorization_url(
        ctx,
        as_meta,
        auth,
        &client_id,
        &redirect,
        &state,
        &challenge,
        grant.get("issuer_state").and_then(Value::as_str),
        scope.as_deref(),
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
            "credential_offer": offer.narrowed_json(&ids),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(grants: Value) -> CredentialOffer {
        CredentialOffer {
            credential_issuer: "https://issuer.example".into(),
            credential_configuration_ids: vec!["pid".into()],
            grants,
        }
    }

    #[test]
    fn only_a_transaction_code_or_a_fresh_authorization_waits_for_the_user() {
        let pre = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
        let plain = offer(json!({pre: {"pre-authorized_code": "c"}}));
        let with_pin = offer(json!({pre: {"pre-authorized_code": "c", "tx_code": {"length": 4}}}));
        let auth = offer(json!({"authorization_code": {"issuer_state": "s"}}));
        let fresh = FlowStart::default();
        let resumed = FlowStart {
            auth_code: Some("code".into()),
            code_verifier: Some("verifier".into()),
            ..FlowStart::default()
        };
        // A code without its verifier is not a resume: obtain_token starts a fresh authorization for it.
        let half_resumed = FlowStart {
            auth_code: Some("code".into()),
            ..FlowStart::default()
        };
        assert!(!waits_for_user(&fresh, &plain, false));
        assert!(waits_for_user(&fresh, &with_pin, false));
        assert!(waits_for_user(&fresh, &auth, false));
        assert!(waits_for_user(&half_resumed, &auth, false));
        // A resume brings its code, whatever the offer names, and comes before the pre-authorized code.
        assert!(!waits_for_user(&resumed, &auth, false));
        assert!(!waits_for_user(&resumed, &with_pin, false));
        assert!(matches!(Grant::of(&resumed, &with_pin), Grant::Resume { .. }));
        assert!(matches!(
            Grant::of(&fresh, &with_pin),
            Grant::PreAuthorized {
                code: "c",
                tx_code: Some(_)
            }
        ));
        // A renewal refreshes its token without asking.
        assert!(!waits_for_user(&fresh, &auth, true));
    }
}
