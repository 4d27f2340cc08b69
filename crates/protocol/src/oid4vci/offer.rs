//! Credential offers: by value (JSON text, JSON text of JSON text, object, `openid-credential-offer://` URL) or by
//! reference (`credential_offer_uri`). Pure parsing, no I/O: also the `oid4vci_offer` fuzz target.

use serde_json::Value;
use url::Url;

/// The pre-authorized code grant's key in `grants`.
pub const PRE_AUTH_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// A parsed credential offer.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialOffer {
    /// The issuer identifier (an https URL; http only where the egress guard allows it).
    pub credential_issuer: String,
    /// Offered configuration ids (drafts' `credentials` strings are accepted too).
    pub credential_configuration_ids: Vec<String>,
    /// `grants` as sent (object, possibly empty).
    pub grants: Value,
}

impl CredentialOffer {
    /// The pre-authorized code, when that grant is offered.
    pub fn pre_authorized_code(&self) -> Option<&str> {
        self.grants.get(PRE_AUTH_GRANT)?.get("pre-authorized_code")?.as_str()
    }

    /// The offer's `tx_code` object, when a transaction code is required.
    pub fn tx_code(&self) -> Option<&Value> {
        self.grants
            .get(PRE_AUTH_GRANT)?
            .get("tx_code")
            .filter(|v| v.is_object())
    }

    /// The authorization code grant's object, when offered.
    pub fn authorization_code(&self) -> Option<&Value> {
        self.grants.get("authorization_code")
    }

    /// The offer as JSON, narrowed to the chosen configuration ids (for the client's resume after a redirect).
    pub fn narrowed_json(&self, configuration_ids: &[String]) -> Value {
        serde_json::json!({
            "credential_issuer": self.credential_issuer,
            "credential_configuration_ids": configuration_ids,
            "grants": self.grants,
        })
    }
}

/// Where the offer is.
#[derive(Debug, Clone, PartialEq)]
pub enum OfferSource {
    /// The offer itself.
    Value(CredentialOffer),
    /// A URL to fetch it from (GET through the egress guard).
    Reference(String),
}

const MAX_NESTING: usize = 3;

/// Parses the `offer` member of `flow_start`.
pub fn parse_offer_input(input: &Value) -> Result<OfferSource, String> {
    parse_nested(input, 0)
}

fn parse_nested(input: &Value, depth: usize) -> Result<OfferSource, String> {
    if depth > MAX_NESTING {
        return Err("the offer is encoded too many times".into());
    }
    match input {
        Value::Object(_) => parse_offer_object(input).map(OfferSource::Value),
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with('{') || t.starts_with('"') {
                let v: Value = serde_json::from_str(t).map_err(|_| "the offer is not valid JSON".to_string())?;
                parse_nested(&v, depth + 1)
            } else {
                parse_offer_url(t)
            }
        }
        _ => Err("the offer must be a string or an object".into()),
    }
}

/// Parses an `openid-credential-offer://?credential_offer=...` (or `credential_offer_uri=`) URL, or any URL with
/// those query parameters. A plain https URL without them is taken as the offer's location.
pub fn parse_offer_url(s: &str) -> Result<OfferSource, String> {
    let url = Url::parse(s).map_err(|_| "the offer is neither JSON nor a URL".to_string())?;
    let mut by_value = None;
    let mut by_ref = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "credential_offer" => by_value = Some(v.into_owned()),
            "credential_offer_uri" => by_ref = Some(v.into_owned()),
            _ => {}
        }
    }
    match (by_value, by_ref) {
        (Some(v), _) => {
            let json: Value = serde_json::from_str(&v).map_err(|_| "credential_offer is not valid JSON".to_string())?;
            parse_offer_object(&json).map(OfferSource::Value)
        }
        (None, Some(r)) => Ok(OfferSource::Reference(r)),
        (None, None) if matches!(url.scheme(), "https" | "http") => Ok(OfferSource::Reference(s.to_string())),
        (None, None) => Err("the offer URL has neither credential_offer nor credential_offer_uri".into()),
    }
}

/// Checks and extracts an offer object.
pub fn parse_offer_object(v: &Value) -> Result<CredentialOffer, String> {
    let issuer = v
        .get("credential_issuer")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("the offer has no credential_issuer")?;
    let ids_value = v
        .get("credential_configuration_ids")
        .or_else(|| v.get("credentials"))
        .and_then(Value::as_array)
        .ok_or("the offer has no credential_configuration_ids")?;
    let ids: Vec<String> = ids_value.iter().filter_map(Value::as_str).map(str::to_string).collect();
    if ids.is_empty() {
        return Err("the offer names no credential configuration".into());
    }
    let grants = match v.get("grants") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(g @ Value::Object(_)) => g.clone(),
        Some(_) => return Err("the offer's grants must be an object".into()),
    };
    Ok(CredentialOffer {
        credential_issuer: issuer.to_string(),
        credential_configuration_ids: ids,
        grants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_encoding_parses() {
        let obj = json!({"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"grants":{"authorization_code":{}}});
        let text = obj.to_string();
        let twice = Value::String(text.clone()).to_string();
        let url = format!(
            "openid-credential-offer://?credential_offer={}",
            percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
        );
        for input in [
            obj.clone(),
            Value::String(text),
            Value::String(twice),
            Value::String(url),
        ] {
            let OfferSource::Value(o) = parse_offer_input(&input).unwrap() else {
                panic!()
            };
            assert_eq!(o.credential_issuer, "https://i.example");
            assert!(o.authorization_code().is_some());
        }
        let r = parse_offer_input(&json!(
            "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fi.example%2Fo"
        ));
        assert_eq!(r.unwrap(), OfferSource::Reference("https://i.example/o".into()));
        assert!(parse_offer_input(&json!(12)).is_err());
        assert!(parse_offer_input(&json!("{}")).is_err());
    }
}
