//! `auth.attestation: direct` with an AAGUID allow/deny list, on real `packed` attestations: the virtual
//! authenticator's `none` statement is rewritten into a `packed` one with an x5c certificate that meets the packed
//! requirements, signed over authenticatorData || clientDataHash. The database plays no part (SQLite).

use super::start;
use reqwest::StatusCode;
use walletd_testkit::TestDatabase;
use walletd_testkit::attestation::*;
use walletd_testkit::authenticator::*;
use walletd_testkit::ceremony::*;
use walletd_testkit::{get, post};

const ALLOWED: [u8; 16] = [
    0xa1, 0x1e, 0x0e, 0xd0, 0x00, 0x00, 0x40, 0x00, 0x80, 0x00, 0, 0, 0, 0, 0, 1,
];
const DENIED: [u8; 16] = [
    0xde, 0x1e, 0x0e, 0xd0, 0x00, 0x00, 0x40, 0x00, 0x80, 0x00, 0, 0, 0, 0, 0, 2,
];
const UNLISTED: [u8; 16] = [
    0x07, 0x1e, 0x0e, 0xd0, 0x00, 0x00, 0x40, 0x00, 0x80, 0x00, 0, 0, 0, 0, 0, 3,
];

fn uuid(a: [u8; 16]) -> String {
    let h: String = a.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn direct(db: &TestDatabase, allow: &[[u8; 16]]) -> walletd_testkit::Walletd {
    let allow: Vec<String> = allow.iter().map(|a| format!("\"{}\"", uuid(*a))).collect();
    start(
        db,
        &format!(
            "auth:\n  attestation: direct\n  aaguid_allow: [{}]\n  aaguid_deny: [\"{}\"]\n",
            allow.join(", "),
            uuid(DENIED)
        ),
    )
    .await
}

#[tokio::test]
async fn direct_attestation_applies_the_aaguid_lists_to_certified_models() {
    let db = TestDatabase::sqlite();
    let w = direct(&db, &[ALLOWED]).await;

    // The options ask for direct attestation.
    let begin = post(&w, "/user/register-webauthn-begin", &serde_json::json!({}), None, &[]).await;
    assert_eq!(begin.body["createOptions"]["publicKey"]["attestation"], "direct");

    // An allow-listed model with a valid packed statement registers and can log in.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    make_packed(&mut cred, ALLOWED, &AttestationSigner::new(ALLOWED));
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::OK, "allow-listed model: {}", r.body);
    let r = login(&w, &mut va, None).await;
    assert_eq!(r.status, StatusCode::OK, "login with the attested passkey: {}", r.body);
    let token = r.body["appToken"].as_str().unwrap().to_string();
    let info = get(&w, "/user/session/account-info", Some(&token)).await;
    assert_eq!(info.body["webauthnCredentials"].as_array().unwrap().len(), 1);

    // A denied model: 403 with the reason, even though its statement is valid.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    make_packed(&mut cred, DENIED, &AttestationSigner::new(DENIED));
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["error"], "authenticator_not_allowed");

    // A model on neither list while an allow list exists: 403.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    make_packed(&mut cred, UNLISTED, &AttestationSigner::new(UNLISTED));
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["error"], "authenticator_not_allowed");

    // `none` (no certificate) while an allow list requires a proven model: 403, even when the unsigned
    // authenticator data claims an allowed AAGUID.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    tamper_attestation(&mut cred, |ad| ad[37..53].copy_from_slice(&ALLOWED));
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["error"], "attestation_required");
}

#[tokio::test]
async fn invalid_packed_statements_are_rejected_with_a_4xx() {
    let db = TestDatabase::sqlite();
    let w = direct(&db, &[ALLOWED]).await;

    // Signed by a key other than the certificate's.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    let cert_of = AttestationSigner::new(ALLOWED);
    let impostor = AttestationSigner {
        cert_der: cert_of.cert_der.clone(),
        ..AttestationSigner::new(ALLOWED)
    };
    make_packed(&mut cred, ALLOWED, &impostor);
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"], "invalid_attestation");

    // A valid signature over authenticator data changed afterwards (the signature no longer covers it).
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    make_packed(&mut cred, ALLOWED, &AttestationSigner::new(ALLOWED));
    tamper_packed_auth_data(&mut cred, |ad| ad[34] ^= 0x01);
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    // A certificate for another AAGUID than the authenticator data names.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    make_packed(&mut cred, ALLOWED, &AttestationSigner::new(UNLISTED));
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"], "invalid_attestation");

    // A certificate that is not DER at all.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    let broken = AttestationSigner {
        cert_der: b"not a certificate".to_vec(),
        ..AttestationSigner::new(ALLOWED)
    };
    make_packed(&mut cred, ALLOWED, &broken);
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    assert!(
        w.logs()
            .iter()
            .all(|l| !l.contains("\"level\":\"ERROR\"") && !l.contains("panicked")),
        "bad attestations are client errors, not server failures"
    );
}

#[tokio::test]
async fn without_an_allow_list_direct_accepts_none_and_still_applies_the_deny_list() {
    let db = TestDatabase::sqlite();
    let w = direct(&db, &[]).await;
    // No allow list: a `none` statement registers (documented in docs/configuration.md).
    let mut va = VirtualAuthenticator::new();
    let r = register(&w, &mut va, None, b"pd").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // An unlisted certified model registers too.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    make_packed(&mut cred, UNLISTED, &AttestationSigner::new(UNLISTED));
    assert_eq!(register_finish(&w, &id, &cred).await.status, StatusCode::OK);
    // The deny list still applies.
    let mut va = VirtualAuthenticator::new();
    let (id, mut cred) = register_credential(&w, &mut va, None).await;
    make_packed(&mut cred, DENIED, &AttestationSigner::new(DENIED));
    let r = register_finish(&w, &id, &cred).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["error"], "authenticator_not_allowed");
}

/// Changes the authData inside a packed attestation object after it was signed.
fn tamper_packed_auth_data(credential: &mut serde_json::Value, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut edit = Some(edit);
    tamper_attestation(credential, |ad| {
        if let Some(f) = edit.take() {
            f(ad)
        }
    });
}
