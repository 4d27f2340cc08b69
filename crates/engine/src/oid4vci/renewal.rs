//! Renewal: a `flow_start` with a refresh token skips the offer and the authorization (the engine keeps nothing; the
//! client brings what the last issuance gave it).

use walletd_protocol::{ErrorCode, FlowStart};

use crate::failure::{FlowFailure, FlowResult};

/// A renewal request: `flow_start` with `refresh_token`, `credential_issuer` and
/// `selected_credential_configuration_id`.
pub(super) struct Renewal {
    /// The refresh token.
    pub refresh_token: String,
    /// The issuer identifier.
    pub credential_issuer: String,
    /// The configuration to renew.
    pub configuration_id: String,
}

impl Renewal {
    /// The renewal `start` asks for; `None` without a refresh token.
    pub fn from_start(start: &FlowStart) -> FlowResult<Option<Renewal>> {
        let Some(refresh_token) = start.refresh_token.clone().filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let bad = |m: &str| FlowFailure::new(ErrorCode::InvalidMessage, m.to_string());
        let credential_issuer = start
            .credential_issuer
            .clone()
            .filter(|i| url::Url::parse(i).is_ok())
            .ok_or_else(|| bad("renewal (refresh_token) needs credential_issuer, a URL"))?;
        let configuration_id = start
            .selected_credential_configuration_id
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| bad("renewal (refresh_token) needs selected_credential_configuration_id"))?;
        Ok(Some(Renewal {
            refresh_token,
            credential_issuer,
            configuration_id,
        }))
    }
}
