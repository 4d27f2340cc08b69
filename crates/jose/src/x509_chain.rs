//! X.509 certificate chains of mdoc issuers (ISO/IEC 18013-5 Annex B): a document signer certificate chained to
//! an IACA root, checked link by link (signature with the parent's key, validity at a given time), and COSE
//! signatures (raw `r||s`) verified with a certificate's EC key. ECDSA on P-256, P-384 and P-521.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::prelude::{FromDer, X509Certificate};

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";

/// Why a chain or a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertError {
    /// A certificate is not DER X.509.
    Parse,
    /// A certificate is not valid at the time of the check (index in the chain, anchors after it).
    Validity(usize),
    /// A signature does not verify (index of the certificate, or of the signed object's leaf).
    Signature(usize),
    /// A key or signature algorithm this module does not implement.
    Algorithm,
    /// The chain is empty or none of the anchors issued its last certificate.
    NoAnchor,
}

impl std::fmt::Display for CertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertError::Parse => write!(f, "a certificate does not parse"),
            CertError::Validity(i) => write!(f, "certificate {i} of the chain is not valid now"),
            CertError::Signature(i) => write!(f, "the signature of certificate {i} does not verify"),
            CertError::Algorithm => write!(f, "unsupported key or signature algorithm"),
            CertError::NoAnchor => write!(f, "the chain does not lead to any trusted certificate"),
        }
    }
}

impl std::error::Error for CertError {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertError> {
    match X509Certificate::from_der(der) {
        Ok(([], c)) => Ok(c),
        _ => Err(CertError::Parse),
    }
}

fn ec_key<'a>(cert: &'a X509Certificate<'_>) -> Result<(Curve, &'a [u8]), CertError> {
    let spki = cert.public_key();
    if spki.algorithm.algorithm.to_id_string() != OID_EC_PUBLIC_KEY {
        return Err(CertError::Algorithm);
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    let curve = match curve.as_deref() {
        Some(OID_P256) => Curve::P256,
        Some(OID_P384) => Curve::P384,
        Some(OID_P521) => Curve::P521,
        _ => return Err(CertError::Algorithm),
    };
    Ok((curve, spki.subject_public_key.data.as_ref()))
}

fn valid_at(cert: &X509Certificate<'_>, now: i64) -> bool {
    let v = cert.validity();
    v.not_before.timestamp() <= now && now <= v.not_after.timestamp()
}

/// `child`'s certificate signature verifies with `parent`'s key.
fn issued_by(child: &X509Certificate<'_>, parent: &X509Certificate<'_>) -> Result<bool, CertError> {
    let (curve, point) = ec_key(parent)?;
    let alg: &'static dyn VerificationAlgorithm =
        match (curve, child.signature_algorithm.algorithm.to_id_string().as_str()) {
            (Curve::P256, OID_ECDSA_SHA256) => &signature::ECDSA_P256_SHA256_ASN1,
            (Curve::P256, OID_ECDSA_SHA384) => &signature::ECDSA_P256_SHA384_ASN1,
            (Curve::P384, OID_ECDSA_SHA256) => &signature::ECDSA_P384_SHA256_ASN1,
            (Curve::P384, OID_ECDSA_SHA384) => &signature::ECDSA_P384_SHA384_ASN1,
            (Curve::P521, OID_ECDSA_SHA512) => &signature::ECDSA_P521_SHA512_ASN1,
            _ => return Err(CertError::Algorithm),
        };
    Ok(UnparsedPublicKey::new(alg, point)
        .verify(child.tbs_certificate.as_ref(), child.signature_value.data.as_ref())
        .is_ok())
}

/// Checks that `chain` (DER, leaf first) leads to one of `anchors` at `now` (seconds since the epoch): every
/// certificate is valid at `now` and signed by the next one, and the last is one of the anchors or signed by an
/// anchor valid at `now`. Returns the index of that anchor.
pub fn verify_chain(chain: &[Vec<u8>], anchors: &[Vec<u8>], now: i64) -> Result<usize, CertError> {
    if chain.is_empty() {
        return Err(CertError::NoAnchor);
    }
    let certs = chain.iter().map(|d| parse(d)).collect::<Result<Vec<_>, _>>()?;
    for (i, c) in certs.iter().enumerate() {
        if !valid_at(c, now) {
            return Err(CertError::Validity(i));
        }
        if let Some(parent) = certs.get(i + 1)
            && !issued_by(c, parent)?
        {
            return Err(CertError::Signature(i));
        }
    }
    let last_index = chain.len() - 1;
    let last = &certs[last_index];
    if let Some(i) = anchors.iter().position(|a| *a == chain[last_index]) {
        return Ok(i);
    }
    for (i, der) in anchors.iter().enumerate() {
        let Ok(anchor) = parse(der) else { continue };
        if anchor.subject() != last.issuer() {
            continue;
        }
        if matches!(issued_by(last, &anchor), Ok(true)) {
            if !valid_at(&anchor, now) {
                return Err(CertError::Validity(chain.len() + i));
            }
            return Ok(i);
        }
    }
    Err(CertError::NoAnchor)
}

/// Verifies a COSE signature (`r||s`, RFC 9053 §2.1) made with the EC key of the certificate `leaf`. `cose_alg`
/// is the COSE algorithm (`-7` ES256, `-35` ES384, `-36` ES512) and must fit the key's curve.
pub fn verify_cose_signature(leaf: &[u8], cose_alg: i64, message: &[u8], sig: &[u8]) -> Result<(), CertError> {
    let cert = parse(leaf)?;
    let (curve, point) = ec_key(&cert)?;
    let alg: &'static dyn VerificationAlgorithm = match (cose_alg, curve) {
        (-7, Curve::P256) => &signature::ECDSA_P256_SHA256_FIXED,
        (-35, Curve::P384) => &signature::ECDSA_P384_SHA384_FIXED,
        (-36, Curve::P521) => &signature::ECDSA_P521_SHA512_FIXED,
        _ => return Err(CertError::Algorithm),
    };
    UnparsedPublicKey::new(alg, point)
        .verify(message, sig)
        .map_err(|_| CertError::Signature(0))
}

