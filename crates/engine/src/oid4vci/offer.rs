//! Step 1, the offer: from `flow_start` (`offer` in any encoding, or `credential_offer_uri`), fetched through the
//! egress guard when it is given by reference. Parsing is `walletd_protocol::oid4vci`'s.

use serde_json::Value;
use walletd_egress::METADATA_MAX_BYTES;
use walletd_protocol::oid4vci::{CredentialOffer, OfferSource, parse_offer_input, parse_offer_object, parse_offer_url};
use walletd_protocol::{ErrorCode, FlowStart};

use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

/// The offer of `start`, fetched when it is a reference.
pub(super) async fn resolve(ctx: &FlowCtx, start: &FlowStart) -> FlowResult<CredentialOffer> {
    let bad = |m: String| FlowFailure::new(ErrorCode::OfferParseError, m);
    let source = match (&start.offer, &start.credential_offer_uri) {
        (Some(o), _) if !o.is_null() && o.as_str() != Some("") => parse_offer_input(o).map_err(bad)?,
        (_, Some(uri)) if !uri.is_empty() => {
            // Any other scheme (file:, gopher:, ...) is fetched through the egress guard, which refuses it.
            if uri.starts_with("openid-credential-offer:") {
                parse_offer_url(uri).map_err(bad)?
            } else {
                OfferSource::Reference(uri.clone())
            }
        }
        _ => return Err(bad("flow_start needs `offer` or `credential_offer_uri`".into())),
    };
    match source {
        OfferSource::Value(o) => Ok(o),
        OfferSource::Reference(url) => {
            let code = ErrorCode::OfferParseError;
            let resp = ctx
                .outbound(
                    code,
                    "credential offer",
                    ctx.engine().egress().get(&url, METADATA_MAX_BYTES),
                )
                .await?;
            if !resp.status.is_success() {
                return Err(bad(format!(
                    "the offer location answered HTTP {}",
                    resp.status.as_u16()
                )));
            }
            let v: Value = resp.json().map_err(|_| bad("the fetched offer is not JSON".into()))?;
            parse_offer_object(&v).map_err(bad)
        }
    }
}
