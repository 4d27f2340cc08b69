//! `IssuerSigned` (ISO/IEC 18013-5 §8.3.2.1.2.2): the namespaces of issuer-signed items and `IssuerAuth`, a
//! COSE_Sign1 over the Mobile Security Object (MSO) that holds the items' digests, the document type, the device
//! key and the validity. An OpenID4VCI `mso_mdoc` credential is this structure, base64url-encoded.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ciborium::Value;
use coset::{AsCborValue, CoseSign1, iana};
use sha2::Digest as _;

use super::cbor::{decode, embedded, encode, map_get, text};
use super::tdate::parse_tdate;
use super::{Limits, MdocError, malformed};

/// One issuer-signed data element.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerSignedItem {
    /// Its `digestID` in the MSO's value digests of its namespace.
    pub digest_id: u64,
    /// The element identifier (`given_name`, ...).
    pub element_identifier: String,
    /// The element value.
    pub element_value: Value,
    /// `IssuerSignedItemBytes` as received (`#6.24(bstr)`): what the digest covers and what a presentation repeats.
    pub tagged: Value,
}

/// The validity of an MSO, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// When it was signed.
    pub signed: i64,
    /// Not valid before.
    pub valid_from: i64,
    /// Not valid after.
    pub valid_until: i64,
}

/// The Mobile Security Object.
#[derive(Debug, Clone, PartialEq)]
pub struct Mso {
    /// `version` ("1.0").
    pub version: String,
    /// `digestAlgorithm` (`SHA-256`, `SHA-384`, `SHA-512`).
    pub digest_algorithm: String,
    /// `valueDigests`: namespace -> digestID -> digest.
    pub value_digests: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    /// `deviceKeyInfo.deviceKey`: the COSE_Key of the holder's device key.
    pub device_key: Value,
    /// `docType`.
    pub doc_type: String,
    /// `validityInfo`.
    pub validity: Validity,
}

/// A parsed `IssuerSigned`.
#[derive(Debug, Clone)]
pub struct IssuerSigned {
    /// `nameSpaces`, in the order received.
    pub name_spaces: Vec<(String, Vec<IssuerSignedItem>)>,
    /// `issuerAuth`.
    pub issuer_auth: CoseSign1,
    /// `issuerAuth` as received (a presentation repeats it unchanged).
    pub issuer_auth_value: Value,
    /// The MSO from the `issuerAuth` payload.
    pub mso: Mso,
}

/// Parses an OpenID4VCI `mso_mdoc` credential: base64url (with or without padding) of `IssuerSigned`.
pub fn parse_credential(credential: &str, limits: &Limits) -> Result<IssuerSigned, MdocError> {
    // base64 grows 4/3: refuse before decoding what cannot fit.
    if credential.len() / 4 * 3 > limits.max_bytes + 3 {
        return Err(MdocError::TooLarge(limits.max_bytes));
    }
    let t = credential.trim();
    let bytes = URL_SAFE_NO_PAD
        .decode(t)
        .or_else(|_| URL_SAFE.decode(t))
        .map_err(|_| MdocError::NotBase64)?;
    parse_issuer_signed(&bytes, limits)
}

/// Parses `IssuerSigned` CBOR.
pub fn parse_issuer_signed(bytes: &[u8], limits: &Limits) -> Result<IssuerSigned, MdocError> {
    let v = decode(bytes, limits)?;
    issuer_signed_from_value(&v, limits)
}

/// `IssuerSigned` from a decoded value (also a DeviceResponse document's `issuerSigned`).
pub fn issuer_signed_from_value(v: &Value, limits: &Limits) -> Result<IssuerSigned, MdocError> {
    if v.as_map().is_none() {
        return Err(malformed("IssuerSigned is not a map"));
    }
    let issuer_auth_value = map_get(v, "issuerAuth")
        .ok_or_else(|| malformed("IssuerSigned has no issuerAuth"))?
        .clone();
    let untagged = match &issuer_auth_value {
        Value::Tag(18, inner) => inner.as_ref().clone(),
        other => other.clone(),
    };
    let issuer_auth = CoseSign1::from_cbor_value(untagged).map_err(|_| malformed("issuerAuth is not a COSE_Sign1"))?;
    let payload = issuer_auth
        .payload
        .as_deref()
        .ok_or_else(|| malformed("issuerAuth has no payload"))?;
    let mso_value = decode(payload, limits)?;
    // The payload is MobileSecurityObjectBytes (#6.24(bstr .cbor MSO)); some issuers omit the tag.
    let mso_value = match &mso_value {
        Value::Tag(24, _) => embedded(&mso_value, limits)?.0,
        _ => mso_value,
    };
    let mso = parse_mso(&mso_value)?;
    let mut name_spaces = Vec::new();
    if let Some(ns) = map_get(v, "nameSpaces") {
        for (k, items) in ns.as_map().ok_or_else(|| malformed("nameSpaces is not a map"))? {
            let name = k.as_text().ok_or_else(|| malformed("a namespace name is not text"))?;
            let items = items
                .as_array()
                .ok_or_else(|| malformed("a namespace is not an array"))?;
            let mut out = Vec::with_capacity(items.len());
            for tagged in items {
                let (item, _) = embedded(tagged, limits)?;
                let digest_id = map_get(&item, "digestID")
                    .and_then(|d| d.as_integer())
                    .and_then(|d| u64::try_from(d).ok())
                    .ok_or_else(|| malformed("an item has no digestID"))?;
                let element_identifier = text(&item, "elementIdentifier")
                    .ok_or_else(|| malformed("an item has no elementIdentifier"))?
                    .to_string();
                let element_value = map_get(&item, "elementValue")
                    .ok_or_else(|| malformed("an item has no elementValue"))?
                    .clone();
                if map_get(&item, "random").and_then(Value::as_bytes).is_none() {
                    return Err(malformed("an item has no random"));
                }
                out.push(IssuerSignedItem {
                    digest_id,
                    element_identifier,
                    element_value,
                    tagged: tagged.clone(),
                });
            }
            name_spaces.push((name.to_string(), out));
        }
    }
    Ok(IssuerSigned {
        name_spaces,
        issuer_auth,
        issuer_auth_value,
        mso,
    })
}

