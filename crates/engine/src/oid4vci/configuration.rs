//! Step 4, the credential configuration: the offer's only one, the first on resume (and for the web profile), else
//! the one the client selects from those offered.

use serde_json::{Value, json};
use walletd_protocol::ErrorCode;
use walletd_protocol::oid4vci::{CredentialIssuerMetadata, CredentialOffer};

use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// The configuration id to request.
pub(super) async fn choose(
    ctx: &mut FlowCtx,
    offer: &CredentialOffer,
    meta: &CredentialIssuerMetadata,
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
    let chosen = a.payload_str("credential_configuration_id").unwrap_or_default();
    ids.iter()
        .find(|i| *i == chosen)
        .cloned()
        .ok_or_else(|| FlowFailure::new(ErrorCode::InvalidMessage, "the selected configuration was not offered"))
}
