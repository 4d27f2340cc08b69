//! A local OpenID provider on 127.0.0.1 for OIDC gate tests: serves a discovery document and a JWKS (one ES256
//! and one RS256 key, fixed test keys under `fixtures/`), counts JWKS fetches, and mints ID tokens.
//! walletd reaches it through the egress guard, so a test config needs `egress_loopback()` (http + 127.0.0.1).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::jwt::unix_now;

const EC_PEM: &str = include_str!("../fixtures/oidc-provider-ec.pem");
const RSA_PEM: &str = include_str!("../fixtures/oidc-provider-rsa.pem");
const EC_X: &str = "VlE_dSrSE02fI0e16H8JbHK09KEdQwoF3Wq78QYSjQI";
const EC_Y: &str = "ZYuX5NEWQZTiFF9ZTy1kpiNJFQqusYhXoXBSjgwxKP0";
const RSA_N: &str = "8yW7DoHNHmyFQMk-hsfi2dohEJKugB3gz20NC5ysg8P5V82-eAuIGSrIzeeAbLAH2rkYjIhBW-f1cpSJRcV8k8Vqul1Z733saPXh3q2ATeyCfkJiioe1EtYdqxFIeC28f_UgP1b77v16sMbmIhEbXRJGsBRuoRJQEe6Z-jOKbA-pEkw1IeJDawCBjkDE__qNYhcTJrCAuqECLXv2furJ4F0z6V_tKZg7GgrJFElDghmPuExjjVZbRrg9ktjTHcvv6PMrODxHKvFyZHaV35-pOEd_g35tvBE9IxAo5hteb0OJ41-huLBW3sZX0ikNM1ZvqZolRwwV3y6yuHmnDHm5TQ";

/// The client id the provider's tokens are minted for by default.
pub const CLIENT_ID: &str = "wallet-web";

/// A running provider.
pub struct OidcProvider {
    issuer: String,
    jwks_fetches: Arc<AtomicUsize>,
}

impl OidcProvider {
    /// Starts the provider on a free port of 127.0.0.1.
    pub async fn start() -> OidcProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind OIDC provider");
        let issuer = format!("http://{}", listener.local_addr().expect("OIDC provider address"));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        });
        let jwks = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "ec-1", "alg": "ES256", "use": "sig"},
            {"kty": "RSA", "n": RSA_N, "e": "AQAB", "kid": "rsa-1", "alg": "RS256", "use": "sig"},
        ]});
        let counter = jwks_fetches.clone();
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let d = discovery.clone();
                    async move { Json(d) }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let k = jwks.clone();
                    async move { Json(k) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        OidcProvider { issuer, jwks_fetches }
    }

    /// The issuer URL (also the base URL).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The claims of a valid ID token for [`CLIENT_ID`], subject `sub`, valid for five minutes.
    pub fn claims(&self, sub: &str) -> Value {
        let now = unix_now();
        json!({"iss": self.issuer, "aud": CLIENT_ID, "sub": sub, "iat": now, "exp": now + 300,
               "email": format!("{sub}@example.org"), "email_verified": true})
    }

    /// `claims` signed with the provider's ES256 (`alg` ES256) or RS256 key.
    pub fn sign(&self, alg: Algorithm, claims: &Value) -> String {
        let (key, kid) = match alg {
            Algorithm::ES256 => (EncodingKey::from_ec_pem(EC_PEM.as_bytes()).expect("EC key"), "ec-1"),
            Algorithm::RS256 => (EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).expect("RSA key"), "rsa-1"),
            other => panic!("the test provider has no {other:?} key"),
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, &key).expect("sign ID token")
    }

    /// A valid ES256 ID token for `sub`.
    pub fn id_token(&self, sub: &str) -> String {
        self.sign(Algorithm::ES256, &self.claims(sub))
    }

    /// The tenant gate configuration (`oidc_gate`) that trusts this provider for `mode`.
    pub fn gate(&self, mode: &str) -> Value {
        json!({
            "mode": mode,
            "registration_op": {"display_name": "Test IdP", "issuer": self.issuer, "client_id": CLIENT_ID},
        })
    }
}

/// `token` with its signature changed (same header and claims): a bad signature.
pub fn tamper_signature(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').expect("a JWT");
    let mut bytes = crate::jwt::unb64u(sig);
    bytes[0] ^= 0x01;
    format!("{rest}.{}", crate::jwt::b64u(&bytes))
}
