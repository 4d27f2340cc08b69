//! The trust step of both flows: before the engine talks to an issuer (OID4VCI) or acts on a verifier's request
//! (OID4VP) someone decides whether that party is trusted. Who decides: the client when
//! `engine.client_mediated_trust` is set (a `flow_progress` carries the AuthZEN-shaped request, the client answers
//! with a `trust_result` action), else the tenant's AuthZEN PDP, else nobody. This module asks; each flow words the
//! answer (its error code, messages and what it shows the client differ: docs/api-v2.md).

use serde_json::{Map, Value, json};
use walletd_protocol::{ErrorCode, FlowAction};
use walletd_trust::{EvaluationRequest, Role, TenantTrustSettings, TrustClient, Verdict};

use crate::failure::FlowResult;
use crate::flow::FlowCtx;

/// The key material a trust decision is made on.
pub(crate) enum TrustKey {
    /// A certificate chain (DER, leaf first).
    X5c(Vec<Vec<u8>>),
    /// One public JWK.
    Jwk(Value),
    /// A JWK Set.
    Jwks(Value),
}

impl TrustKey {
    /// The `key_material` member of a client-mediated request (certificates in standard base64, as in `x5c`).
    fn client_json(&self) -> Value {
        match self {
            TrustKey::X5c(chain) => {
                let chain: Vec<String> = chain.iter().map(walletd_jose::b64::std_b64).collect();
                json!({"type": "x5c", "x5c": chain})
            }
            TrustKey::Jwk(j) => json!({"type": "jwk", "jwk": j}),
            TrustKey::Jwks(j) => json!({"type": "jwks", "jwks": j}),
        }
    }
}

/// What is asked: whose trust, in which role, on which key.
pub(crate) struct TrustQuestion {
    /// The entity judged (issuer identifier, verifier client_id, attestation issuer).
    pub subject: String,
    /// Its role in the PDP request.
    pub role: Role,
    /// The `subject_type` of a client-mediated request, and of a PDP request without key material (which asks the
    /// PDP to resolve the subject itself).
    pub subject_type: &'static str,
    /// The key material; `None` asks for resolution.
    pub key: Option<TrustKey>,
    /// Further members of a client-mediated request (`context`, ...).
    pub client_members: Map<String, Value>,
    /// Context members of the PDP request.
    pub pdp_context: Vec<(&'static str, Value)>,
}

impl TrustQuestion {
    /// The request a client-mediated evaluation shows the client.
    fn client_request(&self) -> Value {
        let mut request = json!({"subject_id": self.subject, "subject_type": self.subject_type});
        for (k, v) in &self.client_members {
            request[k] = v.clone();
        }
        if let Some(key) = &self.key {
            request["key_material"] = key.client_json();
        }
        request
    }

    /// The AuthZEN evaluation request for the PDP. A JWKS the trust model cannot carry falls back to resolution.
    fn pdp_request(&self) -> EvaluationRequest {
        let role = self.role.clone();
        let keyed = match &self.key {
            Some(TrustKey::X5c(chain)) => Some(EvaluationRequest::x5c(&self.subject, chain, role)),
            Some(TrustKey::Jwk(j)) => Some(EvaluationRequest::jwk(&self.subject, j.clone(), role)),
            Some(TrustKey::Jwks(j)) => EvaluationRequest::jwks(&self.subject, j, role).ok(),
            None => None,
        };
        let mut req = keyed.unwrap_or_else(|| {
            EvaluationRequest::resolution(&self.subject, Some(self.subject_type), None)
                .with_context("role", json!(self.subject_type))
        });
        for (k, v) in &self.pdp_context {
            req = req.with_context(k, v.clone());
        }
        req
    }
}

/// Who decides a flow's trust question.
pub(crate) enum Judge {
    /// The client (`engine.client_mediated_trust`).
    Client,
    /// The tenant's AuthZEN PDP.
    Pdp {
        /// The AuthZEN client.
        trust: TrustClient,
        /// The tenant's trust settings (its own PDP when it has one).
        tenant: TenantTrustSettings,
    },
}

/// What the judge said.
pub(crate) enum Decision {
    /// The client's `trust_result` action.
    Client(FlowAction),
    /// The PDP's verdict.
    Pdp(Verdict),
    /// The PDP did not answer within `engine.trust_timeout`.
    PdpTimedOut,
}

impl Decision {
    /// Whether the subject is trusted (a client that does not say `trusted: true` says no).
    pub(crate) fn trusted(&self) -> bool {
        match self {
            Decision::Client(a) => a.payload.get("trusted").and_then(Value::as_bool).unwrap_or(false),
            Decision::Pdp(v) => v.is_trusted(),
            Decision::PdpTimedOut => false,
        }
    }
}

impl Judge {
    /// Who decides in this flow; `None` when nobody does (no client-mediated trust, no PDP for the tenant). Asked
    /// first, so that key material that costs a fetch is gathered only when someone will look at it.
    pub(crate) async fn of(ctx: &FlowCtx) -> Option<Judge> {
        if ctx.engine().config().client_mediated_trust {
            return Some(Judge::Client);
        }
        let trust = ctx.engine().trust().cloned()?;
        let tenant = ctx.engine().tenant_trust(&ctx.user.tenant_id).await;
        trust.pdp_for(tenant.pdp_url.as_ref())?;
        Some(Judge::Pdp { trust, tenant })
    }

