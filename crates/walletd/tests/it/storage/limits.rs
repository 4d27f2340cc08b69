//! Bad input is a clear 4xx that changes nothing; quotas answer 413, with per-tenant overrides.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::json;
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::{Tenant, TenantStorageQuota};
use walletd_db::Store;
use walletd_testkit::TestDatabase;

use super::{Dev, config, data_of, send, start_with};

async fn bad_input_is_a_clear_4xx(db: TestDatabase) {
    let w = start_with(&db, &config(&db).limit("storage.max_blob_bytes", 1024)).await;
    let d = Dev::new(&w, "default", "gina");
    d.put("ok", b"fine", None).await;
    let cases: Vec<(RequestBuilder, StatusCode, &str)> = vec![
        (
            d.req(Method::PUT, "/storage/credentials/a")
                .json(&json!({"data": "not base64!"})),
            StatusCode::BAD_REQUEST,
            "malformed base64",
        ),
        (
            d.req(Method::PUT, "/storage/credentials/a").json(&json!({"nodata": 1})),
            StatusCode::BAD_REQUEST,
            "missing data",
        ),
        (
            d.req(Method::PUT, "/storage/credentials/a")
                .header("content-type", "application/json")
                .body("{not json"),
            StatusCode::BAD_REQUEST,
            "broken JSON",
        ),
        (
            d.req(Method::PUT, "/storage/credentials/a")
                .json(&json!({"data": B64.encode([0u8; 1025])})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "oversized blob",
        ),
        (
            d.req(Method::PUT, "/storage/credentials/a%20b")
                .json(&json!({"data": "AA"})),
            StatusCode::BAD_REQUEST,
            "bad id",
        ),
        (
            d.req(Method::PUT, &format!("/storage/credentials/{}", "x".repeat(129)))
                .json(&json!({"data": "AA"})),
            StatusCode::BAD_REQUEST,
            "long id",
        ),
        (
            d.req(Method::PUT, "/storage/credentials/ok")
                .header("if-match", "\"abc\"")
                .json(&json!({"data": "AA"})),
            StatusCode::BAD_REQUEST,
            "bad If-Match",
        ),
        (
            d.req(Method::DELETE, "/storage/credentials/ok")
                .header("if-match", "W/x"),
            StatusCode::BAD_REQUEST,
            "bad If-Match on delete",
        ),
        (
            d.req(Method::GET, "/storage/sync?since=%%%"),
            StatusCode::BAD_REQUEST,
            "bad cursor",
        ),
        (
            d.req(Method::GET, "/storage/sync?since=AAAA"),
            StatusCode::BAD_REQUEST,
            "short cursor",
        ),
        (
            d.req(Method::GET, "/storage/sync?limit=-1"),
            StatusCode::BAD_REQUEST,
            "bad limit",
        ),
        (
            d.req(Method::GET, "/storage/credentials?cursor=zz"),
            StatusCode::BAD_REQUEST,
            "bad list cursor",
        ),
        (
            d.req(Method::GET, "/storage/credentials?include=all"),
            StatusCode::BAD_REQUEST,
            "bad include",
        ),
        (
            d.req(Method::POST, "/user/session/private-data")
                .json(&json!({"$b64u": "***"})),
            StatusCode::BAD_REQUEST,
            "bad private data",
        ),
        (
            d.req(Method::POST, "/user/session/private-data").json(&json!([1, 2])),
            StatusCode::BAD_REQUEST,
            "wrong private data shape",
        ),
    ];
    for (req, expected, what) in cases {
        let (st, body) = send(req).await;
        assert_eq!(st, expected, "{what}: {body}");
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{what}: {body}"
        );
    }
    // Nothing of the above changed the stored blob.
    assert_eq!(data_of(&d.get("ok").await.1), b"fine");
}

async fn quotas_answer_413_with_tenant_overrides(db: TestDatabase) {
    // The tenant exists before walletd starts (the admin API belongs to the backend role).
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    let mut t = Tenant::new("small", "Small");
    t.storage_quota = Some(TenantStorageQuota {
        max_blob_bytes: Some(10),
        max_blobs_per_user: Some(2),
        max_bytes_per_user: Some(15),
    });
    store.create_tenant(&t).await.unwrap();
    store.close().await;
    let w = start_with(&db, &config(&db).limit("storage.max_blobs_per_user", 3)).await;

    let d = Dev::new(&w, "default", "hank");
    for i in 0..3 {
        assert_eq!(
            d.put(&format!("b{i}"), b"0123456789abcdef", None).await.0,
            StatusCode::CREATED
        );
    }
    let (st, body) = d.put("b3", b"x", None).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("quota_exceeded"))
    );
    assert!(body["message"].as_str().unwrap().contains("3 blobs"), "{body}");

    let s = Dev::new(&w, "small", "ivy");
    let (st, body) = s.put("a", b"01234567890", None).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("blob_too_large"))
    );
    assert_eq!(s.put("a", b"0123456789", None).await.0, StatusCode::CREATED);
    let (st, body) = s.put("b", b"012345", None).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "15 bytes per user: {body}");
    assert_eq!(s.put("b", b"01234", None).await.0, StatusCode::CREATED);
    let (st, _) = s.put("c", b"", None).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "2 blobs per user");
    // A delete frees room.
    send(s.req(Method::DELETE, "/storage/credentials/b")).await;
    assert_eq!(s.put("c", b"", None).await.0, StatusCode::CREATED);
}

walletd_testkit::on_both_databases!(bad_input_is_a_clear_4xx, quotas_answer_413_with_tenant_overrides);
