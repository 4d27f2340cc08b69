//! The JSON views of stored rows that the admin API answers and the audit log records. A private `client_jwk` is
//! never shown (`has_client_jwk` says whether there is one).

use serde_json::{Value, json};
use walletd_common::tenant::Tenant;
use walletd_db::{Invite, IssuerRecord, TrustState, VerifierRecord};

/// A tenant as stored.
pub(crate) fn tenant_json(t: &Tenant) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn trust_fields(out: &mut serde_json::Map<String, Value>, t: &TrustState) {
    if let Some(s) = &t.status {
        out.insert("trust_status".into(), json!(s));
    }
    if let Some(f) = &t.framework {
        out.insert("trust_framework".into(), json!(f));
    }
    if let Some(at) = t.evaluated_at {
        out.insert("trust_evaluated_at".into(), json!(at));
    }
}

/// An issuer: never the JWK itself.
pub(crate) fn issuer_json(i: &IssuerRecord) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(i.id));
    out.insert("tenant_id".into(), json!(i.tenant_id));
    out.insert(
        "credential_issuer_identifier".into(),
        json!(i.credential_issuer_identifier),
    );
    if let Some(c) = &i.client_id {
        out.insert("client_id".into(), json!(c));
    }
    out.insert("has_client_jwk".into(), json!(i.client_jwk.is_some()));
    out.insert("visible".into(), json!(i.visible));
    trust_fields(&mut out, &i.trust);
    Value::Object(out)
}

/// A verifier.
pub(crate) fn verifier_json(v: &VerifierRecord) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(v.id));
    out.insert("tenant_id".into(), json!(v.tenant_id));
    out.insert("name".into(), json!(v.name));
    out.insert("url".into(), json!(v.url));
    if let Some(c) = &v.client_id {
        out.insert("client_id".into(), json!(c));
    }
    if let Some(c) = &v.client_id_scheme {
        out.insert("client_id_scheme".into(), json!(c));
    }
    trust_fields(&mut out, &v.trust);
    Value::Object(out)
}

/// An invite.
pub(crate) fn invite_json(i: &Invite) -> Value {
    json!({
        "code": i.code,
        "tenant_id": i.tenant_id,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "used_by": i.used_by,
        "used_at": i.used_at,
    })
}
