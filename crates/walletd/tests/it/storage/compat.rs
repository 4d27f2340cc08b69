//! The web client's private-data API (the `keystore` blob) and the legacy credential records switch.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use walletd_testkit::TestDatabase;

use super::{Dev, config, data_of, send, start, start_with};

async fn private_data_compat_semantics(db: TestDatabase) {
    let w = start(&db).await;
    let d = Dev::new(&w, "default", "jack");
    // Nothing stored: 200 with an empty blob and the etag of empty bytes.
    let resp = d.req(Method::GET, "/user/session/private-data").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let empty_etag = resp.headers()["x-private-data-etag"].to_str().unwrap().to_string();
    assert!(empty_etag.starts_with('"') && empty_etag.ends_with('"'));
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"privateData": {"$b64u": ""}})
    );

    // Write with the etag of "nothing": 204 + new etag.
    let resp = d
        .req(Method::POST, "/user/session/private-data")
        .header("x-private-data-if-match", &empty_etag)
        .json(&json!({"$b64u": B64.encode(b"keystore-v1")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let etag1 = resp.headers()["x-private-data-etag"].to_str().unwrap().to_string();
    assert_ne!(etag1, empty_etag);

    // GET returns it; If-None-Match (either header) equal -> 304.
    let resp = d.req(Method::GET, "/user/session/private-data").send().await.unwrap();
    assert_eq!(resp.headers()["x-private-data-etag"].to_str().unwrap(), etag1);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        B64.decode(body["privateData"]["$b64u"].as_str().unwrap()).unwrap(),
        b"keystore-v1"
    );
    for h in ["if-none-match", "x-private-data-if-none-match"] {
        let resp = d
            .req(Method::GET, "/user/session/private-data")
            .header(h, &etag1)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{h}");
        assert_eq!(resp.headers()["x-private-data-etag"].to_str().unwrap(), etag1);
    }
    let resp = d
        .req(Method::GET, "/user/session/private-data")
        .header("if-none-match", &empty_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // A stale If-Match: 412 with the current etag; nothing changes.
    let resp = d
        .req(Method::POST, "/user/session/private-data")
        .header("x-private-data-if-match", &empty_etag)
        .json(&json!({"$b64u": B64.encode(b"stale")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(resp.headers()["x-private-data-etag"].to_str().unwrap(), etag1);

    // A plain string body and no precondition are accepted.
    let resp = d
        .req(Method::POST, "/user/session/private-data")
        .json(&json!(B64.encode(b"keystore-v2")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // It is the `keystore` blob of the service API: same bytes, versions moving together.
    let (st, blob) = d.get("keystore").await;
    assert_eq!((st, blob["version"].as_i64()), (StatusCode::OK, Some(2)));
    assert_eq!(data_of(&blob), b"keystore-v2");
    // ... but the service API cannot write or delete it: only the private-data routes (and their ETag check) can.
    let (st, body) = d.put("keystore", b"keystore-v3", Some(2)).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{body}"
    );
    assert_eq!(d.put("keystore", b"keystore-v3", None).await.0, StatusCode::FORBIDDEN);
    let del = send(d.req(Method::DELETE, "/storage/credentials/keystore")).await;
    assert_eq!(del.0, StatusCode::FORBIDDEN, "{}", del.1);
    let (_, body) = send(d.req(Method::GET, "/user/session/private-data")).await;
    assert_eq!(
        B64.decode(body["privateData"]["$b64u"].as_str().unwrap()).unwrap(),
        b"keystore-v2"
    );
}

async fn legacy_records_follow_the_feature_switch(db: TestDatabase) {
    let off = start(&db).await;
    let d = Dev::new(&off, "default", "kim");
    for (m, p) in [
        (Method::GET, "/storage/vc"),
        (Method::POST, "/storage/vc"),
        (Method::GET, "/storage/vc/abc"),
        (Method::DELETE, "/storage/vc/abc"),
        (Method::POST, "/storage/vc/update"),
        (Method::GET, "/storage/vp"),
    ] {
        let (st, body) = send(d.req(m.clone(), p).json(&json!({}))).await;
        assert_eq!(
            (st, body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{m} {p}"
        );
    }
    drop(off);

    let on = start_with(&db, &config(&db).set("features.legacy_credential_records", true)).await;
    let d = Dev::new(&on, "default", "kim");
    let rec = json!({"credentialIdentifier": "c-1", "credential": "eyJ...", "format": "vc+sd-jwt"});
    let (st, _) = send(d.req(Method::POST, "/storage/vc").json(&json!({"credentials": [rec]}))).await;
    assert_eq!(st, StatusCode::OK);
    let (_, list) = send(d.req(Method::GET, "/storage/vc")).await;
    assert_eq!(list["vc_list"][0]["credentialIdentifier"], "c-1");
    let updated = json!({"credentialIdentifier": "c-1", "credential": "new", "format": "vc+sd-jwt"});
    let (st, _) = send(
        d.req(Method::POST, "/storage/vc/update")
            .json(&json!({"credential": updated})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (_, one) = send(d.req(Method::GET, "/storage/vc/c-1")).await;
    assert_eq!(one["credential"], "new");
    let other = Dev::new(&on, "default", "lou");
    assert_eq!(
        send(other.req(Method::GET, "/storage/vc/c-1")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(d.req(Method::DELETE, "/storage/vc/c-1")).await.0, StatusCode::OK);
    assert_eq!(
        send(d.req(Method::GET, "/storage/vc/c-1")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, vp) = send(d.req(Method::GET, "/storage/vp")).await;
    assert_eq!(vp["vp_list"], json!([]));
}

walletd_testkit::on_both_databases!(private_data_compat_semantics, legacy_records_follow_the_feature_switch);
