//! Forwarding a `credential_notification` to the issuer's `notification_endpoint` with the flow's access token.

use serde_json::json;
use walletd_egress::{METADATA_MAX_BYTES, Method};
use walletd_jose::EcKey;
use walletd_protocol::{CredentialNotification, ErrorBody, ErrorCode};

use super::dpop::Dpop;
use crate::Engine;
use crate::flow::NotificationTarget;

const EVENTS: &[&str] = &["credential_accepted", "credential_failure", "credential_deleted"];

/// POSTs the notification; the error (if any) goes into the `notification_ack`.
pub async fn forward(engine: &Engine, t: &NotificationTarget, n: &CredentialNotification) -> Result<(), ErrorBody> {
    let fail = |code, message: &str| ErrorBody {
        code,
        message: message.into(),
        details: None,
    };
    if !EVENTS.contains(&n.event.as_str()) {
        return Err(fail(ErrorCode::InvalidMessage, "unknown notification event"));
    }
    let mut body = json!({"notification_id": n.notification_id, "event": n.event});
    if let Some(d) = &n.event_description {
        body["event_description"] = json!(d);
    }
    let dpop = t
        .dpop_jwk
        .as_ref()
        .and_then(EcKey::from_private_jwk_value)
        .map(|key| Dpop { key, nonce: None });
    let mut req = engine
        .egress()
        .request(Method::POST, t.endpoint.clone())
        .json(&body)
        .max_bytes(METADATA_MAX_BYTES)
        .header("authorization", format!("{} {}", t.token_type, t.access_token));
    if let Some(d) = &dpop {
        req = req.header("DPoP", d.proof(&Method::POST, &t.endpoint, Some(&t.access_token)));
    }
    match tokio::time::timeout(engine.config().outbound_timeout, req.send()).await {
        Ok(Ok(r)) if r.status.is_success() => Ok(()),
        Ok(Ok(r)) => Err(fail(
            ErrorCode::CredentialError,
            &format!("the issuer refused the notification (HTTP {})", r.status.as_u16()),
        )),
        Ok(Err(e)) if e.code() == "EGRESS_BLOCKED" => Err(fail(ErrorCode::EgressBlocked, &e.to_string())),
        Ok(Err(e)) => Err(fail(ErrorCode::CredentialError, &e.to_string())),
        Err(_) => Err(fail(
            ErrorCode::CredentialError,
            "the notification endpoint did not answer in time",
        )),
    }
}
