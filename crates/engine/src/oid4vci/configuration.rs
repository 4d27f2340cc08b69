//! Step 4, the credential configuration: the offer's only one, the first on resume (and for the web profile), else
//! the one the client selects from those offered. A client with the `select_credential` and `mdoc` features may
//! select several in one answer (`credential_configuration_ids`, e.g. the SD-JWT VC and the mdoc of one PID): the
//! flow then issues each with the same access token, `credential_configuration_id` first.

use serde_json::{Value, json};
use walletd_protocol::ErrorCode;
use walletd_protocol::oid4vci::{CredentialIssuerMetadata, CredentialOffer};

use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// The configuration ids to request, the primary one (`selected_credential_configuration_id`) first.
pub(super) async fn choose(
    ctx: &mut FlowCtx,
    offer: &CredentialOffer,
    meta: &CredentialIssuerMetadata,
    resume: bool,
) -> FlowResult<Vec<String>> {
    let ids = &offer.credential_configuration_ids;
    if ids.len() == 1 || resume || !ctx.has_feature("select_credential") {
        // Web profile (and resume): the first offered id.
        return Ok(vec![ids[0].clone()]);
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
            let mut entry = json!({"id": id, "display": display, "format": c.get("format"), "vct": c.get("vct")});
            // mso_mdoc configurations name their document type instead of a vct.
            if let Some(d) = c.get("doctype") {
                entry["doctype"] = d.clone();
            }
            entry
        })
        .collect();
    ctx.progress("awaiting_selection", json!({"available_credentials": available}))
        .await;
    let timeout = ctx.engine().config().user_action_timeout;
    let a = ctx
        .wait_action(&["select_credential"], timeout, ErrorCode::CredentialError)
        .await?;
    let not_offered = || FlowFailure::new(ErrorCode::InvalidMessage, "the selected configuration was not offered");
    let offered = |id: &str| ids.iter().find(|i| *i == id).cloned().ok_or_else(not_offered);
    let primary = a.payload_str("credential_configuration_id").unwrap_or_default();
    let mut chosen = vec![offered(primary)?];
    // Several configurations only for a client that declared it can hold them (`mdoc`: the formats differ).
    if ctx.has_feature("mdoc")
        && let Some(more) = a.payload.get("credential_configuration_ids")
    {
        let more = more.as_array().ok_or_else(|| {
            FlowFailure::new(
                ErrorCode::InvalidMessage,
                "credential_configuration_ids must be an array of offered configuration ids",
            )
        })?;
        for id in more {
            let id = offered(id.as_str().ok_or_else(not_offered)?)?;
            // Each offered id at most once (the offer bounds the list).
            if !chosen.contains(&id) {
                chosen.push(id);
            }
        }
    }
    Ok(chosen)
}
