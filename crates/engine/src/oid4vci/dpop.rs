//! DPoP (RFC 9449): a fresh P-256 key per flow, proofs per request, and one retry on a server nonce.

use serde_json::{Value, json};
use walletd_egress::{EgressResponse, Method};
use walletd_jose::{EcKey, sha256_b64};

/// A flow's DPoP state.
pub struct Dpop {
    /// The key (fresh per flow, or the client's on renewal).
    pub key: EcKey,
    /// The last `DPoP-Nonce` a server sent.
    pub nonce: Option<String>,
}

impl Dpop {
    /// A fresh key.
    pub fn new() -> Self {
        Dpop {
            key: EcKey::generate(),
            nonce: None,
        }
    }

    /// A proof for `method url`, bound to `access_token` when given.
    pub fn proof(&self, method: &Method, url: &str, access_token: Option<&str>) -> String {
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut claims =
            json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": method.as_str(), "htu": htu, "iat": now});
        if let Some(n) = &self.nonce {
            claims["nonce"] = Value::String(n.clone());
        }
        if let Some(t) = access_token {
            claims["ath"] = Value::String(sha256_b64(t));
        }
        self.key
            .sign_jwt(&json!({"typ": "dpop+jwt", "jwk": self.key.public_jwk()}), &claims)
    }

    /// Whether `resp` asks for a (new) DPoP nonce; remembers it.
    pub fn take_nonce_challenge(&mut self, resp: &EgressResponse) -> bool {
        let nonce = resp
            .headers
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let asks = if resp.status.as_u16() == 401 {
            resp.headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("use_dpop_nonce"))
        } else {
            resp.status.as_u16() == 400
                && resp.json::<Value>().ok().and_then(|v| v.get("error").cloned()) == Some(json!("use_dpop_nonce"))
        };
        match nonce {
            Some(n) if asks => {
                self.nonce = Some(n);
                true
            }
            Some(n) => {
                self.nonce = Some(n);
                false
            }
            None => false,
        }
    }
}

impl Default for Dpop {
    fn default() -> Self {
        Self::new()
    }
}
