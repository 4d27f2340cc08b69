//! A tenant's OIDC gate (`oidc_gate` in the tenant record): registration and/or login begin only with a valid ID
//! token of the tenant's OpenID provider, sent as `Authorization: Bearer <id_token>`. The field names are those
//! the web client reads from `GET /api/v1/tenants/{id}/config` (wallet-frontend `src/api/types.ts`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Which ceremonies the gate guards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OidcGateMode {
    /// Nothing is gated.
    #[default]
    None,
    Registration,
    Login,
    Both,
}

/// A ceremony the gate may guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatedCeremony {
    Registration,
    Login,
}

/// An OpenID provider of the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// Shown on the client's button ("Corporate SSO").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The `iss` of its ID tokens; discovery is `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client's public client id at the provider; the required `aud` unless `audience` is set.
    pub client_id: String,
    /// Scopes the client requests (default `openid profile email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
    /// Required `aud` when it is not `client_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// JWKS URL, skipping discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
}

impl OidcProvider {
    /// The `aud` an ID token must carry.
    pub fn required_audience(&self) -> &str {
        self.audience.as_deref().unwrap_or(&self.client_id)
    }

    /// What the client needs to start its OIDC flow (the `oidc_config` of a 401 `oidc_gate_required`).
    pub fn public_config(&self) -> Value {
        json!({
            "display_name": self.display_name.as_deref().unwrap_or(&self.issuer),
            "issuer": self.issuer,
            "client_id": self.client_id,
            "scopes": self.scopes.as_deref().unwrap_or("openid profile email"),
        })
    }
}

/// The gate of one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcGate {
    pub mode: OidcGateMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_op: Option<OidcProvider>,
    /// The login provider; `registration_op` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_op: Option<OidcProvider>,
    /// Claims the ID token must carry with these values (an array claim must contain the value), e.g.
    /// `{"email_verified": true, "groups": "wallet-users"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub required_claims: BTreeMap<String, Value>,
    /// Part of the client's type; binding the provider's `sub` to the account is not implemented, so `true` is
    /// refused by the admin API rather than silently ignored.
    #[serde(default)]
    pub bind_identity: bool,
}

impl OidcGate {
    /// The provider guarding `ceremony`, or `None` when the gate leaves it open.
    pub fn provider_for(&self, ceremony: GatedCeremony) -> Option<&OidcProvider> {
        let gated = matches!(
            (self.mode, ceremony),
            (OidcGateMode::Both, _)
                | (OidcGateMode::Registration, GatedCeremony::Registration)
                | (OidcGateMode::Login, GatedCeremony::Login)
        );
        if !gated {
            return None;
        }
        match ceremony {
            GatedCeremony::Registration => self.registration_op.as_ref(),
            GatedCeremony::Login => self.login_op.as_ref().or(self.registration_op.as_ref()),
        }
    }

    /// Configuration errors the admin API refuses (a gated ceremony without a provider, an unusable issuer).
    pub fn problems(&self) -> Option<String> {
        if self.bind_identity {
            return Some("oidc_gate.bind_identity is not supported".into());
        }
        for ceremony in [GatedCeremony::Registration, GatedCeremony::Login] {
            let gated = self.mode == OidcGateMode::Both
                || (self.mode == OidcGateMode::Registration && ceremony == GatedCeremony::Registration)
                || (self.mode == OidcGateMode::Login && ceremony == GatedCeremony::Login);
            if gated && self.provider_for(ceremony).is_none() {
                return Some(format!(
                    "oidc_gate.mode {:?} needs a provider for {ceremony:?}",
                    self.mode
                ));
            }
        }
        for op in [&self.registration_op, &self.login_op].into_iter().flatten() {
            let ok = url::Url::parse(&op.issuer).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
            if !ok {
                return Some(format!("oidc_gate: issuer `{}` is not an http(s) URL", op.issuer));
            }
            if op.client_id.is_empty() {
                return Some("oidc_gate: client_id must not be empty".into());
            }
        }
        None
    }

    /// The part the client reads from the tenant config (no `required_claims`, no `jwks_uri`/`audience`).
    pub fn public_config(&self) -> Value {
        let mut out = json!({"mode": self.mode, "bind_identity": self.bind_identity});
        for (key, op) in [("registration_op", &self.registration_op), ("login_op", &self.login_op)] {
            if let Some(op) = op {
                out[key] = op.public_config();
            }
        }
        out
    }

    /// Whether `claims` carry every required claim.
    pub fn claims_satisfied(&self, claims: &Value) -> Result<(), String> {
        for (name, want) in &self.required_claims {
            let ok = match claims.get(name) {
                Some(Value::Array(items)) => items.contains(want),
                Some(v) => v == want,
                None => false,
            };
            if !ok {
                return Err(format!("the ID token lacks the required claim `{name}`"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(issuer: &str) -> OidcProvider {
        OidcProvider {
            display_name: None,
            issuer: issuer.into(),
            client_id: "wallet".into(),
            scopes: None,
            audience: None,
            jwks_uri: None,
        }
    }

    #[test]
    fn modes_pick_providers() {
        let mut g = OidcGate {
            mode: OidcGateMode::Registration,
            registration_op: Some(op("https://a.example")),
            ..Default::default()
        };
        assert!(g.provider_for(GatedCeremony::Registration).is_some());
        assert!(g.provider_for(GatedCeremony::Login).is_none());
        g.mode = OidcGateMode::Both;
        assert_eq!(
            g.provider_for(GatedCeremony::Login).unwrap().issuer,
            "https://a.example",
            "falls back"
        );
        g.login_op = Some(op("https://b.example"));
        assert_eq!(
            g.provider_for(GatedCeremony::Login).unwrap().issuer,
            "https://b.example"
        );
        g.mode = OidcGateMode::None;
        assert!(g.provider_for(GatedCeremony::Registration).is_none());
        assert!(g.problems().is_none());
        let bad = OidcGate {
            mode: OidcGateMode::Login,
            ..Default::default()
        };
        assert!(bad.problems().is_some());
    }

    #[test]
    fn the_client_shape_parses() {
        let g: OidcGate = serde_json::from_value(json!({
            "mode": "registration",
            "registration_op": {"display_name": "SSO", "issuer": "https://login.example", "client_id": "w",
                                "scopes": "openid email"},
            "bind_identity": false
        }))
        .unwrap();
        assert_eq!(g.public_config()["registration_op"]["display_name"], "SSO");
        assert!(serde_json::from_value::<OidcGate>(json!({"mode": "sometimes"})).is_err());
    }

    #[test]
    fn required_claims_match_values_and_array_members() {
        let g = OidcGate {
            required_claims: [
                ("email_verified".to_string(), json!(true)),
                ("groups".to_string(), json!("w")),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        assert!(
            g.claims_satisfied(&json!({"email_verified": true, "groups": ["x", "w"]}))
                .is_ok()
        );
        assert!(
            g.claims_satisfied(&json!({"email_verified": true, "groups": "w"}))
                .is_ok()
        );
        assert!(
            g.claims_satisfied(&json!({"email_verified": false, "groups": "w"}))
                .is_err()
        );
        assert!(g.claims_satisfied(&json!({"groups": ["w"]})).is_err());
    }
}
