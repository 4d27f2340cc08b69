//! Attestation for the auth tests: a `packed` attestation signer with a certificate, turning the virtual
//! authenticator's `none` registrations into `packed` ones, and tampering with what the authenticator produced.

use serde_json::{Value, json};

use crate::authenticator::tagged_bytes;
use crate::jwt::b64u;

/// Rewrites the authenticator data inside a tagged `attestationObject` (attestation `none` carries no signature
/// over it, so the server's own checks are what must catch the change).
pub fn tamper_attestation(credential: &mut Value, mut edit: impl FnMut(&mut Vec<u8>)) {
    let bytes = tagged_bytes(&credential["response"]["attestationObject"]);
    let mut value: ciborium::Value = ciborium::de::from_reader(bytes.as_slice()).unwrap();
    let map = value.as_map_mut().unwrap();
    for (k, v) in map.iter_mut() {
        if k.as_text() == Some("authData")
            && let ciborium::Value::Bytes(b) = v
        {
            edit(b);
        }
    }
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).unwrap();
    credential["response"]["attestationObject"] = json!({"$b64u": b64u(&out)});
}

/// Rewrites a tagged binary field of a credential (`/response/authenticatorData`, `/rawId`, ...).
pub fn tamper_field(credential: &mut Value, pointer: &str, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = tagged_bytes(credential.pointer(pointer).unwrap());
    edit(&mut bytes);
    *credential.pointer_mut(pointer).unwrap() = json!({"$b64u": b64u(&bytes)});
}

/// An attestation key with a certificate that meets the `packed` requirements (v3; subject C, O,
/// OU = "Authenticator Attestation", CN; basic constraints CA = false; id-fido-gen-ce-aaguid = `aaguid`).
pub struct AttestationSigner {
    /// The attestation private key.
    pub key: aws_lc_rs::signature::EcdsaKeyPair,
    /// The self-signed attestation certificate (DER).
    pub cert_der: Vec<u8>,
}

impl AttestationSigner {
    /// A new key and certificate naming `aaguid`.
    pub fn new(aaguid: [u8; 16]) -> Self {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let cert_key = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            rcgen::DnType::CountryName,
            rcgen::DnValue::PrintableString("SE".try_into().unwrap()),
        );
        dn.push(rcgen::DnType::OrganizationName, "walletd test vendor");
        dn.push(rcgen::DnType::OrganizationalUnitName, "Authenticator Attestation");
        dn.push(rcgen::DnType::CommonName, "walletd test authenticator");
        params.distinguished_name = dn;
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        // id-fido-gen-ce-aaguid: the AAGUID as a DER OCTET STRING, not critical.
        let mut octets = vec![0x04, 16];
        octets.extend_from_slice(&aaguid);
        params.custom_extensions.push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4],
            octets,
        ));
        let cert = params.self_signed(&cert_key).unwrap();
        AttestationSigner {
            key,
            cert_der: cert.der().to_vec(),
        }
    }

    /// ES256 (ASN.1 DER) signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key.sign(&rng, message).unwrap().as_ref().to_vec()
    }
}

/// Turns the virtual authenticator's `none` registration into a `packed` one with an x5c chain: the AAGUID in the
/// attested credential data becomes `aaguid` (rpIdHash, flags, counter and key stay as the authenticator made
/// them), and `signer` signs authenticatorData || SHA-256(clientDataJSON).
pub fn make_packed(credential: &mut Value, aaguid: [u8; 16], signer: &AttestationSigner) {
    use ciborium::Value as Cbor;
    use sha2::Digest;
    let bytes = tagged_bytes(&credential["response"]["attestationObject"]);
    let value: Cbor = ciborium::de::from_reader(bytes.as_slice()).unwrap();
    let mut auth_data = value
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some("authData"))
        .and_then(|(_, v)| v.as_bytes().cloned())
        .unwrap();
    assert!(auth_data[32] & 0x40 != 0, "attested credential data present");
    auth_data[37..53].copy_from_slice(&aaguid);
    let client_data = tagged_bytes(&credential["response"]["clientDataJSON"]);
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&sha2::Sha256::digest(&client_data));
    let sig = signer.sign(&signed);
    let object = Cbor::Map(vec![
        (Cbor::Text("fmt".into()), Cbor::Text("packed".into())),
        (
            Cbor::Text("attStmt".into()),
            Cbor::Map(vec![
                (Cbor::Text("alg".into()), Cbor::Integer((-7).into())),
                (Cbor::Text("sig".into()), Cbor::Bytes(sig)),
                (
                    Cbor::Text("x5c".into()),
                    Cbor::Array(vec![Cbor::Bytes(signer.cert_der.clone())]),
                ),
            ]),
        ),
        (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
    ]);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&object, &mut out).unwrap();
    credential["response"]["attestationObject"] = json!({"$b64u": b64u(&out)});
}