/// A certificate's subject as text (`CN=..., C=...`), `None` when it does not parse.
pub fn subject(der: &[u8]) -> Option<String> {
    parse(der).ok().map(|c| c.subject().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256};

    fn ca(name: &str) -> rcgen::CertifiedIssuer<'static, KeyPair> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        rcgen::CertifiedIssuer::self_signed(p, key).unwrap()
    }

    #[test]
    fn chain_to_iaca_and_cose_signature() {
        let iaca = ca("IACA");
        let other = ca("Other IACA");
        let ds_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, "DS");
        let ds = p.signed_by(&ds_key, &iaca).unwrap();
        let chain = vec![ds.der().to_vec()];
        let now = 1_700_000_000; // within rcgen's default validity (1975..4096)
        assert_eq!(
            verify_chain(&chain, &[other.der().to_vec(), iaca.der().to_vec()], now),
            Ok(1)
        );
        assert_eq!(
            verify_chain(&chain, &[other.der().to_vec()], now),
            Err(CertError::NoAnchor)
        );
        assert_eq!(verify_chain(&[iaca.der().to_vec()], &[iaca.der().to_vec()], now), Ok(0));
        assert_eq!(
            verify_chain(&chain, &[iaca.der().to_vec()], 0),
            Err(CertError::Validity(0))
        );
        assert_eq!(verify_chain(&[b"junk".to_vec()], &[], now), Err(CertError::Parse));
        assert_eq!(verify_chain(&[], &[iaca.der().to_vec()], now), Err(CertError::NoAnchor));
        assert!(subject(ds.der()).unwrap().contains("DS"));

        let signer = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &ds_key.serialize_der(),
        )
        .unwrap();
        let sig = signer.sign(&aws_lc_rs::rand::SystemRandom::new(), b"msg").unwrap();
        assert_eq!(verify_cose_signature(ds.der(), -7, b"msg", sig.as_ref()), Ok(()));
        assert_eq!(
            verify_cose_signature(ds.der(), -7, b"other", sig.as_ref()),
            Err(CertError::Signature(0))
        );
        assert_eq!(
            verify_cose_signature(ds.der(), -35, b"msg", sig.as_ref()),
            Err(CertError::Algorithm)
        );
    }
}
