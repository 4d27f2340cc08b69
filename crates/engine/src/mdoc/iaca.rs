//! The issuer's IACA certificates for a flow: `walletd_common::mdoc_iacas` (one fetch and cache implementation for
//! the engine and the backend's `/helper/iaca-list`), with its failures as flow failures.

use walletd_common::mdoc_iacas::{IacaError, IacaLimits, IacaList};
use walletd_protocol::ErrorCode;

use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// The IACAs of `uri`, from the process's cache or fetched now through the egress guard.
pub(crate) async fn fetch(ctx: &FlowCtx, uri: &str) -> FlowResult<IacaList> {
    let engine = ctx.engine();
    let limits = IacaLimits::from_config(engine.config());
    let code = ErrorCode::CredentialError;
    engine
        .iacas()
        .fetch(engine.egress(), uri, limits)
        .await
        .map_err(|e| match e {
            IacaError::Egress(e) => FlowFailure::egress(code, "mdoc_iacas_uri", &e),
            other => FlowFailure::new(code, other.to_string()),
        })
}
