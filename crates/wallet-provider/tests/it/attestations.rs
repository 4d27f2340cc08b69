//! Key attestations: bad input is refused with a reason, levels come from the tenant's configuration, limits and
//! quotas hold, a disabled tenant is refused, and every issuance is audited without key material.

use serde_json::json;
use walletd_common::config::{Config, TenantAttestationLevels};
use walletd_db::TenantUpdate;
use walletd_testkit::TestDatabase;
use walletd_wallet_provider::{KeyAttestationRequest, WpError};

use crate::support::*;

walletd_testkit::on_both_databases!(
    bad_key_sets_are_refused,
    levels_come_from_the_tenant_configuration,
    issuance_is_rate_limited_per_user_and_instance,
    issuance_is_audited_without_key_material,
    a_disabled_tenant_is_refused,
);

fn req(jwks: Vec<serde_json::Value>) -> KeyAttestationRequest {
    KeyAttestationRequest {
        jwks,
        nonce: None,
        instance_id: None,
    }
}

async fn bad_key_sets_are_refused(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |s| s.max_attested_keys = 2).await;
    let alice = caller("acme", "alice");
    let (k, jwk) = public_jwk();
    for (what, jwks) in [
        ("empty", vec![]),
        ("too many", vec![jwk.clone(), jwk.clone(), jwk.clone()]),
        ("private", vec![k.private_jwk().to_value()]),
        ("not a key", vec![json!({"kty": "oct", "k": "AAAA"})]),
        ("no point", vec![json!({"kty": "EC", "crv": "P-256", "x": "AA"})]),
    ] {
        let err = fx.service.key_attestation(&alice, req(jwks)).await.unwrap_err();
        assert!(matches!(err, WpError::Invalid(_)), "{what}: {err:?}");
    }
    let mut long = req(vec![jwk]);
    long.nonce = Some("n".repeat(513));
    assert!(matches!(
        fx.service.key_attestation(&alice, long).await,
        Err(WpError::Invalid(_))
    ));
}

async fn levels_come_from_the_tenant_configuration(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |s| {
        s.tenants.insert(
            "acme".into(),
            TenantAttestationLevels {
                key_storage: Some(vec!["iso_18045_high".into()]),
                user_authentication: None,
            },
        );
    })
    .await;
    let (_, jwk) = public_jwk();
    let acme = fx
        .service
        .key_attestation(&caller("acme", "a"), req(vec![jwk.clone()]))
        .await
        .unwrap();
    let (_, claims) = verify(&acme.jwt, &fx.service.jwks());
    assert_eq!(claims["key_storage"], json!(["iso_18045_high"]));
    assert_eq!(
        claims["user_authentication"],
        json!(["iso_18045_moderate"]),
        "unset falls back"
    );
    let other = fx
        .service
        .key_attestation(&caller("default", "a"), req(vec![jwk]))
        .await
        .unwrap();
    let (_, claims) = verify(&other.jwt, &fx.service.jwks());
    assert_eq!(claims["key_storage"], json!(["iso_18045_moderate"]));
}

async fn issuance_is_rate_limited_per_user_and_instance(db: TestDatabase) {
    let mut cfg = Config::default();
    cfg.wallet_provider.rate_limit_per_user = 3;
    cfg.wallet_provider.rate_limit_per_instance = 0;
    let fx = fixture_limited(db, soft_signer(), |s| s.max_live_per_instance = 100, limiter(&cfg)).await;
    let (_, jwk) = public_jwk();
    let alice = caller("acme", "alice");
    for _ in 0..3 {
        fx.service
            .key_attestation(&alice, req(vec![jwk.clone()]))
            .await
            .unwrap();
    }
    let err = fx
        .service
        .key_attestation(&alice, req(vec![jwk.clone()]))
        .await
        .unwrap_err();
    let WpError::RateLimited(r) = err else {
        panic!("{err:?}")
    };
    assert_eq!(r.what, "user");
    assert!(r.retry_after.as_secs() <= 60);
    fx.service
        .key_attestation(&caller("acme", "bob"), req(vec![jwk.clone()]))
        .await
        .expect("another user is not limited by alice");

    // The quota of unexpired attestations per instance.
    cfg.wallet_provider.rate_limit_per_user = 0;
    let fx2 = fixture_limited(
        TestDatabase::sqlite(),
        soft_signer(),
        |s| s.max_live_per_instance = 2,
        limiter(&cfg),
    )
    .await;
    for _ in 0..2 {
        fx2.service
            .key_attestation(&alice, req(vec![jwk.clone()]))
            .await
            .unwrap();
    }
    let err = fx2.service.key_attestation(&alice, req(vec![jwk])).await.unwrap_err();
    assert!(
        matches!(err, WpError::RateLimited(r) if r.what.starts_with("instance")),
        "quota"
    );
}

async fn issuance_is_audited_without_key_material(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    let (_, jwk) = public_jwk();
    let issued = fx
        .service
        .key_attestation(&caller("acme", "alice"), req(vec![jwk.clone()]))
        .await
        .unwrap();
    let audit = fx.store.list_audit(Some("acme"), 10).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "key_attestation.issue")
        .expect("audited");
    assert_eq!(entry.actor, "user:alice");
    assert_eq!(entry.target.as_deref(), Some(issued.instance_id.as_str()));
    assert_eq!(entry.detail["keys"], 1);
    assert_eq!(entry.detail["status_idx"], issued.status_idx);
    let text = entry.detail.to_string();
    for secret in [jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap(), &issued.jwt] {
        assert!(
            !text.contains(secret),
            "no key material or attestation in the audit log"
        );
    }
}

async fn a_disabled_tenant_is_refused(db: TestDatabase) {
    let fx = fixture(db, soft_signer(), |_| {}).await;
    fx.store
        .update_tenant(
            "acme",
            TenantUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, jwk) = public_jwk();
    let err = fx
        .service
        .key_attestation(&caller("acme", "a"), req(vec![jwk]))
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::Tenant(_)), "{err:?}");
    let err = fx
        .service
        .key_attestation(&caller("nope", "a"), req(vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, WpError::Invalid(_)), "input is checked first: {err:?}");
}
