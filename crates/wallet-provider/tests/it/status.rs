//! The status list over time: an expired attestation leaves it (its row is purged after the list's lifetime, so
//! the index can be reused), and a list signed before a revocation in another replica is replaced on refresh.

use std::time::Duration;

use walletd_testkit::TestDatabase;
use walletd_wallet_provider::KeyAttestationRequest;

use crate::support::*;

#[tokio::test]
async fn an_expired_attestation_is_expired_and_its_entry_is_freed() {
    let fx = fixture(TestDatabase::sqlite(), soft_signer(), |s| {
        s.key_attestation_ttl = Duration::from_secs(1);
        s.status_list_refresh = Duration::from_millis(200);
    })
    .await;
    let alice = caller("acme", "alice");
    let issued = fx
        .service
        .key_attestation(
            &alice,
            KeyAttestationRequest {
                jwks: vec![public_jwk().1],
                nonce: None,
                instance_id: None,
            },
        )
        .await
        .unwrap();
    let (_, claims) = verify(&issued.jwt, &fx.service.jwks());
    let exp = claims["exp"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        exp < now,
        "the attestation has expired: a verifier checking exp refuses it"
    );
    // Revoking afterwards does not mark an expired entry; the purge frees it.
    fx.service
        .revoke_instance("admin", "acme", &issued.instance_id)
        .await
        .unwrap();
    let list = fx.service.refresh_status_list().await.unwrap();
    assert_eq!(python_statuses(&list.jwt, &[issued.status_idx]), vec![0]);
    assert!(fx.service.purge_expired().await.unwrap() >= 1);
    assert_eq!(
        fx.store
            .count_live_wp_attestations(&issued.instance_id, 0)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_revocation_elsewhere_is_published_on_the_next_refresh() {
    let fx = fixture(TestDatabase::sqlite(), soft_signer(), |_| {}).await;
    let issued = fx
        .service
        .key_attestation(
            &caller("acme", "alice"),
            KeyAttestationRequest {
                jwks: vec![public_jwk().1],
                nonce: None,
                instance_id: None,
            },
        )
        .await
        .unwrap();
    let cached = fx.service.status_list().await.unwrap();
    // Another replica revokes (straight in the database): this one's cached list is unchanged until it refreshes.
    fx.store
        .revoke_wallet_instance("acme", &issued.instance_id, 1)
        .await
        .unwrap()
        .expect("instance");
    assert_eq!(fx.service.status_list().await.unwrap().jwt, cached.jwt);
    walletd_wallet_provider::run_once(&fx.service).await;
    let fresh = fx.service.status_list().await.unwrap();
    assert_eq!(python_statuses(&fresh.jwt, &[issued.status_idx]), vec![1]);
}
