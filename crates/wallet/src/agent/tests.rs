//! The agent with a caller-supplied signer, against a scripted engine on an in-memory link (the frames are the
//! API v2 ones the engine sends; the real engine and issuer run in crates/wallet-ffi's and wallet-cli's suites).

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use walletd_jose::EcKey;

use super::{Agent, AgentLimits, AutoConsent};
use crate::link::Link;
use crate::signer::{HolderSigner, SignPurpose, SignerError, SignerKey, StoreSigner};

/// A signer that holds one key and signs or refuses; it records what it was asked.
struct TestSigner {
    key: EcKey,
    refuse: bool,
    asked: Mutex<Vec<SignPurpose>>,
}

impl HolderSigner for TestSigner {
    fn keys(&self) -> Result<Vec<SignerKey>, SignerError> {
        Ok(vec![SignerKey {
            id: "enclave-1".into(),
            jwk: self.key.public_jwk().clone(),
        }])
    }

    fn sign(&self, key_id: &str, purpose: SignPurpose, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.asked.lock().unwrap().push(purpose);
        assert_eq!(key_id, "enclave-1");
        if self.refuse {
            return Err(SignerError::new("the user cancelled the biometric prompt"));
        }
        Ok(self.key.sign_es256(message))
    }
}

fn frame(mut v: Value) -> String {
    v["timestamp"] = json!("2026-12-04T00:00:00Z");
    v.to_string()
}

/// An agent whose engine is this test: what the agent sends arrives on the returned receiver.
async fn scripted() -> (Agent, mpsc::Sender<String>, mpsc::Receiver<String>) {
    let (to_engine, from_agent) = mpsc::channel(16);
    let (to_agent, from_engine) = mpsc::channel(16);
    let limits = AgentLimits {
        step_timeout: Duration::from_secs(5),
        max_frames: 20,
    };
    (
        Agent::new(Link::memory(to_engine, from_engine), limits),
        to_agent,
        from_agent,
    )
}

