//! Typed JSON Web Keys (RFC 7517): the members walletd reads, the `kty`/`crv` checks before a key is used, RFC 7638
//! thumbprints, and JWK Sets stripped of private members.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::b64::{b64_decode, sha256_b64};

/// Why a JWK cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// Not a JSON object with a string `kty` (or a member has the wrong JSON type).
    #[error("not a JWK")]
    NotAJwk,
    /// The key type is not the one needed (e.g. an RSA key where an EC key is required).
    #[error("the key type is not {0}")]
    WrongKeyType(&'static str),
    /// An EC key on another curve than the one needed.
    #[error("the key is not on curve {0}")]
    WrongCurve(&'static str),
    /// A required member is missing or not base64url of the right length.
    #[error("the key is malformed")]
    Malformed,
}

/// The elliptic curves walletd verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    /// NIST P-256 (ES256, ECDH-ES).
    P256,
    /// NIST P-384 (ES384).
    P384,
}

impl EcCurve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
        }
    }

    /// The length of one coordinate in bytes.
    pub fn coordinate_len(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
        }
    }
}

/// Members that carry private key material (EC/OKP `d`, RSA CRT parameters, symmetric `k`).
const PRIVATE_MEMBERS: [&str; 7] = ["p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JSON Web Key. The members walletd reads are typed; any other member is kept as it came (`other`) so a key
/// forwarded to a PDP is not silently changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`, `RSA`, `OKP`, `oct`.
    pub kty: String,
    /// EC curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// EC private scalar (base64url); only in private JWKs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// RSA modulus (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The algorithm the key is meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `sig` or `enc`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Every other member, as it came.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Jwk {
    /// A public EC JWK from its uncompressed SEC1 point (`0x04 || x || y`); `None` when the point is not one.
    pub fn from_ec_point(curve: EcCurve, point: &[u8]) -> Option<Jwk> {
        let len = curve.coordinate_len();
        if point.len() != 1 + 2 * len || point[0] != 0x04 {
            return None;
        }
        Some(Jwk {
            kty: "EC".into(),
            crv: Some(curve.name().into()),
            x: Some(crate::b64(&point[1..1 + len])),
            y: Some(crate::b64(&point[1 + len..])),
            ..Jwk::empty()
        })
    }

    fn empty() -> Jwk {
        Jwk {
            kty: String::new(),
            crv: None,
            x: None,
            y: None,
            d: None,
            n: None,
            e: None,
            kid: None,
            alg: None,
            key_use: None,
            other: BTreeMap::new(),
        }
    }

    /// Reads a JWK from JSON (an object with a string `kty`).
    pub fn from_value(v: &Value) -> Result<Jwk, JwkError> {
        if !v.is_object() {
            return Err(JwkError::NotAJwk);
        }
        serde_json::from_value(v.clone()).map_err(|_| JwkError::NotAJwk)
    }

    /// The JWK as JSON.
    pub fn to_value(&self) -> Value {
        // Serializing plain strings and JSON values cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The same key with `kid` set.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Jwk {
        self.kid = Some(kid.into());
        self
    }

    /// The curve of an EC key (`None` for other key types and unknown curves).
    pub fn ec_curve(&self) -> Option<EcCurve> {
        if self.kty != "EC" {
            return None;
        }
        match self.crv.as_deref()? {
            "P-256" => Some(EcCurve::P256),
            "P-384" => Some(EcCurve::P384),
            _ => None,
        }
    }

    /// The uncompressed SEC1 point of an EC key on `curve`, after checking `kty`, `crv` and coordinate lengths.
    pub fn ec_point(&self, curve: EcCurve) -> Result<Vec<u8>, JwkError> {
        if self.kty != "EC" {
            return Err(JwkError::WrongKeyType("EC"));
        }
        if self.crv.as_deref() != Some(curve.name()) {
            return Err(JwkError::WrongCurve(curve.name()));
        }
        let len = curve.coordinate_len();
        let coord = |c: &Option<String>| c.as_deref().and_then(b64_decode).filter(|b| b.len() == len);
        let (Some(x), Some(y)) = (coord(&self.x), coord(&self.y)) else {
            return Err(JwkError::Malformed);
        };
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Ok(point)
    }

    /// The RSA public key as (modulus, exponent), big-endian, after checking `kty`.
    pub fn rsa_components(&self) -> Result<(Vec<u8>, Vec<u8>), JwkError> {
        if self.kty != "RSA" {
            return Err(JwkError::WrongKeyType("RSA"));
        }
        let member = |m: &Option<String>| m.as_deref().and_then(b64_decode).filter(|b| !b.is_empty());
        match (member(&self.n), member(&self.e)) {
            (Some(n), Some(e)) => Ok((n, e)),
            _ => Err(JwkError::Malformed),
        }
    }

    /// RFC 7638 SHA-256 thumbprint (EC and RSA keys): the required members in lexicographic order, no whitespace.
    pub fn thumbprint(&self) -> Result<String, JwkError> {
        let s = |m: &Option<String>| -> Result<String, JwkError> {
            let v = m.as_deref().ok_or(JwkError::Malformed)?;
            // A JSON string literal: escapes anything a hostile key could smuggle into the canonical form.
            serde_json::to_string(v).map_err(|_| JwkError::Malformed)
        };
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                s(&self.crv)?,
                s(&self.x)?,
                s(&self.y)?
            ),
            "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, s(&self.e)?, s(&self.n)?),
            _ => return Err(JwkError::WrongKeyType("EC or RSA")),
        };
        Ok(sha256_b64(canonical))
    }

    /// Whether the key carries private material.
    pub fn is_private(&self) -> bool {
        self.d.is_some() || PRIVATE_MEMBERS.iter().any(|m| self.other.contains_key(*m))
    }

    /// The public members only (what may be published or shown to a PDP).
    pub fn public_only(&self) -> Jwk {
        let mut k = self.clone();
        k.d = None;
        for m in PRIVATE_MEMBERS {
            k.other.remove(m);
        }
        k
    }
}

