//! AuthZEN request and response shapes (docs/api-v1.md "Trust") and the typed [`Verdict`].

use std::time::SystemTime;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The role asked about (`action.name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// `credential-issuer`.
    CredentialIssuer,
    /// `credential-verifier`.
    CredentialVerifier,
    /// Any other role name.
    Other(String),
}

impl Role {
    /// The AuthZEN action name.
    pub fn as_str(&self) -> &str {
        match self {
            Role::CredentialIssuer => "credential-issuer",
            Role::CredentialVerifier => "credential-verifier",
            Role::Other(s) => s,
        }
    }
}

/// `subject`: the name part of the name-to-key binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// Always `key` for evaluations; resolution requests may name another type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The entity identifier (issuer URL, DID, ...).
    pub id: String,
}

/// `resource`: the key material, or only the entity for resolution requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// `x5c` or `jwk` (absent in resolution-only requests unless a resource type is asked for).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The entity identifier (same as `subject.id`).
    pub id: String,
    /// `x5c`: base64 (standard, padded) DER certificates, leaf first; `jwk`: JWK objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Vec<Value>>,
}

/// `action`: the role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The role name.
    pub name: String,
}

/// An AuthZEN evaluation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRequest {
    /// Who.
    pub subject: Subject,
    /// Which key (absent or key-less for resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// In which role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Extra, non-critical information.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
}

impl EvaluationRequest {
    /// Is the certificate chain (DER, leaf first) bound to `entity_id` for `role`?
    pub fn x5c<C: AsRef<[u8]>>(entity_id: &str, chain_der: &[C], role: Role) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = chain_der
            .iter()
            .map(|c| Value::String(b64.encode(c.as_ref())))
            .collect();
        Self::with_key(entity_id, "x5c", key, role)
    }

    /// Is the JWK bound to `entity_id` for `role`?
    pub fn jwk(entity_id: &str, jwk: Value, role: Role) -> Self {
        Self::with_key(entity_id, "jwk", vec![jwk], role)
    }

    /// Are the keys of a JWKS (`{"keys": [...]}`) bound to `entity_id` for `role`? The set is flattened to its
    /// JWKs. Fails if `jwks` has no `keys` array of objects.
    pub fn jwks(entity_id: &str, jwks: &Value, role: Role) -> Result<Self, String> {
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("JWKS has no \"keys\" array")?;
        if keys.is_empty() || !keys.iter().all(Value::is_object) {
            return Err("JWKS \"keys\" must be a non-empty array of JWK objects".into());
        }
        Ok(Self::with_key(entity_id, "jwk", keys.clone(), role))
    }

    /// A resolution-only request (DIDs, federation entities): no key; a resource type only if asked for.
    pub fn resolution(subject_id: &str, subject_type: Option<&str>, resource_type: Option<&str>) -> Self {
        Self {
            subject: Subject {
                kind: subject_type.unwrap_or("key").to_string(),
                id: subject_id.to_string(),
            },
            resource: Some(Resource {
                kind: resource_type.map(str::to_string),
                id: subject_id.to_string(),
                key: None,
            }),
            action: None,
            context: Map::new(),
        }
    }

    /// Adds a `context` member.
    pub fn with_context(mut self, key: &str, value: Value) -> Self {
        self.context.insert(key.to_string(), value);
        self
    }

    fn with_key(entity_id: &str, kind: &str, key: Vec<Value>, role: Role) -> Self {
        Self {
            subject: Subject {
                kind: "key".into(),
                id: entity_id.into(),
            },
            resource: Some(Resource {
                kind: Some(kind.into()),
                id: entity_id.into(),
                key: Some(key),
            }),
            action: Some(Action {
                name: role.as_str().to_string(),
            }),
            context: Map::new(),
        }
    }
}

/// The PDP's answer: `{"decision": bool, "context": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationResponse {
    /// The decision (required).
    pub decision: bool,
    /// `reason`, `trust_metadata`, ...
    #[serde(default)]
    pub context: Option<Value>,
}

/// A trust verdict. `trusted` is `Some(true)` only when a PDP said so; `None` means "unknown" (no PDP
/// configured); every failure is `Some(false)` (fail closed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `Some(true)` trusted, `Some(false)` not trusted (or evaluation failed), `None` unknown.
    pub trusted: Option<bool>,
    /// The trust framework that decided, when the PDP names one.
    pub framework: Option<String>,
    /// Why (PDP reason, or our own for unknown/failure).
    pub reason: Option<String>,
    /// `context.trust_metadata` from the PDP, passed through.
    pub trust_metadata: Option<Value>,
    /// When the PDP (or the client, for unknown/failure) produced the verdict.
    #[serde(with = "humantime_serde")]
    pub evaluated_at: SystemTime,
}

impl Verdict {
    /// True only for `trusted == Some(true)`.
    pub fn is_trusted(&self) -> bool {
        self.trusted == Some(true)
    }

    /// "Unknown": nobody to ask. Never trusted.
    pub fn unknown(reason: &str) -> Self {
        Self::local(None, reason)
    }

    /// A failed evaluation: not trusted (fail closed).
    pub fn failed(reason: &str) -> Self {
        Self::local(Some(false), reason)
    }

    fn local(trusted: Option<bool>, reason: &str) -> Self {
        Self {
            trusted,
            framework: None,
            reason: Some(reason.to_string()),
            trust_metadata: None,
            evaluated_at: SystemTime::now(),
        }
    }

    /// Builds the verdict of a PDP answer. `framework` is read from `context.framework`, or from
    /// `context.trust_metadata.framework` / `.trust_framework`; `reason` is `context.reason` (non-string reasons
    /// are kept as JSON text).
    pub fn from_response(resp: &EvaluationResponse) -> Self {
        let ctx = resp.context.as_ref();
        let get = |k: &str| ctx.and_then(|c| c.get(k));
        let trust_metadata = get("trust_metadata").cloned();
        let framework = get("framework")
            .or_else(|| trust_metadata.as_ref().and_then(|m| m.get("framework")))
            .or_else(|| trust_metadata.as_ref().and_then(|m| m.get("trust_framework")))
            .and_then(Value::as_str)
            .map(str::to_string);
        let reason = get("reason").and_then(|r| match r {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        });
        Self {
            trusted: Some(resp.decision),
            framework,
            reason,
            trust_metadata,
            evaluated_at: SystemTime::now(),
        }
    }
}
