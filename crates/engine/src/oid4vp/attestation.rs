//! The `verifier_attestation:` client_id prefix (OpenID4VP 1.0): the request object's JOSE header carries, in
//! `jwt`, a Verifier Attestation JWT (`typ: verifier-attestation+jwt`) whose `sub` is the client_id without the
//! prefix and whose `cnf.jwk` is the key that signed the request object. The attestation is signed by its issuer
//! (the key in its own header: `x5c` leaf or `jwk`); whether that issuer is trusted to attest verifiers is the
//! PDP's (or the client's) question, asked in step 2. If the attestation lists `redirect_uris`, the response_uri
//! must be one of them.

use serde_json::Value;
use walletd_jose::x5c;
use walletd_jose::{self as jose, DecodedJwt};

use super::keys;

/// The `typ` of a Verifier Attestation JWT.
pub const TYP: &str = "verifier-attestation+jwt";

/// How the attestation's issuer proved the signature: its certificate chain or its JWK.
#[derive(Debug, Clone, PartialEq)]
pub enum IssuerKey {
    /// DER chain, leaf first.
    X5c(Vec<Vec<u8>>),
    /// A public JWK.
    Jwk(Value),
}

/// A verified attestation.
#[derive(Debug, Clone, PartialEq)]
pub struct Attestation {
    /// Who attests the verifier (its trust is evaluated in step 2).
    pub iss: String,
    /// The issuer's key that signed the attestation.
    pub issuer_key: IssuerKey,
    /// The verifier's key (signed the request object).
    pub cnf_jwk: Value,
    /// `redirect_uris`, if the issuer restricted them.
    pub redirect_uris: Option<Vec<String>>,
}

/// Verifies the attestation in `request`'s header for the identifier `id` (client_id without the prefix) at
/// `now`, and the request object's signature with its `cnf` key.
pub fn verify(request: &DecodedJwt, id: &str, now: u64) -> Result<Attestation, String> {
    let text = request
        .header
        .get("jwt")
        .and_then(Value::as_str)
        .ok_or("a verifier_attestation request carries no attestation (jwt header)")?;
    let att = jose::decode_jwt(text).ok_or("the verifier attestation is not a JWT")?;
    if att.header.get("typ").and_then(Value::as_str) != Some(TYP) {
        return Err(format!("the verifier attestation's typ is not {TYP}"));
    }
    let chain = x5c::chain_from_header(&att.header);
    let issuer_key = if let Some(leaf) = chain.first() {
        keys::verify_with_certificate(&att, leaf)
            .map_err(|_| "the verifier attestation's signature does not verify".to_string())?;
        IssuerKey::X5c(chain)
    } else if let Some(jwk) = att.header.get("jwk").filter(|j| j.is_object()) {
        keys::verify_with_jwk(&att, jwk, "the verifier attestation")?;
        IssuerKey::Jwk(keys::public_only(jwk))
    } else {
        return Err("the verifier attestation names no key of its issuer (x5c or jwk)".into());
    };
    let c = &att.claims;
    let iss = c
        .get("iss")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("the verifier attestation has no iss")?;
    if c.get("sub").and_then(Value::as_str) != Some(id) {
        return Err("the verifier attestation's sub is not the client_id".into());
    }
    let exp = c
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or("the verifier attestation has no exp")?;
    if exp.saturating_add(60) < now {
        return Err("the verifier attestation has expired".into());
    }
    let cnf_jwk = c
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .filter(|j| j.is_object())
        .ok_or("the verifier attestation has no cnf.jwk")?;
    keys::verify_with_jwk(request, cnf_jwk, "the request object (attestation cnf key)")?;
    let redirect_uris = match c.get("redirect_uris") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or("the verifier attestation's redirect_uris are not strings")?,
        ),
        Some(_) => return Err("the verifier attestation's redirect_uris is not an array".into()),
    };
    Ok(Attestation {
        iss: iss.to_string(),
        issuer_key,
        cnf_jwk: keys::public_only(cnf_jwk),
        redirect_uris,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use walletd_jose::EcKey;

    fn request(att: &str, signer: &EcKey) -> DecodedJwt {
        let jwt = signer.sign_jwt(
            &json!({"typ": "oauth-authz-req+jwt", "jwt": att}),
            &json!({"client_id": "verifier_attestation:v.example"}),
        );
        jose::decode_jwt(&jwt).unwrap()
    }

    #[test]
    fn rules() {
        let issuer = EcKey::generate();
        let verifier = EcKey::generate();
        let attest = |claims: Value| issuer.sign_jwt(&json!({"typ": TYP, "jwk": issuer.public_jwk()}), &claims);
        let good = json!({"iss": "https://attester.example", "sub": "v.example", "exp": 2000,
            "cnf": {"jwk": verifier.public_jwk()}});
        let a = verify(&request(&attest(good.clone()), &verifier), "v.example", 1000).unwrap();
        assert_eq!(a.iss, "https://attester.example");
        assert_eq!(a.issuer_key, IssuerKey::Jwk(issuer.public_jwk().to_value()));
        // Wrong sub, expired, request signed by another key, attestation signed by another key, wrong typ.
        let e = |r: Result<Attestation, String>| r.unwrap_err();
        assert!(e(verify(&request(&attest(good.clone()), &verifier), "w.example", 1000)).contains("sub"));
        assert!(e(verify(&request(&attest(good.clone()), &verifier), "v.example", 3000)).contains("expired"));
        assert!(
            e(verify(
                &request(&attest(good.clone()), &EcKey::generate()),
                "v.example",
                1000
            ))
            .contains("cnf")
        );
        let forged = EcKey::generate().sign_jwt(&json!({"typ": TYP, "jwk": issuer.public_jwk()}), &good);
        assert!(e(verify(&request(&forged, &verifier), "v.example", 1000)).contains("signature"));
        let untyped = issuer.sign_jwt(&json!({"jwk": issuer.public_jwk()}), &good);
        assert!(e(verify(&request(&untyped, &verifier), "v.example", 1000)).contains("typ"));
        let mut with_uris = good.clone();
        with_uris["redirect_uris"] = json!(["https://v.example/post"]);
        let a = verify(&request(&attest(with_uris), &verifier), "v.example", 1000).unwrap();
        assert_eq!(a.redirect_uris.unwrap(), vec!["https://v.example/post".to_string()]);
    }
}
