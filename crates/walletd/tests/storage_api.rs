//! The storage role over HTTP, as the real binary on SQLite and PostgreSQL: CRUD, listing, conditional requests,
//! sync, concurrency, isolation, bad input, quotas, the web client's private-data API, the legacy records switch,
//! and durability across SIGKILL.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use walletd_common::config::DatabaseConfig;
use walletd_common::tenant::{Tenant, TenantStorageQuota};
use walletd_db::Store;
use walletd_testkit::{TestDatabase, Walletd, WalletdBuilder, http_client};

const SECRET: &str = "storage-test-shared-secret";

fn config(db: &TestDatabase, extra: &str) -> String {
    format!(
        "jwt:\n  secret: {SECRET}\ndatabase:\n  url: \"{}\"\n  max_connections: 20\n  busy_timeout: 30s\n{extra}",
        db.url()
    )
}

async fn start(db: &TestDatabase, extra: &str) -> Walletd {
    WalletdBuilder::new(env!("CARGO_BIN_EXE_walletd"))
        .mode("storage")
        .config(&config(db, extra))
        .spawn()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db.kind()))
}

/// An HS256 access token (the legacy shared-secret path this mode validates with).
fn token(tenant: &str, user: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": user, "tenant_id": tenant, "exp": exp, "iss": "walletd", "aud": "walletd"}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A client acting as one user (one "device").
#[derive(Clone)]
struct Dev {
    http: Client,
    base: String,
    token: String,
}

impl Dev {
    fn new(w: &Walletd, tenant: &str, user: &str) -> Dev {
        Dev {
            http: http_client(),
            base: w.http_url(),
            token: token(tenant, user),
        }
    }
    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }
    async fn put(&self, id: &str, data: &[u8], if_match: Option<i64>) -> (StatusCode, Value) {
        let mut r = self
            .req(Method::PUT, &format!("/storage/credentials/{id}"))
            .json(&json!({"data": B64.encode(data)}));
        if let Some(v) = if_match {
            r = r.header("if-match", format!("\"{v}\""));
        }
        send(r).await
    }
    async fn get(&self, id: &str) -> (StatusCode, Value) {
        send(self.req(Method::GET, &format!("/storage/credentials/{id}"))).await
    }
    async fn sync(&self, cursor: &str) -> Value {
        let (st, body) = send(self.req(Method::GET, &format!("/storage/sync?since={cursor}&limit=1000"))).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        body
    }
}

async fn send(r: RequestBuilder) -> (StatusCode, Value) {
    let resp = r.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn data_of(v: &Value) -> Vec<u8> {
    B64.decode(v["data"].as_str().expect("data")).expect("base64url")
}

async fn crud_listing_and_conditional_requests(db: TestDatabase) {
    let w = start(&db, "").await;
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

async fn sync_between_devices(db: TestDatabase) {
    let w = start(&db, "").await;
    let a = Dev::new(&w, "default", "alice");
    let b = Dev::new(&w, "default", "alice");
    for id in ["x", "y", "z"] {
        assert_eq!(a.put(id, id.as_bytes(), None).await.0, StatusCode::CREATED);
    }
    assert_eq!(
        send(a.req(Method::DELETE, "/storage/credentials/y")).await.0,
        StatusCode::NO_CONTENT
    );
    let page = b.sync("").await;
    let changes = page["changes"].as_array().unwrap();
    let got: BTreeMap<&str, bool> = changes
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["deleted"].as_bool().unwrap()))
        .collect();
    assert_eq!(got, BTreeMap::from([("x", false), ("y", true), ("z", false)]));
    for c in changes {
        if c["deleted"] == false {
            assert_eq!(data_of(c), c["id"].as_str().unwrap().as_bytes());
        } else {
            assert!(c.get("data").is_none());
        }
    }
    assert_eq!(
        (page["has_more"].as_bool(), page["reset_required"].as_bool()),
        (Some(false), Some(false))
    );
    let cursor = page["cursor"].as_str().unwrap().to_string();
    // Only what changed since the cursor.
    a.put("x", b"x2", Some(1)).await;
    a.put("w", b"w", None).await;
    let next = b.sync(&cursor).await;
    let ids: Vec<&str> = next["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["x", "w"]);
    let last = b.sync(next["cursor"].as_str().unwrap()).await;
    assert!(last["changes"].as_array().unwrap().is_empty());
}

/// Every live blob with its data, following `next_cursor` to the end.
async fn list_all(d: &Dev) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut cursor = String::new();
    for _ in 0..1000 {
        let (st, page) = send(d.req(
            Method::GET,
            &format!("/storage/credentials?include=data&cursor={cursor}"),
        ))
        .await;
        assert_eq!(st, StatusCode::OK, "{page}");
        for it in page["items"].as_array().unwrap() {
            out.insert(it["id"].as_str().unwrap().to_string(), data_of(it));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return out,
        }
    }
    panic!("listing did not end");
}