    /// Puts `question` to the judge. A client is asked with a `flow_progress` of `step` and has
    /// `engine.trust_timeout` to answer (else the flow fails with `code`); the PDP has as long.
    pub(crate) async fn decide(
        self,
        ctx: &mut FlowCtx,
        question: &TrustQuestion,
        step: &str,
        code: ErrorCode,
    ) -> FlowResult<Decision> {
        let timeout = ctx.engine().config().trust_timeout;
        match self {
            Judge::Client => {
                let request = question.client_request();
                ctx.progress(step, json!({"trust_evaluation_required": true, "request": request}))
                    .await;
                let a = ctx.wait_action(&["trust_result"], timeout, code).await?;
                Ok(Decision::Client(a))
            }
            Judge::Pdp { trust, tenant } => {
                let request = question.pdp_request();
                Ok(
                    match tokio::time::timeout(timeout, trust.evaluate(&tenant, &request)).await {
                        Ok(v) => Decision::Pdp(v),
                        Err(_) => Decision::PdpTimedOut,
                    },
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(key: Option<TrustKey>) -> TrustQuestion {
        let mut client_members = Map::new();
        client_members.insert("context".into(), json!({"metadata_signed": false}));
        TrustQuestion {
            subject: "https://i.example".into(),
            role: Role::CredentialIssuer,
            subject_type: "credential_issuer",
            key,
            client_members,
            pdp_context: vec![("response_uri", json!("https://v.example/post"))],
        }
    }

    #[test]
    fn client_requests_carry_the_key_material() {
        let r = question(Some(TrustKey::X5c(vec![vec![1, 2, 3]]))).client_request();
        assert_eq!(
            r,
            json!({"subject_id": "https://i.example", "subject_type": "credential_issuer",
                   "context": {"metadata_signed": false}, "key_material": {"type": "x5c", "x5c": ["AQID"]}})
        );
        let r = question(Some(TrustKey::Jwks(json!({"keys": []})))).client_request();
        assert_eq!(r["key_material"], json!({"type": "jwks", "jwks": {"keys": []}}));
        let r = question(None).client_request();
        assert!(r.get("key_material").is_none());
    }

    #[test]
    fn pdp_requests_without_usable_keys_ask_for_resolution() {
        let resolution = |q: TrustQuestion| {
            let v = serde_json::to_value(q.pdp_request()).unwrap();
            assert_eq!(v["context"]["response_uri"], "https://v.example/post");
            v["context"]["role"] == "credential_issuer"
        };
        assert!(resolution(question(None)));
        // Not a JWKS the trust model can carry: resolution as well.
        assert!(resolution(question(Some(TrustKey::Jwks(json!({"keys": "no"}))))));
        assert!(!resolution(question(Some(TrustKey::X5c(vec![vec![1]])))));
    }
}
