//! Presenting: OID4VP through the engine, matched against the wallet here (the engine never sees the inventory),
//! the user's consent with a choice of claims, key-bound presentations signed with each credential's own key.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use walletd_protocol::{ClientMessage, FlowStart, Protocol, ServerMessage, SignResponse};

use super::{Agent, AgentError, Ui};
use crate::present::{StoredCredential, answer_sign_presentation};
use crate::signer::{HolderSigner, SignerRef, StoreSigner};
use crate::store::{DisclosedRecord, PresentationRecord, WalletData};

/// One credential that can answer one of the verifier's credential queries.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The verifier's credential query id.
    pub query_id: String,
    /// The wallet's credential id.
    pub credential_id: String,
    /// The credential's type.
    pub vct: Option<String>,
    /// Claim paths (joined with ".") to disclose: what the verifier asked for, or the subset the user keeps.
    pub claims: Vec<String>,
    /// The values of those claims, for the user to see.
    pub values: Map<String, Value>,
}

/// What the user is asked to consent to.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    /// The verifier as the engine describes it (client id, name, trust), as sent.
    pub verifier: Value,
    /// One candidate per credential query the wallet can answer.
    pub candidates: Vec<Candidate>,
}

/// What a presentation did.
#[derive(Debug, Clone)]
pub struct Presented {
    /// `presented` or `declined`.
    pub outcome: String,
    /// The verifier's client id, when the engine named it.
    pub verifier: Option<String>,
    /// What was disclosed.
    pub disclosed: Vec<DisclosedRecord>,
    /// Where the verifier sends the user next.
    pub redirect_uri: Option<String>,
}

impl Presented {
    /// What a presentation that failed before anything was disclosed leaves behind.
    pub fn failed() -> Self {
        Presented {
            outcome: "failed".into(),
            verifier: None,
            disclosed: Vec::new(),
            redirect_uri: None,
        }
    }

    /// Its entry in the wallet's history, dated `at` (seconds since the epoch).
    pub fn history_entry(&self, at: u64) -> PresentationRecord {
        PresentationRecord {
            at,
            verifier: self.verifier.clone(),
            disclosed: self.disclosed.clone(),
            outcome: self.outcome.clone(),
        }
    }

    /// What the CLI's `--json` and the C ABI report: the outcome, the verifier, which claims of which credential
    /// were disclosed (paths, never values) and where the verifier sends the user next.
    pub fn summary(&self) -> Value {
        let disclosed: Vec<Value> = self
            .disclosed
            .iter()
            .map(|d| json!({"credential_id": d.credential_id, "claims": d.claims}))
            .collect();
        json!({"outcome": self.outcome, "verifier": self.verifier, "disclosed": disclosed,
            "redirect_uri": self.redirect_uri})
    }
}

fn candidates(payload: &Value, wallet: &WalletData) -> Option<Vec<Candidate>> {
    let stored: Vec<StoredCredential> = wallet.credentials.iter().map(|c| c.stored()).collect();
    let found = match (payload.get("presentation_definition"), payload.get("dcql_query")) {
        (Some(pd), _) if !pd.is_null() => crate::pe::match_definition(pd, &stored)?,
        (_, Some(q)) if !q.is_null() => crate::dcql::match_query(q, &stored)?,
        _ => return None,
    };
    Some(
        found
            .into_iter()
            .map(|m| {
                let claims_of = stored.iter().find(|c| c.id == m.credential_id).map(|c| c.all_claims());
                let values = claims_of
                    .map(|all| {
                        m.disclosed_claims
                            .iter()
                            .filter_map(|p| lookup(&all, p).map(|v| (p.clone(), v)))
                            .collect()
                    })
                    .unwrap_or_default();
                Candidate {
                    vct: wallet.credential(&m.credential_id).and_then(|c| c.vct.clone()),
                    query_id: m.query_id,
                    credential_id: m.credential_id,
                    claims: m.disclosed_claims,
                    values,
                }
            })
            .collect(),
    )
}

