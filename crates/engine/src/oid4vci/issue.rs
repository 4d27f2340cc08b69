//! Steps 6-10 for one credential configuration: nonce, proofs, the credential request (one `invalid_nonce` retry),
//! deferred polling, the mdoc checks and type metadata. A flow runs this once per selected configuration with the
//! same access token (several only for clients that select several, see `configuration`).

use serde_json::{Value, json};
use walletd_protocol::oid4vci::CredentialIssuerMetadata;
use walletd_protocol::{ErrorCode, IssuedCredential};

use super::credential::{self, Issued};
use super::dpop::Dpop;
use super::token::Tokens;
use super::{attestation, encryption};
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;
use crate::vctm;

/// What every configuration of the flow shares.
pub(super) struct Shared<'a> {
    pub issuer: &'a str,
    pub meta: &'a CredentialIssuerMetadata,
    pub tokens: &'a Tokens,
    pub client_id: Option<&'a str>,
    pub reissuance_kid: Option<&'a str>,
    /// The wallet instance of an engine-obtained WIA (key attestations attach to it).
    pub instance_id: Option<&'a str>,
}

/// The credentials of one configuration and its notification id.
pub(super) struct Batch {
    pub credentials: Vec<IssuedCredential>,
    pub notification_id: Option<String>,
}

/// A `c_nonce` the flow fetched while its token request ran (`super::run`), for the first credential request.
pub(super) type EarlyNonce = FlowResult<Option<String>>;

/// Issues `config_id` (whose metadata is `config`) with the flow's token. `early_nonce`, when the flow fetched one,
/// serves the first credential request; an `invalid_nonce` retry fetches a fresh one as always.
pub(super) async fn issue(
    ctx: &mut FlowCtx,
    s: &Shared<'_>,
    dpop: &mut Dpop,
    config_id: &str,
    config: &Value,
    mut early_nonce: Option<EarlyNonce>,
) -> FlowResult<Batch> {
    let meta = s.meta;
    let proof_types = credential::proof_types(config);
    let count = credential::batch_count(meta, ctx.engine().config().max_batch_size);
    let enc_key = match encryption::choose(meta.json.get("credential_response_encryption")) {
        encryption::Support::None => None,
        encryption::Support::Use(enc) => {
            Some(walletd_jose::jwe::RecipientKey::generate(enc).ok_or_else(|| {
                FlowFailure::new(ErrorCode::InternalError, "cannot create the response encryption key")
            })?)
        }
        encryption::Support::RequiredUnsupported => {
            return Err(FlowFailure::new(
                ErrorCode::CredentialError,
                "the issuer requires response encryption with algorithms the engine does not implement (ECDH-ES with A256GCM, A128GCM, A128CBC-HS256 or A256CBC-HS512)",
            ));
        }
    };
    let mut issued = None;
    for attempt in 0..2 {
        let mut body = json!({"credential_configuration_id": config_id});
        if let Some(pt) = &proof_types {
            let n = match early_nonce.take() {
                Some(n) => n?,
                None => credential::nonce(ctx, meta, s.tokens).await?,
            };
            // A client with `provider_attestations` has the engine obtain the key attestation (not on renewal:
            // the client re-proves the key its credential is bound to).
            let proofs = if s.reissuance_kid.is_none() && attestation::by_engine(ctx, pt) {
                attestation::attested_proofs(ctx, s.issuer, n.as_deref(), s.client_id, pt, count, s.instance_id).await?
            } else {
                credential::request_proofs(ctx, s.issuer, n.as_deref(), s.client_id, pt, count, s.reissuance_kid)
                    .await?
            };
            body["proofs"] = proofs;
        }
        if let Some(k) = &enc_key {
            body["credential_response_encryption"] = encryption::request_member(k);
        }
        ctx.progress(
            "requesting_credential",
            json!({"credential_configuration_id": config_id}),
        )
        .await;
        match credential::request_credential(ctx, meta, s.tokens, dpop, &body, enc_key.as_ref()).await {
            Ok(i) => {
                issued = Some(i);
                break;
            }
            Err(None) if attempt == 0 && proof_types.is_some() => continue,
            Err(None) => {
                return Err(FlowFailure::new(
                    ErrorCode::CredentialError,
                    "the issuer refused the proof nonce twice",
                ));
            }
            Err(Some(f)) => return Err(f),
        }
    }
    let issued = issued.ok_or_else(|| FlowFailure::new(ErrorCode::CredentialError, "no credential was issued"))?;

    // 9. Deferred
    let (creds, notification_id) = match issued {
        Issued::Now(c, n) => (c, n),
        Issued::Deferred(tx, interval) => {
            ctx.progress("deferred", json!({"transaction_id": tx, "interval": interval}))
                .await;
            let window = if ctx.web_profile || !ctx.has_feature("deferred") {
                ctx.engine().config().web_deferred_window
            } else {
                ctx.engine().config().flow_timeout
            };
            credential::poll_deferred(ctx, meta, s.tokens, dpop, &tx, interval, window, enc_key.as_ref()).await?
        }
    };

    // 10. Type metadata (failure just omits it)
    let format = config
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or("dc+sd-jwt")
        .to_string();
    let vct = config.get("vct").and_then(Value::as_str).map(str::to_string);
    // mso_mdoc: what the engine can check of the issued mdocs, reported to the client (crate::mdoc).
    if format == walletd_protocol::mdoc::FORMAT {
        crate::mdoc::check_issued(ctx, s.issuer, meta, config, &creds).await?;
    }
    let type_metadata = match &vct {
        Some(v) => vctm::lookup(ctx.engine(), v).await.ok(),
        None => None,
    };
    let credentials = creds
        .into_iter()
        .map(|credential| IssuedCredential {
            format: format.clone(),
            credential,
            vct: vct.clone(),
            type_metadata: type_metadata.clone(),
            notification_id: notification_id.clone(),
            credential_configuration_id: None,
        })
        .collect();
    Ok(Batch {
        credentials,
        notification_id,
    })
}
