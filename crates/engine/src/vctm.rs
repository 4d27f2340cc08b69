//! The VCTM flow, and the registry lookup the OID4VCI flow reuses for `type_metadata`.

use serde_json::{Value, json};
use walletd_protocol::{ErrorCode, FlowComplete, FlowStart};

use crate::Engine;
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;
use crate::session::complete;

/// `flow_start {protocol:"vctm", vct}` -> `flow_complete {type_metadata}`.
pub(crate) async fn run(ctx: &mut FlowCtx, start: FlowStart) -> FlowResult<FlowComplete> {
    let vct = start
        .vct
        .filter(|v| !v.is_empty())
        .ok_or_else(|| FlowFailure::new(ErrorCode::InvalidMessage, "a vctm flow needs `vct`"))?;
    ctx.progress("fetching_type_metadata", json!({"vct": vct})).await;
    let meta = lookup(ctx.engine(), &vct)
        .await
        .map_err(|m| FlowFailure::new(ErrorCode::MetadataFetchError, m))?;
    let mut done = complete(&ctx.flow_id);
    done.type_metadata = Some(meta);
    Ok(done)
}

/// The registry role of this process when it has one, else `GET {registry}/type-metadata?vct=...` on the
/// operator-configured registry (not the egress guard: the registry is trusted configuration). Absence of a
/// registry or of the type is an error the caller maps.
pub(crate) async fn lookup(engine: &Engine, vct: &str) -> Result<Value, String> {
    if let Some(local) = engine.type_metadata_source() {
        return local.type_metadata(vct).await;
    }
    let Some((base, http)) = engine.registry() else {
        return Err("no type metadata registry is configured".into());
    };
    let mut url = base
        .join("type-metadata")
        .map_err(|_| "the registry URL cannot be joined".to_string())?;
    url.query_pairs_mut().append_pair("vct", vct);
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|_| "the registry is unreachable".to_string())?;
    if !resp.status().is_success() {
        return Err(format!(
            "the registry has no type metadata for this vct (HTTP {})",
            resp.status().as_u16()
        ));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|_| "the registry answer was cut".to_string())?;
    if body.len() > walletd_egress::METADATA_MAX_BYTES {
        return Err("the registry answer is too large".into());
    }
    let v: Value = serde_json::from_slice(&body).map_err(|_| "the registry answer is not JSON".to_string())?;
    if !v.is_object() {
        return Err("the registry answer is not an object".into());
    }
    Ok(v)
}
