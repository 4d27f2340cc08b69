//! Wallet Instance Attestations: the challenge is single use and expires, the PoP must be signed by the key it
//! names over this challenge for this provider, an instance key registered in another tenant is refused.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_jose::EcKey;
use walletd_testkit::TestDatabase;
use walletd_wallet_provider::{Caller, WIA_POP_TYP, WIA_TYP, WalletProviderService, WiaRequest, WpError};

use crate::support::*;

walletd_testkit::on_both_databases!(
    a_wia_binds_the_instance_key_and_creates_the_instance,
    a_replayed_challenge_is_refused,
    a_wrong_pop_is_refused,
    a_key_the_client_does_not_hold_is_refused,
    another_tenants_instance_is_refused,
);

const ISSUER: &str = "https://wallet.example/wallet-provider";

/// Builds a PoP for a challenge.
type MakePop<'a> = Box<dyn Fn(&str) -> String + 'a>;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A PoP naming `named`'s public key, signed by `signer`.
fn pop(named: &EcKey, signer: &EcKey, claims: Value) -> String {
    signer.sign_jwt(
        &json!({"typ": WIA_POP_TYP, "jwk": named.public_jwk().to_value()}),
        &claims,
    )
}

fn good_claims(challenge: &str) -> Value {
    json!({"iss": "client-1", "aud": ISSUER, "challenge": challenge, "iat": now(), "jti": uuid::Uuid::new_v4().to_string()})
}

async fn request(
    svc: &WalletProviderService,
    who: &Caller,
    key: &EcKey,
) -> Result<walletd_wallet_provider::IssuedWia, WpError> {
    let c = svc.wia_challenge(who).await.expect("challenge");
    svc.wallet_instance_attestation(
        who,
        WiaRequest {
            pop: pop(key, key, good_claims(&c.challenge)),
            challenge: c.challenge,
            client_id: Some("client-1".into()),
            credential_id: None,
        },
    )
    .await
}

/// Registers a user of `tenant` with one passkey whose credential id is `cred`.
async fn user_with_passkey(store: &walletd_db::Store, tenant: &str, user: &str, cred: &[u8]) {
    let now = 1_700_000_000_000;
    let u = walletd_db::User {
        id: user.into(),
        tenant_id: tenant.into(),
        display_name: user.into(),
        username: None,
        settings: json!({}),
        created_at: now,
        updated_at: now,
    };
    let c = walletd_db::WebauthnCredential {
        id: uuid::Uuid::new_v4().to_string(),
        credential_id: cred.to_vec(),
        user_id: user.into(),
        tenant_id: tenant.into(),
        credential: "{}".into(),
        sign_count: 0,
        nickname: None,
        prf_capable: true,
        aaguid: None,
        clone_warning: false,
        created_at: now,
        last_used_at: now,
    };
    store
        .create_user_with_credential(&u, &c)
        .await
        .expect("user with passkey");
}

async fn a_wia_binds_the_instance_key_and_creates_the_instance(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    let key = EcKey::generate();
    let alice = caller("acme", "alice");
    let issued = request(&fx.service, &alice, &key).await.expect("issued");
    let (header, claims) = verify(&issued.jwt, &fx.service.jwks());
    assert_eq!(header["typ"], WIA_TYP);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "client-1");
    assert_eq!(claims["cnf"]["jwk"], key.public_jwk().to_value());
    assert_eq!(claims["status"]["status_list"]["idx"], issued.status_idx);
    // The same key again is the same instance, which recorded the user and passkey that asked first.
    let again = request(&fx.service, &alice, &key).await.expect("again");
    assert_eq!(again.instance_id, issued.instance_id);
    let i = fx
        .store
        .wallet_instance("acme", &issued.instance_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.user_id, "alice");
    // A new instance records the passkey the client names, if it is one of the user's own.
    user_with_passkey(&fx.store, "acme", "alice", b"alice-passkey").await;
    user_with_passkey(&fx.store, "acme", "bob", b"bob-passkey").await;
    let with = |cred: &[u8], key: &EcKey, challenge: String| WiaRequest {
        pop: pop(key, key, good_claims(&challenge)),
        challenge,
        client_id: None,
        credential_id: Some(walletd_jose::b64(cred)),
    };
    let key2 = EcKey::generate();
    let c = fx.service.wia_challenge(&alice).await.unwrap();
    let err = fx
        .service
        .wallet_instance_attestation(&alice, with(b"bob-passkey", &key2, c.challenge))
        .await
        .unwrap_err();
    assert!(
        matches!(err, WpError::PasskeyNotOwned),
        "another user's passkey: {err:?}"
    );
    let c = fx.service.wia_challenge(&alice).await.unwrap();
    let second = fx
        .service
        .wallet_instance_attestation(&alice, with(b"alice-passkey", &key2, c.challenge))
        .await
        .expect("own passkey");
    let i = fx
        .store
        .wallet_instance("acme", &second.instance_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(i.passkey_id, Some(walletd_jose::b64(b"alice-passkey")));
    // Another user presenting the same instance key is refused.
    let err = request(&fx.service, &caller("acme", "mallory"), &key)
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::InstanceNotOwned), "{err:?}");
}