/// Each device applies the feed to a local map; both must end with the server's live set.
async fn converge(dev: &Dev, local: &mut BTreeMap<String, Vec<u8>>, cursor: &mut String) {
    for _ in 0..100 {
        let page = dev.sync(cursor).await;
        if page["reset_required"] == true {
            local.clear();
        }
        for c in page["changes"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_string();
            if c["deleted"] == true {
                local.remove(&id);
            } else {
                local.insert(id, data_of(c));
            }
        }
        *cursor = page["cursor"].as_str().unwrap().to_string();
        if page["has_more"] == false {
            return;
        }
    }
    panic!("sync did not finish");
}

async fn two_devices_writing_and_syncing_converge(db: TestDatabase) {
    let w = start(&db, "").await;
    let devices = [Dev::new(&w, "default", "carol"), Dev::new(&w, "default", "carol")];
    let tasks: Vec<_> = devices
        .iter()
        .enumerate()
        .map(|(n, dev)| {
            let dev = dev.clone();
            tokio::spawn(async move {
                let mut local = BTreeMap::new();
                let mut cursor = String::new();
                for i in 0..30 {
                    // Own blobs, a shared blob, and some deletes, interleaved with syncs.
                    dev.put(&format!("d{n}-{}", i % 7), format!("{n}:{i}").as_bytes(), None)
                        .await;
                    dev.put("shared", format!("{n}:{i}").as_bytes(), None).await;
                    if i % 5 == 4 {
                        send(dev.req(Method::DELETE, &format!("/storage/credentials/d{n}-{}", i % 3))).await;
                    }
                    if i % 3 == 0 {
                        converge(&dev, &mut local, &mut cursor).await;
                    }
                }
                (dev, local, cursor)
            })
        })
        .collect();
    let mut states = Vec::new();
    for t in tasks {
        states.push(t.await.unwrap());
    }
    // Both devices stopped writing: a final sync each.
    let mut finals = Vec::new();
    for (dev, mut local, mut cursor) in states {
        converge(&dev, &mut local, &mut cursor).await;
        finals.push(local);
    }
    assert_eq!(finals[0], finals[1], "both devices see the same state");
    // ... which is the server's.
    assert_eq!(finals[0], list_all(&devices[0]).await);
}

