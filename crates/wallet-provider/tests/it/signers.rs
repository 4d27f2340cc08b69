//! One suite, both signers: every attestation the provider issues verifies with the key its `kid` names in the
//! published JWKS, and carries the fields of its format. The PKCS#11 run uses a key generated on a SoftHSM2 token
//! that never leaves it.

use std::sync::Arc;

use serde_json::json;
use walletd_testkit::TestDatabase;
use walletd_wallet_provider::signer::{AttestationSigner, sign_jwt};
use walletd_wallet_provider::{KEY_ATTESTATION_TYP, KeyAttestationRequest, STATUS_LIST_TYP};

use crate::support::*;

walletd_testkit::on_both_databases!(the_software_signer_passes_the_suite);

async fn the_software_signer_passes_the_suite(db: TestDatabase) {
    suite(db, soft_signer()).await;
}

#[tokio::test]
async fn the_pkcs11_signer_passes_the_suite() {
    let signer: Arc<dyn AttestationSigner> = pkcs11_signer(&fresh_key_label()).await;
    assert_eq!(signer.kind(), "pkcs11");
    suite(TestDatabase::sqlite(), signer).await;
}

#[tokio::test]
async fn the_pkcs11_key_never_leaves_the_token_and_is_found_again() {
    let label = fresh_key_label();
    let signer = pkcs11_signer(&label).await;
    let attrs = signer.private_key_attributes().expect("attributes");
    use cryptoki::object::Attribute;
    assert!(attrs.contains(&Attribute::Sensitive(true)), "{attrs:?}");
    assert!(attrs.contains(&Attribute::Extractable(false)), "{attrs:?}");
    assert!(
        !attrs.iter().any(|a| matches!(a, Attribute::Value(_))),
        "the token must not reveal the private value"
    );
    // A second open (a restart) finds the same key by its label instead of making another.
    let again = pkcs11_signer(&label).await;
    assert_eq!(again.current_kid(), signer.current_kid());
    let jwt = sign_jwt(again.as_ref(), "JWT", &json!({"a": 1})).await.unwrap();
    verify(&jwt, &signer.jwks());
}

async fn suite(db: TestDatabase, signer: Arc<dyn AttestationSigner>) {
    let jwks = signer.jwks();
    let keys = jwks["keys"].as_array().expect("keys").clone();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private members published"
    );
    assert!(keys.iter().any(|k| k["kid"] == signer.current_kid().as_str()));

    let fx = fixture(db, signer, |_| {}).await;
    let (_, k1) = public_jwk();
    let (_, k2) = public_jwk();
    let issued = fx
        .service
        .key_attestation(
            &caller("acme", "alice"),
            KeyAttestationRequest {
                jwks: vec![k1.clone(), k2.clone()],
                nonce: Some("n-123".into()),
                instance_id: None,
            },
        )
        .await
        .expect("issued");
    let (header, claims) = verify(&issued.jwt, &fx.service.jwks());
    assert_eq!(header["typ"], KEY_ATTESTATION_TYP);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["iss"], "https://wallet.example/wallet-provider");
    assert_eq!(claims["attested_keys"], json!([k1, k2]));
    assert_eq!(claims["nonce"], "n-123");
    assert_eq!(claims["key_storage"], json!(["iso_18045_moderate"]));
    assert_eq!(claims["user_authentication"], json!(["iso_18045_moderate"]));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 300, "short-lived: wallet_provider.key_attestation_ttl");
    assert_eq!(claims["status"]["status_list"]["idx"], issued.status_idx);
    assert_eq!(
        claims["status"]["status_list"]["uri"],
        "https://wallet.example/wallet-provider/status-list"
    );

    let list = fx.service.status_list().await.expect("status list");
    let (header, claims) = verify(&list.jwt, &fx.service.jwks());
    assert_eq!(header["typ"], STATUS_LIST_TYP);
    assert_eq!(claims["sub"], "https://wallet.example/wallet-provider/status-list");
    assert_eq!(python_statuses(&list.jwt, &[issued.status_idx]), vec![0]);
}