async fn next(rx: &mut mpsc::Receiver<String>) -> Value {
    let text = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Plays an issuance up to the proof: returns the agent's `sign_response`, after answering it with `end`.
async fn issue_until_sign(
    tx: mpsc::Sender<String>,
    mut rx: mpsc::Receiver<String>,
    end: impl FnOnce(&Value) -> Value,
) -> Value {
    let start = next(&mut rx).await;
    assert_eq!(start["type"], "flow_start");
    let flow = start["flow_id"].clone();
    let params = json!({"audience": "https://issuer.example", "nonce": "n-1", "count": 2});
    tx.send(frame(
        json!({"type": "sign_request", "flow_id": flow, "message_id": "m1",
        "action": "generate_proof", "params": params}),
    ))
    .await
    .unwrap();
    let reply = next(&mut rx).await;
    assert_eq!(reply["type"], "sign_response");
    assert_eq!(reply["message_id"], "m1");
    let mut last = end(&reply);
    last["flow_id"] = flow;
    tx.send(frame(last)).await.unwrap();
    reply
}

#[tokio::test]
async fn proofs_come_from_the_callers_signer_and_credentials_record_its_key() {
    let signer = TestSigner {
        key: EcKey::generate(),
        refuse: false,
        asked: Mutex::default(),
    };
    let (mut agent, tx, rx) = scripted().await;
    let engine = tokio::spawn(issue_until_sign(tx, rx, |_| {
        json!({"type": "flow_complete", "credential_issuer": "https://issuer.example",
            "credentials": [{"format": "dc+sd-jwt", "credential": "eyJhbGciOiJFUzI1NiJ9.eyJ2Y3QiOiJ1cm46eCJ9.c2ln~"}]})
    }));
    let issued = agent
        .accept_offer_with("openid-credential-offer://?x", &signer, "enclave-1", &mut AutoConsent)
        .await
        .unwrap();
    let reply = engine.await.unwrap();
    let proofs = reply["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 2);
    for p in proofs {
        let jwt = walletd_jose::jws::verify_es256(p["jwt"].as_str().unwrap(), signer.key.public_jwk()).unwrap();
        assert_eq!(jwt.header["typ"], "openid4vci-proof+jwt");
        assert_eq!(jwt.claims["nonce"], "n-1");
    }
    assert_eq!(*signer.asked.lock().unwrap(), [SignPurpose::IssuanceProof; 2]);
    assert_eq!(issued.credentials[0].key_id, "enclave-1");
    assert_eq!(issued.credentials[0].vct.as_deref(), Some("urn:x"));
}

#[tokio::test]
async fn a_refusing_signer_tells_the_engine_and_the_caller() {
    let signer = TestSigner {
        key: EcKey::generate(),
        refuse: true,
        asked: Mutex::default(),
    };
    let (mut agent, tx, rx) = scripted().await;
    // The engine answers an error in the sign_response with flow_error SIGN_ERROR (crates/engine/src/flow.rs).
    let engine = tokio::spawn(issue_until_sign(tx, rx, |reply| {
        json!({"type": "flow_error", "step": "requesting_credential",
            "error": {"code": "SIGN_ERROR", "message": format!("the client could not sign: {}", reply["error"])}})
    }));
    let e = agent
        .accept_offer_with("openid-credential-offer://?x", &signer, "enclave-1", &mut AutoConsent)
        .await
        .unwrap_err();
    let reply = engine.await.unwrap();
    assert!(reply.get("proofs").is_none(), "{reply}");
    assert_eq!(
        reply["error"],
        "the holder's signer refused: the user cancelled the biometric prompt"
    );
    assert!(e.signer, "{e}");
    assert_eq!(e.code.as_deref(), Some("SIGN_ERROR"));
    assert!(e.message.contains("biometric prompt"), "{e}");
}

#[tokio::test]
async fn a_signer_without_the_key_or_with_a_bad_signature_is_a_clear_error() {
    // The key the caller names is not the signer's: nothing is sent to the engine.
    let signer = TestSigner {
        key: EcKey::generate(),
        refuse: false,
        asked: Mutex::default(),
    };
    let (mut agent, _tx, mut rx) = scripted().await;
    let e = agent
        .accept_offer_with("x", &signer, "other", &mut AutoConsent)
        .await
        .unwrap_err();
    assert_eq!(e.step, "load_key");
    assert!(e.signer && e.message.contains("no key other"), "{e}");
    assert!(rx.try_recv().is_err(), "no flow was started");

    // A signer whose signatures are not made by the key it lists (here: another key's) is caught before use.
    let liar = StoreSigner::one("k", EcKey::generate());
    struct Swapped(StoreSigner, EcKey);
    impl HolderSigner for Swapped {
        fn keys(&self) -> Result<Vec<SignerKey>, SignerError> {
            Ok(vec![SignerKey {
                id: "k".into(),
                jwk: self.1.public_jwk().clone(),
            }])
        }
        fn sign(&self, id: &str, p: SignPurpose, m: &[u8]) -> Result<Vec<u8>, SignerError> {
            self.0.sign(id, p, m)
        }
    }
    let swapped = Swapped(liar, EcKey::generate());
    let (mut agent, tx, rx) = scripted().await;
    let engine = tokio::spawn(issue_until_sign(
        tx,
        rx,
        |_| json!({"type": "flow_error", "error": {"code": "SIGN_ERROR", "message": "x"}}),
    ));
    let e = agent
        .accept_offer_with("x", &swapped, "k", &mut AutoConsent)
        .await
        .unwrap_err();
    let reply = engine.await.unwrap();
    assert!(reply["error"].as_str().unwrap().contains("does not verify"), "{reply}");
    assert!(e.signer && e.message.contains("does not verify"), "{e}");
}

#[test]
fn presentation_signatures_go_through_the_signer() {
    use crate::store::{CredentialRecord, WalletData};
    let signer = TestSigner {
        key: EcKey::generate(),
        refuse: false,
        asked: Mutex::default(),
    };
    let issuer = EcKey::generate();
    let fixture: Value = serde_json::from_str(include_str!("../../../protocol/src/mdoc/fixture.json")).unwrap();
    let record = |id: &str, credential: String| CredentialRecord {
        id: id.into(),
        format: "dc+sd-jwt".into(),
        credential,
        key_id: "enclave-1".into(),
        issuer: None,
        configuration_id: None,
        vct: None,
        type_metadata: None,
        issued_at: 0,
        updated_at: 0,
    };
    let wallet = WalletData {
        credentials: vec![
            record("sd", crate::present::tests::issue(&issuer, &signer.key)),
            record("md", fixture["credential"].as_str().unwrap().to_string()),
        ],
        ..Default::default()
    };
    let params = json!({"audience": "x509_hash:v", "nonce": "n", "credentials_to_include": [
        {"credential_id": "sd", "credential_query_id": "pid", "disclosed_claims": ["given_name"]},
        {"credential_id": "md", "credential_query_id": "mdl", "disclosed_claims": ["org.iso.18013.5.1.age_over_18"]}],
        "mdoc": walletd_protocol::MdocDeviceAuthRequest::openid4vp("x509_hash:v", "n", "https://v/r", None, Vec::new())});
    let token: Value = serde_json::from_str(&super::present::vp_token(&params, &wallet, &signer).unwrap()).unwrap();
    let sd = token["pid"][0].as_str().unwrap();
    crate::sdjwt::verify_key_binding(sd, signer.key.public_jwk(), "x509_hash:v", "n").unwrap();
    assert!(token["mdl"][0].is_string(), "{token}");
    assert_eq!(
        *signer.asked.lock().unwrap(),
        [SignPurpose::KeyBinding, SignPurpose::DeviceAuth]
    );

    // Refused: the error names the signer; a credential bound to a key the signer lacks is an error too.
    let refusing = TestSigner { refuse: true, ..signer };
    let e = super::present::vp_token(&params, &wallet, &refusing).unwrap_err();
    assert!(e.starts_with("the holder's signer refused"), "{e}");
    let store = StoreSigner::new(&WalletData::default());
    let e = super::present::vp_token(&params, &wallet, &store).unwrap_err();
    assert!(e.contains("no key enclave-1"), "{e}");
}
