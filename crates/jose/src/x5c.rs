//! x5c certificate chains (RFC 7515 §4.1.6) read with `x509-parser`: the DER chain from a JOSE header, a
//! certificate's SAN dNSNames and `x509_hash`, and JWS verification with the leaf certificate's key. Whether a
//! chain ends at a trusted anchor is the PDP's question; nothing here validates a chain.

use serde_json::Value;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::b64::{sha256_b64, std_b64_decode};
use crate::jwk::EcCurve;
use crate::jws::{DecodedJwt, JwsAlg, JwsError, KeyKind, verify_with_public_key};

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// The DER chain from a JOSE header's `x5c` (standard base64, leaf first); entries that are not base64 are
/// skipped, and the chain is empty when `x5c` is absent or not an array.
pub fn chain_from_header(header: &Value) -> Vec<Vec<u8>> {
    header
        .get("x5c")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).filter_map(std_b64_decode).collect())
        .unwrap_or_default()
}

/// The `x509_hash` of a certificate: base64url SHA-256 of its DER.
pub fn certificate_hash(der: &[u8]) -> String {
    sha256_b64(der)
}

/// The SAN dNSName entries of a certificate (`None` when it does not parse).
pub fn san_dns_names(der: &[u8]) -> Option<Vec<String>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                names.push(d.to_string());
            }
        }
    }
    Some(names)
}

/// Verifies `jwt` with the public key of the certificate `leaf` (DER). The header's `alg` must be one of
/// `accepted` and fit the certificate's key type (EC or RSA).
pub fn verify_with_leaf(jwt: &DecodedJwt, leaf: &[u8], accepted: &[JwsAlg]) -> Result<(), JwsError> {
    let (_, cert) = X509Certificate::from_der(leaf).map_err(|_| JwsError::Certificate)?;
    let spki = cert.public_key();
    let kind = match spki.algorithm.algorithm.to_id_string().as_str() {
        // The curve is the algorithm's: a certificate key on another curve fails verification.
        OID_EC_PUBLIC_KEY => KeyKind::Ec(EcCurve::P256),
        OID_RSA_ENCRYPTION => KeyKind::Rsa,
        _ => return Err(JwsError::KeyType),
    };
    verify_with_public_key(jwt, kind, spki.subject_public_key.data.as_ref(), accepted)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::b64::{b64, std_b64};
    use serde_json::json;

    /// A self-signed P-256 certificate with a SAN dNSName, and a JWS signed by its key.
    pub(crate) fn signed_with_certificate(header: Value, claims: &Value) -> (String, Vec<u8>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["v.example".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der().to_vec();
        let mut header = header;
        header["alg"] = json!("ES256");
        header["x5c"] = json!([std_b64(&der)]);
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signer = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
        )
        .unwrap();
        let sig = signer
            .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
            .unwrap();
        (format!("{input}.{}", b64(sig.as_ref())), der)
    }

    #[test]
    fn leaf_key_verifies_and_san_is_read() {
        let (jwt, der) = signed_with_certificate(json!({"typ": "t"}), &json!({"a": 1}));
        let d = crate::jws::decode_jwt(&jwt).unwrap();
        let chain = chain_from_header(&d.header);
        assert_eq!(chain, vec![der.clone()]);
        assert_eq!(verify_with_leaf(&d, &der, &[JwsAlg::Es256, JwsAlg::Rs256]), Ok(()));
        assert_eq!(verify_with_leaf(&d, &der, &[JwsAlg::Rs256]), Err(JwsError::Algorithm));
        assert_eq!(
            verify_with_leaf(&d, b"not a certificate", &[JwsAlg::Es256]),
            Err(JwsError::Certificate)
        );
        assert_eq!(san_dns_names(&der).unwrap(), ["v.example"]);
        assert!(san_dns_names(b"junk").is_none());
        assert_eq!(certificate_hash(&der).len(), 43);
        let mut tampered = d.clone();
        tampered.signing_input.push('x');
        assert_eq!(
            verify_with_leaf(&tampered, &der, &[JwsAlg::Es256]),
            Err(JwsError::Signature)
        );
        assert!(chain_from_header(&json!({"x5c": "no"})).is_empty());
    }
}
