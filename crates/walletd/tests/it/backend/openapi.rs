//! `/openapi.json` describes exactly the routes that exist: every route of the admin, registry and compat-read
//! routers is documented, every documented operation is served (reaches a handler, not the router's fallback),
//! and every `$ref` resolves.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use walletd_testkit::{Config, TestDatabase, http_client};

const TOKEN: &str = "openapi-test-admin-token";

/// Routes served by the binary outside the crates' tables.
const EXTRA: [(&str, &str); 2] = [("GET", "/admin/status"), ("GET", "/openapi.json")];

fn served_routes() -> BTreeSet<(String, String)> {
    walletd_backend::admin_route_table()
        .into_iter()
        .chain(walletd_backend::compat_route_table())
        .chain(registry_route_table())
        .chain(EXTRA)
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

fn registry_route_table() -> Vec<(&'static str, &'static str)> {
    walletd_registry::route_table()
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

fn check_refs(v: &Value, doc: &Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let pointer = r.strip_prefix('#').expect("local ref");
                assert!(doc.pointer(pointer).is_some(), "unresolved $ref {r}");
            }
            map.values().for_each(|x| check_refs(x, doc));
        }
        Value::Array(items) => items.iter().for_each(|x| check_refs(x, doc)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let db = TestDatabase::sqlite();
    let w = crate::support::start(&Config::new().database(db.url()).admin_token(TOKEN)).await;
    let r = http_client()
        .get(format!("{}/openapi.json", w.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    check_refs(&doc, &doc);

    let documented = documented(&doc);
    let served = served_routes();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.json: {undocumented:?}"
    );
    assert!(phantom.is_empty(), "documented routes that are not served: {phantom:?}");

    // Every documented operation reaches a handler on the listener it belongs to.
    let user = w.token_for("33333333-3333-3333-3333-333333333333", "default");
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "default")
            .replace("{issuer_id}", "1")
            .replace("{verifier_id}", "1")
            .replace("{code}", "nope")
            .replace("{user_id}", "nope");
        let on_admin = path.starts_with("/admin/");
        let base = if on_admin { w.admin_url().unwrap() } else { w.http_url() };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = http_client()
            .request(method.clone(), format!("{base}{concrete}"))
            .bearer_auth(if on_admin { TOKEN } else { user.as_str() });
        if method == Method::POST || method == Method::PUT {
            req = req.json(&serde_json::json!({}));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        // The main router's fallback is an empty 404; the admin router's names itself.
        let fallback = status == StatusCode::NOT_FOUND && (body.is_empty() || body.contains("no such admin route"));
        assert!(
            !fallback,
            "{method} {path} is documented but not routed ({status} {body})"
        );
    }
}
