//! Accepting a credential offer: OID4VCI through the engine, proofs signed with one of the wallet's keys, the
//! credentials (with the type metadata the engine found) turned into wallet records.

use serde_json::{Value, json};
use walletd_protocol::{ClientMessage, FlowStart, Protocol, ServerMessage, SignResponse};

use super::{Agent, AgentError, Ui};
use crate::client::code_and_state;
use crate::signer::{HolderSigner, SignerRef, StoreSigner};
use crate::store::{CredentialRecord, HolderKeyRecord};

/// What an issuance brought.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The new credentials, ready to be stored.
    pub credentials: Vec<CredentialRecord>,
    /// The credential issuer.
    pub issuer: Option<String>,
}

/// The `offer` member of a `flow_start`: an offer URI as a string, or an offer object given as JSON.
fn offer_value(offer: &str) -> Value {
    match serde_json::from_str::<Value>(offer.trim()) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::String(offer.trim().to_string()),
    }
}

impl Agent {
    /// Runs OID4VCI for `offer` (an `openid-credential-offer://` URI or the offer JSON), binding the credentials to
    /// `key`, a key of the wallet's store.
    pub async fn accept_offer(
        &mut self,
        offer: &str,
        key: &HolderKeyRecord,
        ui: &mut dyn Ui,
    ) -> Result<Issued, AgentError> {
        let pair = key
            .key()
            .ok_or_else(|| AgentError::at("load_key", "the holder key is unusable"))?;
        let signer = StoreSigner::one(&key.id, pair);
        self.accept_offer_with(offer, &signer, &key.id, ui).await
    }

    /// Runs OID4VCI for `offer`, the proofs signed by `signer` with its key `key_id` (the credentials are bound to
    /// it and record it as their `key_id`). A refusal of the signer is sent to the engine as the `sign_response`'s
    /// `error`, which ends the flow; the error returned says the signer refused.
    pub async fn accept_offer_with(
        &mut self,
        offer: &str,
        signer: &dyn HolderSigner,
        key_id: &str,
        ui: &mut dyn Ui,
    ) -> Result<Issued, AgentError> {
        let key = SignerRef::new(signer, key_id).map_err(|e| AgentError {
            signer: true,
            ..AgentError::at("load_key", format!("{}: {e}", crate::signer::REFUSED))
        })?;
        let flow_id = self.flow_id("issue");
        let mut start = FlowStart {
            flow_id: flow_id.clone(),
            ..Default::default()
        };
        start.protocol = Some(Protocol::Oid4vci);
        start.offer = Some(offer_value(offer));
        start.redirect_uri = ui.redirect_uri();
        let mut step = "flow_start".to_string();
        let mut refused: Option<String> = None;
        let err = |step: &str, e| AgentError::from_client(step, e);
        self.send(&ClientMessage::FlowStart(Box::new(start)))
            .await
            .map_err(|e| err(&step, e))?;
        for _ in 0..self.limits.max_frames {
            let (msg, v) = self.next_of(&flow_id).await.map_err(|e| err(&step, e))?;
            match msg {
                ServerMessage::FlowComplete(done) => {
                    let now = crate::now();
                    let credentials = done
                        .credentials
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|c| {
                            let text = c.credential.as_str()?.to_string();
                            Some(CredentialRecord {
                                id: uuid_like(),
                                format: c.format,
                                vct: c.vct.or_else(|| vct_of(&text)),
                                credential: text,
                                key_id: key_id.to_string(),
                                issuer: done.credential_issuer.clone(),
                                configuration_id: done.selected_credential_configuration_id.clone(),
                                type_metadata: c.type_metadata,
                                issued_at: now,
                                updated_at: now,
                            })
                        })
                        .collect::<Vec<_>>();
                    if credentials.is_empty() {
                        return Err(AgentError::at("flow_complete", "the issuer returned no credential"));
                    }
                    return Ok(Issued {
                        credentials,
                        issuer: done.credential_issuer,
                    });
                }
                ServerMessage::FlowError { .. } => {
                    return Err(AgentError::refused_or(&step, v, refused));
                }
                ServerMessage::FlowProgress { step: s, payload, .. } => {
                    ui.progress(&s);
                    if s == "authorization_required" {
                        let (action, body) = authorize(&payload, ui).map_err(|m| AgentError::at(&s, m))?;
                        self.action(&flow_id, action, body).await.map_err(|e| err(&s, e))?;
                    }
                    step = s;
                }
                ServerMessage::SignRequest { message_id, params, .. } => {
                    let mut reply = SignResponse {
                        flow_id: flow_id.clone(),
                        message_id,
                        proofs: None,
                        proof_jwt: None,
                        vp_token: None,
                        error: None,
                    };
                    match crate::proofs(&key, &params) {
                        Ok(p) => reply.proofs = Some(p),
                        Err(e) => {
                            let m = crate::signer::refusal(&e);
                            reply.error = Some(json!(m));
                            refused = Some(m);
                            step = "generate_proof".into();
                        }
                    }
                    self.send(&ClientMessage::SignResponse(reply))
                        .await
                        .map_err(|e| err("generate_proof", e))?;
                }
                _ => {}
            }
        }
        Err(AgentError::at(&step, "the flow sent too many frames"))
    }
}

/// The answer to `authorization_required`: a transaction code, or the code the user brought back from the issuer.
fn authorize(payload: &Value, ui: &mut dyn Ui) -> Result<(&'static str, Value), String> {
    if payload["type"] == "tx_code" {
        let code = ui
            .tx_code(payload)
            .ok_or("the offer needs a transaction code and none was given")?;
        return Ok(("provide_pin", json!({"tx_code": code})));
    }
    let url = payload["authorization_url"]
        .as_str()
        .ok_or("authorization is required but the engine gave no authorization_url")?;
    let redirect = ui
        .authorize(url)
        .ok_or("authorization at the issuer was not completed")?;
    let (code, state) = code_and_state(&redirect);
    Ok(("authorization_complete", json!({"code": code, "state": state})))
}

/// `vct` from an SD-JWT VC's payload.
fn vct_of(sd_jwt: &str) -> Option<String> {
    let jwt = sd_jwt.split('~').next()?;
    let claims = walletd_jose::decode_jwt(jwt)?.claims;
    claims["vct"].as_str().map(str::to_string)
}

/// A random 128-bit id in hex.
pub(crate) fn uuid_like() -> String {
    let mut b = [0u8; 16];
    // The system RNG does not fail on supported platforms.
    aws_lc_rs::rand::fill(&mut b).expect("system random");
    b.iter().map(|x| format!("{x:02x}")).collect()
}