fn parse_mso(m: &Value) -> Result<Mso, MdocError> {
    if m.as_map().is_none() {
        return Err(malformed("the MSO is not a map"));
    }
    let s = |k: &str| {
        text(m, k)
            .map(str::to_string)
            .ok_or_else(|| malformed(format!("the MSO has no {k}")))
    };
    let mut value_digests = BTreeMap::new();
    let vd = map_get(m, "valueDigests")
        .and_then(Value::as_map)
        .ok_or_else(|| malformed("the MSO has no valueDigests"))?;
    for (ns, digests) in vd {
        let ns = ns
            .as_text()
            .ok_or_else(|| malformed("a valueDigests namespace is not text"))?;
        let mut d = BTreeMap::new();
        for (id, digest) in digests
            .as_map()
            .ok_or_else(|| malformed("valueDigests of a namespace is not a map"))?
        {
            let id = id
                .as_integer()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| malformed("a digestID is not an unsigned integer"))?;
            let digest = digest.as_bytes().ok_or_else(|| malformed("a digest is not bytes"))?;
            d.insert(id, digest.clone());
        }
        value_digests.insert(ns.to_string(), d);
    }
    let device_key = map_get(m, "deviceKeyInfo")
        .and_then(|k| map_get(k, "deviceKey"))
        .filter(|k| k.as_map().is_some())
        .ok_or_else(|| malformed("the MSO has no deviceKeyInfo.deviceKey"))?
        .clone();
    let vi = map_get(m, "validityInfo").ok_or_else(|| malformed("the MSO has no validityInfo"))?;
    let t = |k: &str| {
        map_get(vi, k)
            .and_then(parse_tdate)
            .ok_or_else(|| malformed(format!("validityInfo.{k} is not a date-time")))
    };
    Ok(Mso {
        version: s("version")?,
        digest_algorithm: s("digestAlgorithm")?,
        value_digests,
        device_key,
        doc_type: s("docType")?,
        validity: Validity {
            signed: t("signed")?,
            valid_from: t("validFrom")?,
            valid_until: t("validUntil")?,
        },
    })
}

/// The digest of `bytes` with an MSO digest algorithm name.
pub(crate) fn digest(alg: &str, bytes: &[u8]) -> Result<Vec<u8>, MdocError> {
    Ok(match alg {
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        _ => return Err(malformed("unsupported digestAlgorithm")),
    })
}

impl IssuerSigned {
    /// The `x5chain` of `issuerAuth` (DER, document signer first), from the unprotected or protected header.
    pub fn x5chain(&self) -> Vec<Vec<u8>> {
        let label = coset::Label::Int(iana::HeaderParameter::X5Chain as i64);
        let found = [&self.issuer_auth.unprotected, &self.issuer_auth.protected.header]
            .into_iter()
            .find_map(|h| h.rest.iter().find(|(l, _)| *l == label).map(|(_, v)| v));
        match found {
            Some(Value::Bytes(b)) => vec![b.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_bytes).cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// The COSE algorithm of `issuerAuth` (`-7` ES256, `-35` ES384, `-36` ES512), from the protected header.
    pub fn algorithm(&self) -> Option<i64> {
        match self.issuer_auth.protected.header.alg.as_ref()? {
            coset::RegisteredLabelWithPrivate::Assigned(a) => Some(*a as i64),
            coset::RegisteredLabelWithPrivate::PrivateUse(i) => Some(*i),
            coset::RegisteredLabelWithPrivate::Text(_) => None,
        }
    }

    /// The bytes `issuerAuth`'s signature covers (the COSE Sig_structure, no external AAD).
    pub fn signed_bytes(&self) -> Vec<u8> {
        self.issuer_auth.tbs_data(&[])
    }

    /// Checks every item's digest against the MSO (each item must be listed under its namespace).
    pub fn verify_digests(&self) -> Result<(), MdocError> {
        for (ns, items) in &self.name_spaces {
            for item in items {
                let mismatch = || MdocError::DigestMismatch(ns.clone(), item.element_identifier.clone());
                let want = self
                    .mso
                    .value_digests
                    .get(ns)
                    .and_then(|d| d.get(&item.digest_id))
                    .ok_or_else(mismatch)?;
                if digest(&self.mso.digest_algorithm, &encode(&item.tagged))? != *want {
                    return Err(mismatch());
                }
            }
        }
        Ok(())
    }

    /// The element identifiers per namespace (for display and matching; no values).
    pub fn element_names(&self) -> BTreeMap<String, Vec<String>> {
        self.name_spaces
            .iter()
            .map(|(ns, items)| (ns.clone(), items.iter().map(|i| i.element_identifier.clone()).collect()))
            .collect()
    }

    /// An element's value.
    pub fn element(&self, namespace: &str, identifier: &str) -> Option<&Value> {
        self.name_spaces
            .iter()
            .find(|(n, _)| n == namespace)?
            .1
            .iter()
            .find(|i| i.element_identifier == identifier)
            .map(|i| &i.element_value)
    }
}
