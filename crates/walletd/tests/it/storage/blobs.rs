//! Blob CRUD, listing and conditional requests; users and tenants see only their own blobs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::Tenant;
use walletd_db::Store;
use walletd_testkit::{TestDatabase, http_client};

use super::{Dev, data_of, send, start};

async fn crud_listing_and_conditional_requests(db: TestDatabase) {
    let w = start(&db).await;
    let d = Dev::new(&w, "default", "alice");
    // Create: 201 + ETag; replace: 200.
    let resp = d
        .req(Method::PUT, "/storage/credentials/cred-1")
        .json(&json!({"data": B64.encode(b"sealed-1"), "content_type": "application/jose"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["etag"], "\"1\"");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"id": "cred-1", "version": 1})
    );
    let (st, body) = d.put("cred-1", b"sealed-2", Some(1)).await;
    assert_eq!((st, body["version"].as_i64()), (StatusCode::OK, Some(2)));
    // Raw bytes.
    let resp = d
        .req(Method::PUT, "/storage/credentials/raw")
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 255, 1, 2])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(data_of(&d.get("raw").await.1), vec![0u8, 255, 1, 2]);

    // Read with ETag and no-store; a conditional GET of the same version is 304.
    let resp = d.req(Method::GET, "/storage/credentials/cred-1").send().await.unwrap();
    assert_eq!(resp.headers()["etag"], "\"2\"");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["id"].as_str(), body["version"].as_i64()),
        (Some("cred-1"), Some(2))
    );
    assert_eq!(data_of(&body), b"sealed-2");
    assert_eq!(
        body["content_type"],
        Value::Null,
        "a replace without content_type clears it"
    );
    let resp = d
        .req(Method::GET, "/storage/credentials/cred-1")
        .header("if-none-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // Stale If-Match: 412 with the current version in body and ETag. If-None-Match: * on an existing blob: 412.
    let resp = d
        .req(Method::PUT, "/storage/credentials/cred-1")
        .header("if-match", "\"1\"")
        .json(&json!({"data": B64.encode(b"lost")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(resp.headers()["etag"], "\"2\"");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["error"].as_str(), body["current_version"].as_i64()),
        (Some("precondition_failed"), Some(2))
    );
    let (st, body) = send(
        d.req(Method::PUT, "/storage/credentials/cred-1")
            .header("if-none-match", "*")
            .json(&json!({"data": "AA"})),
    )
    .await;
    assert_eq!(
        (st, body["current_version"].as_i64()),
        (StatusCode::PRECONDITION_FAILED, Some(2))
    );
    let (st, _) = send(
        d.req(Method::PUT, "/storage/credentials/fresh")
            .header("if-none-match", "*")
            .json(&json!({"data": "AA"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);

    // Listing with paging (metadata only unless include=data).
    for i in 0..12 {
        d.put(&format!("p{i:02}"), &[i; 3], None).await;
    }
    let mut ids = Vec::new();
    let mut cursor = String::new();
    for _ in 0..10 {
        let q = if cursor.is_empty() {
            "?limit=5".to_string()
        } else {
            format!("?limit=5&cursor={cursor}")
        };
        let (st, page) = send(d.req(Method::GET, &format!("/storage/credentials{q}"))).await;
        assert_eq!(st, StatusCode::OK, "{page}");
        for it in page["items"].as_array().unwrap() {
            assert!(it.get("data").is_none());
            assert!(it["size"].is_i64() && it["updated_at"].is_i64() && it["version"].is_i64());
            ids.push(it["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..12).map(|i| format!("p{i:02}")).collect();
    expected.extend(["cred-1", "fresh", "raw"].map(String::from));
    expected.sort();
    assert_eq!(ids, expected);
    let (_, page) = send(d.req(Method::GET, "/storage/credentials?include=data&limit=1")).await;
    assert_eq!(data_of(&page["items"][0]), b"sealed-2");

    // Delete honours If-Match, then the blob is gone.
    let (st, _) = send(
        d.req(Method::DELETE, "/storage/credentials/cred-1")
            .header("if-match", "\"1\""),
    )
    .await;
    assert_eq!(st, StatusCode::PRECONDITION_FAILED);
    let (st, _) = send(
        d.req(Method::DELETE, "/storage/credentials/cred-1")
            .header("if-match", "\"2\""),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = d.get("cred-1").await;
    assert_eq!((st, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (st, _) = send(d.req(Method::DELETE, "/storage/credentials/cred-1")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // The role announces itself.
    let (_, status) = send(http_client().get(format!("{}/status", w.http_url()))).await;
    let caps: Vec<&str> = status["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(caps.contains(&"storage") && caps.contains(&"private-data"), "{status}");
}

async fn users_and_tenants_are_isolated(db: TestDatabase) {
    // Storage refuses unknown tenants, so the second tenant exists before walletd starts.
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    store.create_tenant(&Tenant::new("acme", "Acme")).await.unwrap();
    store.close().await;
    let w = start(&db).await;
    // A token for a tenant that does not exist is refused like everywhere else (404 tenant_not_found).
    let (st, body) = Dev::new(&w, "ghost", "erin").get("mine").await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("tenant_not_found"))
    );
    let owner = Dev::new(&w, "default", "erin");
    let others = [Dev::new(&w, "default", "frank"), Dev::new(&w, "acme", "erin")];
    owner.put("mine", b"private", None).await;
    send(
        owner
            .req(Method::POST, "/user/session/private-data")
            .json(&json!({"$b64u": B64.encode(b"ks")})),
    )
    .await;
    for o in &others {
        assert_eq!(o.get("mine").await.0, StatusCode::NOT_FOUND);
        assert_eq!(o.put("mine", b"hijack", Some(1)).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            send(o.req(Method::DELETE, "/storage/credentials/mine")).await.0,
            StatusCode::NOT_FOUND
        );
        let (_, list) = send(o.req(Method::GET, "/storage/credentials")).await;
        assert_eq!(list["items"], json!([]));
        assert_eq!(o.sync("").await["changes"], json!([]));
        let (_, pd) = send(o.req(Method::GET, "/user/session/private-data")).await;
        assert_eq!(pd["privateData"]["$b64u"], "");
        // Writing the same id in their own space leaves the owner's blob alone.
        assert_eq!(o.put("mine", b"theirs", None).await.0, StatusCode::CREATED);
    }
    let (_, mine) = owner.get("mine").await;
    assert_eq!(
        (data_of(&mine), mine["version"].as_i64()),
        (b"private".to_vec(), Some(1))
    );
    assert_eq!(owner.sync("").await["changes"].as_array().unwrap().len(), 2);
    // Without a token: 401; the web client's route says "Invalid token", which makes it refresh and retry
    // (docs/compat-401.md), the service API keeps the general code.
    let (st, _) = send(http_client().get(format!("{}/storage/credentials", w.http_url()))).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, body) = send(
        http_client()
            .get(format!("{}/user/session/private-data", w.http_url()))
            .bearer_auth("garbage"),
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("Invalid token"))
    );
}

walletd_testkit::on_both_databases!(crud_listing_and_conditional_requests, users_and_tenants_are_isolated);