impl std::fmt::Display for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

/// A JWK Set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The key with `kid`.
    pub fn find_kid(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// The set as JSON.
    pub fn to_value(&self) -> Value {
        serde_json::json!({"keys": self.keys.iter().map(Jwk::to_value).collect::<Vec<_>>()})
    }
}

/// A JWK Set from untrusted bytes: an object whose `keys` is a non-empty array (at most 100) of JWKs. Only public
/// members are kept (a JWKS must not carry private keys; a careless one is not forwarded).
pub fn parse_jwks(body: &[u8]) -> Option<Jwks> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let keys = v.get("keys")?.as_array()?;
    if keys.is_empty() || keys.len() > 100 {
        return None;
    }
    let keys = keys
        .iter()
        .map(|k| Jwk::from_value(k).ok().map(|k| k.public_only()))
        .collect::<Option<Vec<_>>>()?;
    Some(Jwks { keys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwks_keeps_public_members_only() {
        let j = parse_jwks(br#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"SECRET","kid":"k"}]}"#).unwrap();
        assert_eq!(
            j.to_value(),
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "k"}]})
        );
        let rsa = parse_jwks(br#"{"keys":[{"kty":"RSA","n":"AQ","e":"AQAB","p":"s","k":"s","x5t":"t"}]}"#).unwrap();
        assert_eq!(
            rsa.keys[0].to_value(),
            json!({"kty": "RSA", "n": "AQ", "e": "AQAB", "x5t": "t"})
        );
        for bad in [
            &b"{}"[..],
            br#"{"keys":[]}"#,
            br#"{"keys":[{"x":1}]}"#,
            br#"{"keys":"no"}"#,
            b"not json",
        ] {
            assert!(parse_jwks(bad).is_none());
        }
    }

    #[test]
    fn ec_point_checks_kty_crv_and_lengths() {
        let point = {
            let mut p = vec![4u8];
            p.extend([1u8; 64]);
            p
        };
        let jwk = Jwk::from_ec_point(EcCurve::P256, &point).unwrap();
        assert_eq!(jwk.ec_point(EcCurve::P256).unwrap(), point);
        assert_eq!(jwk.ec_point(EcCurve::P384), Err(JwkError::WrongCurve("P-384")));
        let mut rsa = jwk.clone();
        rsa.kty = "RSA".into();
        assert_eq!(rsa.ec_point(EcCurve::P256), Err(JwkError::WrongKeyType("EC")));
        let mut short = jwk.clone();
        short.x = Some(crate::b64([1u8; 31]));
        assert_eq!(short.ec_point(EcCurve::P256), Err(JwkError::Malformed));
        assert!(Jwk::from_value(&json!({"crv": "P-256"})).is_err());
        assert!(Jwk::from_value(&json!([])).is_err());
    }

    #[test]
    fn thumbprint_follows_rfc7638() {
        // The RSA example of RFC 7638 section 3.1.
        let jwk = Jwk::from_value(&json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(jwk.thumbprint().unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        let ec = Jwk::from_value(&json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "z"})).unwrap();
        assert_eq!(ec.thumbprint(), ec.clone().with_kid("other").thumbprint());
        assert!(
            Jwk::from_value(&json!({"kty": "oct", "k": "s"}))
                .unwrap()
                .thumbprint()
                .is_err()
        );
    }
}