fn lookup(all: &Map<String, Value>, path: &str) -> Option<Value> {
    let mut parts = path.split('.');
    let mut v = all.get(parts.next()?)?;
    for p in parts {
        v = match v {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v.clone())
}

/// The `vp_token` for a `sign_presentation` request: each credential presented with the key it is bound to, signed
/// by `signer`.
pub(super) fn vp_token(params: &Value, wallet: &WalletData, signer: &dyn HolderSigner) -> Result<String, String> {
    let stored: Vec<StoredCredential> = wallet.credentials.iter().map(|c| c.stored()).collect();
    let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for c in params["credentials_to_include"]
        .as_array()
        .ok_or("no credentials_to_include")?
    {
        let id = c["credential_id"].as_str().ok_or("no credential_id")?;
        let cred = wallet
            .credential(id)
            .ok_or("the engine named a credential the wallet does not have")?;
        by_key.entry(cred.key_id.clone()).or_default().push(c.clone());
    }
    let mut token = Map::new();
    for (key_id, include) in by_key {
        let key = SignerRef::new(signer, &key_id).map_err(|e| format!("{}: {e}", crate::signer::REFUSED))?;
        let mut p = params.clone();
        p["credentials_to_include"] = Value::Array(include);
        let part: Map<String, Value> =
            serde_json::from_str(&answer_sign_presentation(&p, &stored, &key)?).map_err(|e| e.to_string())?;
        for (qid, list) in part {
            let entry = token.entry(qid).or_insert_with(|| json!([]));
            if let (Some(all), Value::Array(more)) = (entry.as_array_mut(), list) {
                all.extend(more);
            }
        }
    }
    Ok(Value::Object(token).to_string())
}

/// The `flow_start` of an OID4VP request given as a URI (`openid4vp://`, `haip://`, https, or a bare query).
fn start(flow_id: &str, request: &str) -> FlowStart {
    let mut s = FlowStart {
        flow_id: flow_id.to_string(),
        ..Default::default()
    };
    s.protocol = Some(Protocol::Oid4vp);
    s.request_uri = Some(request.trim().to_string());
    s
}

impl Agent {
    /// Runs OID4VP for `request` against `wallet`, asking `ui` for consent; the presentations are signed with the
    /// wallet store's keys.
    pub async fn present(
        &mut self,
        request: &str,
        wallet: &WalletData,
        ui: &mut dyn Ui,
    ) -> Result<Presented, AgentError> {
        let signer = StoreSigner::new(wallet);
        self.present_with(request, wallet, &signer, ui).await
    }

    /// Runs OID4VP for `request` against `wallet`, asking `ui` for consent; each credential's key-binding JWT or
    /// DeviceAuth is signed by `signer` with the key the credential records (`key_id`). A signer's refusal is sent
    /// to the engine as the `sign_response`'s `error`, which ends the flow; the error returned says so.
    pub async fn present_with(
        &mut self,
        request: &str,
        wallet: &WalletData,
        signer: &dyn HolderSigner,
        ui: &mut dyn Ui,
    ) -> Result<Presented, AgentError> {
        let flow_id = self.flow_id("present");
        let mut step = "flow_start".to_string();
        let err = |step: &str, e| AgentError::from_client(step, e);
        self.send(&ClientMessage::FlowStart(Box::new(start(&flow_id, request))))
            .await
            .map_err(|e| err(&step, e))?;
        let mut verifier: Option<String> = None;
        let mut disclosed: Vec<DisclosedRecord> = Vec::new();
        let mut declined: Option<String> = None;
        let mut refused: Option<String> = None;
        for _ in 0..self.limits.max_frames {
            let (msg, v) = self.next_of(&flow_id).await.map_err(|e| err(&step, e))?;
            match msg {
                ServerMessage::FlowComplete(done) => {
                    return Ok(Presented {
                        outcome: "presented".into(),
                        verifier,
                        disclosed,
                        redirect_uri: done.redirect_uri,
                    });
                }
                ServerMessage::FlowError { .. } => {
                    if declined.is_some() {
                        return Ok(Presented {
                            outcome: "declined".into(),
                            verifier,
                            disclosed: Vec::new(),
                            redirect_uri: None,
                        });
                    }
                    return Err(AgentError::refused_or(&step, v, refused));
                }
                ServerMessage::FlowProgress { step: s, payload, .. } => {
                    ui.progress(&s);
                    if s == "credential_selection" {
                        verifier = verifier_id(&payload["verifier"]);
                        let (action, body) = match candidates(&payload, wallet) {
                            None => {
                                declined = Some("no matching credential".into());
                                ("decline", json!({"reason": "no matching credential"}))
                            }
                            Some(cands) => {
                                let request = ConsentRequest {
                                    verifier: payload["verifier"].clone(),
                                    candidates: cands,
                                };
                                match ui.consent(&request) {
                                    Some(chosen) => {
                                        disclosed = chosen
                                            .iter()
                                            .map(|c| DisclosedRecord {
                                                credential_id: c.credential_id.clone(),
                                                claims: c.claims.clone(),
                                            })
                                            .collect();
                                        let selected: Vec<Value> = chosen
                                            .iter()
                                            .map(|c| {
                                                json!({"credential_id": c.credential_id,
                                                    "credential_query_id": c.query_id,
                                                    "disclosed_claims": c.claims})
                                            })
                                            .collect();
                                        ("consent", json!({"selected_credentials": selected}))
                                    }
                                    None => {
                                        declined = Some("user declined".into());
                                        ("decline", json!({"reason": "user declined"}))
                                    }
                                }
                            }
                        };
                        self.action(&flow_id, action, body).await.map_err(|e| err(&s, e))?;
                        if let Some(reason) = &declined
                            && reason == "no matching credential"
                        {
                            return Err(AgentError::at(&s, "no credential in the wallet matches the request"));
                        }
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
                    match vp_token(&params, wallet, signer) {
                        Ok(t) => reply.vp_token = Some(json!(t)),
                        Err(e) => {
                            reply.error = Some(json!(e));
                            refused = Some(e);
                            step = "sign_presentation".into();
                        }
                    }
                    self.send(&ClientMessage::SignResponse(reply))
                        .await
                        .map_err(|e| err("sign_presentation", e))?;
                }
                _ => {}
            }
        }
        Err(AgentError::at(&step, "the flow sent too many frames"))
    }
}

fn verifier_id(v: &Value) -> Option<String> {
    ["client_id", "id", "name"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}