async fn a_replayed_challenge_is_refused(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    let key = EcKey::generate();
    let alice = caller("acme", "alice");
    let c = fx.service.wia_challenge(&alice).await.unwrap();
    let req = WiaRequest {
        pop: pop(&key, &key, good_claims(&c.challenge)),
        challenge: c.challenge.clone(),
        client_id: None,
        credential_id: None,
    };
    fx.service
        .wallet_instance_attestation(&alice, req.clone())
        .await
        .expect("first use");
    let err = fx.service.wallet_instance_attestation(&alice, req).await.unwrap_err();
    assert!(matches!(err, WpError::ChallengeInvalid), "{err:?}");
    // A challenge of one tenant is not one of another.
    let c = fx.service.wia_challenge(&alice).await.unwrap();
    let bob = caller("default", "bob");
    let err = fx
        .service
        .wallet_instance_attestation(
            &bob,
            WiaRequest {
                pop: pop(&key, &key, good_claims(&c.challenge)),
                challenge: c.challenge,
                client_id: None,
                credential_id: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::ChallengeInvalid), "{err:?}");
}

async fn a_wrong_pop_is_refused(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    let key = EcKey::generate();
    let alice = caller("acme", "alice");
    let cases: Vec<(&str, MakePop)> = vec![
        (
            "other challenge",
            Box::new(|_c: &str| pop(&key, &key, good_claims("not-the-challenge"))),
        ),
        (
            "other audience",
            Box::new(|c: &str| {
                let mut cl = good_claims(c);
                cl["aud"] = json!("https://elsewhere.example");
                pop(&key, &key, cl)
            }),
        ),
        (
            "stale iat",
            Box::new(|c: &str| {
                let mut cl = good_claims(c);
                cl["iat"] = json!(now() - 3600);
                pop(&key, &key, cl)
            }),
        ),
        (
            "wrong typ",
            Box::new(|c: &str| {
                key.sign_jwt(
                    &json!({"typ": "JWT", "jwk": key.public_jwk().to_value()}),
                    &good_claims(c),
                )
            }),
        ),
        (
            "no jwk",
            Box::new(|c: &str| key.sign_jwt(&json!({"typ": WIA_POP_TYP}), &good_claims(c))),
        ),
        ("garbage", Box::new(|_c: &str| "a.b.c".to_string())),
    ];
    for (what, make) in cases {
        let c = fx.service.wia_challenge(&alice).await.unwrap();
        let err = fx
            .service
            .wallet_instance_attestation(
                &alice,
                WiaRequest {
                    pop: make(&c.challenge),
                    challenge: c.challenge.clone(),
                    client_id: None,
                    credential_id: None,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, WpError::PopInvalid(_)), "{what}: {err:?}");
        // The failed attempt spent the challenge.
        let retry = fx
            .service
            .wallet_instance_attestation(
                &alice,
                WiaRequest {
                    pop: pop(&key, &key, good_claims(&c.challenge)),
                    challenge: c.challenge,
                    client_id: None,
                    credential_id: None,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(retry, WpError::ChallengeInvalid), "{what}: {retry:?}");
    }
    assert_eq!(
        fx.store.list_wallet_instances("acme", 10, 0).await.unwrap().len(),
        0,
        "no refused PoP creates an instance"
    );
}

async fn a_key_the_client_does_not_hold_is_refused(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    let victim = EcKey::generate();
    let attacker = EcKey::generate();
    let alice = caller("acme", "alice");
    let c = fx.service.wia_challenge(&alice).await.unwrap();
    let err = fx
        .service
        .wallet_instance_attestation(
            &alice,
            WiaRequest {
                // Names the victim's public key, signed with the attacker's.
                pop: pop(&victim, &attacker, good_claims(&c.challenge)),
                challenge: c.challenge,
                client_id: None,
                credential_id: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::PopInvalid(_)), "{err:?}");
}

async fn another_tenants_instance_is_refused(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    let key = EcKey::generate();
    let acme = request(&fx.service, &caller("acme", "alice"), &key)
        .await
        .expect("acme");
    // The same instance key presented in the default tenant (even by a user of the same id).
    let err = request(&fx.service, &caller("default", "alice"), &key)
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::InstanceNotOwned), "{err:?}");
    // Naming another tenant's instance for a key attestation is refused the same way.
    let (_, jwk) = public_jwk();
    let err = fx
        .service
        .key_attestation(
            &caller("default", "alice"),
            walletd_wallet_provider::KeyAttestationRequest {
                jwks: vec![jwk],
                nonce: None,
                instance_id: Some(acme.instance_id.clone()),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::InstanceNotOwned), "{err:?}");
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let fx = fixture(TestDatabase::sqlite(), soft_signer(), |s| {
        s.challenge_ttl = Duration::from_secs(1)
    })
    .await;
    let key = EcKey::generate();
    let alice = caller("acme", "alice");
    let c = fx.service.wia_challenge(&alice).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = fx
        .service
        .wallet_instance_attestation(
            &alice,
            WiaRequest {
                pop: pop(&key, &key, good_claims(&c.challenge)),
                challenge: c.challenge,
                client_id: None,
                credential_id: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::ChallengeInvalid), "{err:?}");
}
