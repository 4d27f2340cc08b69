//! Reading and minting JWTs in tests: the parts of a token without verification (test inspection only), and
//! HS256 access tokens on the legacy shared secret that `jwt.secret` configures.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// base64url without padding, as JOSE and WebAuthn use it.
pub fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url (padding tolerated); panics on bad input, which is a bug in the test.
pub fn unb64u(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).expect("base64url")
}

/// The protected header of a JWT.
pub fn header(jwt: &str) -> Value {
    part(jwt, 0)
}

/// The claims of a JWT.
pub fn claims(jwt: &str) -> Value {
    part(jwt, 1)
}

/// The key id (`kid`) in a JWT's header.
pub fn kid(jwt: &str) -> String {
    header(jwt)["kid"].as_str().expect("a kid in the header").to_string()
}

fn part(jwt: &str, index: usize) -> Value {
    let encoded = jwt.split('.').nth(index).unwrap_or_else(|| panic!("not a JWT: {jwt}"));
    serde_json::from_slice(&unb64u(encoded)).expect("a JSON part")
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

/// An HS256 token signed with `secret` carrying exactly `claims`.
pub fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("an HMAC key"),
    )
    .expect("HS256 signing")
}

/// An HS256 access token as walletd accepts it on the shared secret: `sub` = `user`, `tenant_id` = `tenant`,
/// `iss` = `aud` = `walletd`, issued now, valid `ttl_secs` (negative: already expired).
pub fn hs256_access(secret: &str, tenant: &str, user: &str, ttl_secs: i64) -> String {
    let now = unix_now() as i64;
    let claims = json!({
        "sub": user, "tenant_id": tenant, "iss": "walletd", "aud": "walletd", "iat": now, "exp": now + ttl_secs,
    });
    hs256(secret, &claims)
}