/// 50 concurrent writers with the same If-Match, several rounds: exactly one 2xx per version; then 50 writers each
/// adding their mark with a compare-and-swap retry loop: no mark is lost.
async fn concurrent_if_match_writers(db: TestDatabase) {
    let w = start(&db, "").await;
    let d = Dev::new(&w, "default", "dave");
    d.put("hot", b"", None).await;
    for round in 1..=3i64 {
        let tasks: Vec<_> = (0..50)
            .map(|n| {
                let d = d.clone();
                tokio::spawn(async move { d.put("hot", format!("{round}/{n}").as_bytes(), Some(round)).await })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            let (st, body) = t.await.unwrap();
            match st {
                StatusCode::OK => {
                    assert_eq!(body["version"].as_i64(), Some(round + 1));
                    winners += 1;
                }
                StatusCode::PRECONDITION_FAILED => assert_eq!(body["current_version"].as_i64(), Some(round + 1)),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }

    d.put("set", b"", None).await;
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let d = d.clone();
            tokio::spawn(async move {
                for _ in 0..400 {
                    let (_, cur) = d.get("set").await;
                    let version = cur["version"].as_i64().unwrap();
                    let mut marks = String::from_utf8(data_of(&cur)).unwrap();
                    marks.push_str(&format!("[{n}]"));
                    match d.put("set", marks.as_bytes(), Some(version)).await.0 {
                        StatusCode::OK => return true,
                        StatusCode::PRECONDITION_FAILED => tokio::time::sleep(Duration::from_millis(n % 7)).await,
                        other => panic!("unexpected {other}"),
                    }
                }
                false
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap(), "a writer never got its turn");
    }
    let (_, cur) = d.get("set").await;
    let marks = String::from_utf8(data_of(&cur)).unwrap();
    for n in 0..50 {
        assert_eq!(
            marks.matches(&format!("[{n}]")).count(),
            1,
            "mark {n} lost or doubled: {marks}"
        );
    }
    assert_eq!(cur["version"].as_i64(), Some(51), "one version per successful write");
}

async fn users_and_tenants_are_isolated(db: TestDatabase) {
    // Storage refuses unknown tenants, so the second tenant exists before walletd starts.
    let store = Store::connect(&DatabaseConfig::with_url(db.url())).await.unwrap();
    store.create_tenant(&Tenant::new("acme", "Acme")).await.unwrap();
    store.close().await;
    let w = start(&db, "").await;
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

async fn bad_input_is_a_clear_4xx(db: TestDatabase) {
    let w = start(&db, "storage:\n  max_blob_bytes: 1024\n").await;
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
    let w = start(&db, "storage:\n  max_blobs_per_user: 3\n").await;

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

async fn private_data_compat_semantics(db: TestDatabase) {
    let w = start(&db, "").await;
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
    assert_eq!(d.put("keystore", b"keystore-v3", Some(2)).await.0, StatusCode::OK);
    let (_, body) = send(d.req(Method::GET, "/user/session/private-data")).await;
    assert_eq!(
        B64.decode(body["privateData"]["$b64u"].as_str().unwrap()).unwrap(),
        b"keystore-v3"
    );
}

async fn legacy_records_follow_the_feature_switch(db: TestDatabase) {
    let off = start(&db, "").await;
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

    let on = start(&db, "features:\n  legacy_credential_records: true\n").await;
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

/// SIGKILL while a client writes, 5 rounds: every write answered 2xx is there after the restart.
async fn acknowledged_writes_survive_sigkill(db: TestDatabase) {
    let mut acked: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for round in 0..5u32 {
        let w = start(&db, "").await;
        let d = Dev::new(&w, "default", "max");
        // Everything acknowledged in earlier rounds is there.
        let present = list_all(&d).await;
        for (id, data) in &acked {
            assert_eq!(
                present.get(id),
                Some(data),
                "round {round}: acknowledged write {id} lost"
            );
        }
        // Write concurrently until the process is killed under the writers.
        let writers: Vec<_> = (0..4)
            .map(|n| {
                let d = d.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    for i in 0..10_000u32 {
                        let id = format!("r{round}-w{n}-{i}");
                        let data = format!("{id}:{}", "x".repeat(200)).into_bytes();
                        // The kill cuts requests off mid-flight: an error or a non-2xx ends this writer.
                        let sent = d
                            .req(Method::PUT, &format!("/storage/credentials/{id}"))
                            .json(&json!({"data": B64.encode(&data)}))
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status().is_success() => mine.push((id, data)),
                            _ => break,
                        }
                    }
                    mine
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300 + 150 * u64::from(round))).await;
        w.signal(libc::SIGKILL);
        let mut written = 0;
        for t in writers {
            for (id, data) in t.await.unwrap() {
                acked.insert(id, data);
                written += 1;
            }
        }
        assert!(written > 0, "round {round}: no write was acknowledged before the kill");
        drop(w);
    }
    let w = start(&db, "").await;
    let d = Dev::new(&w, "default", "max");
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut cursor = String::new();
    for _ in 0..1000 {
        let page = d.sync(&cursor).await;
        for c in page["changes"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_string();
            if let Some(data) = acked.get(&id) {
                assert_eq!(&data_of(c), data);
            }
            seen.insert(id);
        }
        cursor = page["cursor"].as_str().unwrap().to_string();
        if page["has_more"] == false {
            break;
        }
    }
    let missing: Vec<_> = acked.keys().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "acknowledged but lost after SIGKILL: {missing:?}");
}

walletd_testkit::on_both_databases!(
    crud_listing_and_conditional_requests,
    sync_between_devices,
    two_devices_writing_and_syncing_converge,
    concurrent_if_match_writers,
    users_and_tenants_are_isolated,
    bad_input_is_a_clear_4xx,
    quotas_answer_413_with_tenant_overrides,
    private_data_compat_semantics,
    legacy_records_follow_the_feature_switch,
    acknowledged_writes_survive_sigkill,
);
