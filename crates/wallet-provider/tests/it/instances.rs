//! Operators revoke wallet instances: every attestation the instance holds is marked in the status list (read by
//! an independent decoder), the instance gets nothing new, other instances are untouched, and the revocation is
//! audited. Another tenant's instance cannot be revoked through this tenant.

use walletd_jose::EcKey;
use walletd_testkit::TestDatabase;
use walletd_wallet_provider::{KeyAttestationRequest, WpError};

use crate::support::*;

walletd_testkit::on_both_databases!(
    revoking_an_instance_flips_the_bits_of_all_it_holds,
    instances_are_listed_per_tenant
);

fn req() -> KeyAttestationRequest {
    KeyAttestationRequest {
        jwks: vec![public_jwk().1],
        nonce: Some("n".into()),
        instance_id: None,
    }
}

async fn revoking_an_instance_flips_the_bits_of_all_it_holds(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    let alice = caller("acme", "alice");
    let a1 = fx.service.key_attestation(&alice, req()).await.unwrap();
    let a2 = fx.service.key_attestation(&alice, req()).await.unwrap();
    let bob = fx.service.key_attestation(&caller("acme", "bob"), req()).await.unwrap();
    assert_eq!(a1.instance_id, a2.instance_id, "one web-client instance per user");
    let before = fx.service.status_list().await.unwrap();
    assert_eq!(
        python_statuses(&before.jwt, &[a1.status_idx, a2.status_idx, bob.status_idx]),
        vec![0, 0, 0]
    );

    // Not through another tenant.
    let err = fx
        .service
        .revoke_instance("admin", "default", &a1.instance_id)
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::NotFound(_)), "{err:?}");

    let revoked = fx
        .service
        .revoke_instance("admin:ops", "acme", &a1.instance_id)
        .await
        .unwrap();
    assert_eq!(revoked["status"], "revoked");
    let after = fx.service.status_list().await.unwrap();
    verify(&after.jwt, &fx.service.jwks());
    assert_eq!(
        python_statuses(&after.jwt, &[a1.status_idx, a2.status_idx, bob.status_idx]),
        vec![1, 1, 0],
        "both of alice's attestations revoked, bob's not"
    );
    let err = fx.service.key_attestation(&alice, req()).await.unwrap_err();
    assert!(matches!(err, WpError::InstanceRevoked), "{err:?}");
    let audit = fx.store.list_audit(Some("acme"), 20).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "wallet_instance.revoke")
        .expect("audited");
    assert_eq!(entry.actor, "admin:ops");
    assert_eq!(entry.detail["attestations_revoked"], 2);

    // A WIA instance: revoked, it can get neither a WIA nor key attestations.
    let key = EcKey::generate();
    let c = fx.service.wia_challenge(&bob_caller()).await.unwrap();
    let wia = fx
        .service
        .wallet_instance_attestation(&bob_caller(), wia_req(&key, c.challenge))
        .await
        .unwrap();
    fx.service
        .revoke_instance("admin", "acme", &wia.instance_id)
        .await
        .unwrap();
    let c = fx.service.wia_challenge(&bob_caller()).await.unwrap();
    let err = fx
        .service
        .wallet_instance_attestation(&bob_caller(), wia_req(&key, c.challenge))
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::InstanceRevoked), "{err:?}");
    let list = fx.service.status_list().await.unwrap();
    assert_eq!(python_statuses(&list.jwt, &[wia.status_idx]), vec![1]);
}

fn bob_caller() -> walletd_wallet_provider::Caller {
    caller("acme", "bob")
}

fn wia_req(key: &EcKey, challenge: String) -> walletd_wallet_provider::WiaRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims =
        serde_json::json!({"aud": "https://wallet.example/wallet-provider", "challenge": challenge, "iat": now});
    walletd_wallet_provider::WiaRequest {
        pop: key.sign_jwt(
            &serde_json::json!({"typ": walletd_wallet_provider::WIA_POP_TYP, "jwk": key.public_jwk().to_value()}),
            &claims,
        ),
        challenge,
        client_id: None,
        credential_id: None,
    }
}

async fn instances_are_listed_per_tenant(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    fx.service
        .key_attestation(&caller("acme", "alice"), req())
        .await
        .unwrap();
    fx.service
        .key_attestation(&caller("default", "carol"), req())
        .await
        .unwrap();
    let acme = fx.service.list_instances("acme", 100, 0).await.unwrap();
    assert_eq!(acme.len(), 1);
    assert_eq!(acme[0]["user_id"], "alice");
    assert_eq!(acme[0]["kind"], "web_client");
    assert_eq!(acme[0]["status"], "active");
    assert!(matches!(
        fx.service.list_instances("nope", 100, 0).await,
        Err(WpError::NotFound(_))
    ));
}
