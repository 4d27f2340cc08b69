//! Step 3, selection: matching on the client (the `match_request` feature, docs/oid4vp.md "match_request"): the
//! engine sends the query, the client answers with its matches or why it has none.

use serde_json::Value;
use walletd_protocol::oid4vp::pe::to_dcql;
use walletd_protocol::{ErrorCode, ServerMessage};

use super::fail;
use super::request::AuthRequest;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::{FlowCtx, FlowInput};

/// Sends `match_request` (the DCQL query; for a PE request the definition and its DCQL translation) and waits for
/// the `match_response` with its `message_id`. `Ok(Err(_))` is an answer for the verifier: `no_match_reason`, no
/// matches, or `decline` (the caller posts `access_denied`, which OpenID4VP 1.0 also uses for a wallet without the
/// requested credentials). `Err(_)` posts nothing: a client `error`, a timeout, a closed session.
pub(super) async fn request_match(
    ctx: &mut FlowCtx,
    req: &AuthRequest,
    query_ids: &[String],
) -> FlowResult<FlowResult<Vec<Value>>> {
    let message_id = uuid::Uuid::new_v4().to_string();
    let (dcql_query, presentation_definition) = match (&req.dcql_query, &req.presentation_definition) {
        (Some(q), _) => (Some(q.clone()), None),
        (None, Some(pd)) => (Some(to_dcql(pd)), Some(pd.clone())),
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
