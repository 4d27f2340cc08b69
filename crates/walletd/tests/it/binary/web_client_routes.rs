//! docs/web-client.md stays true: every route of its machine-readable list of the web client's calls exists on
//! `walletd --mode=all` (answers something other than the router's own 404 with an empty body, or 405), and every
//! call listed as not served still answers the router's 404.

use reqwest::Method;
use walletd_testkit::{Config, TestDatabase, Walletd, http_client};

const DOC: &str = include_str!("../../../../../docs/web-client.md");

/// The `METHOD path` lines of the fenced block between `<!-- {marker}:start -->` and `<!-- {marker}:end -->`.
fn routes(marker: &str) -> Vec<(Method, String)> {
    let start = format!("<!-- {marker}:start -->");
    let end = format!("<!-- {marker}:end -->");
    let block = DOC
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once(&end))
        .unwrap_or_else(|| panic!("docs/web-client.md has no {marker} block"))
        .0;
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("```"))
        .map(|l| {
            let (method, path) = l.split_once(' ').unwrap_or_else(|| panic!("not `METHOD path`: {l}"));
            (
                Method::from_bytes(method.as_bytes()).expect("an HTTP method"),
                path.to_string(),
            )
        })
        .collect()
}

/// `(status, body)` of one request as a signed-in user of tenant `default`, path parameters filled in.
async fn call(w: &Walletd, token: &str, method: &Method, path: &str) -> (u16, String) {
    let path = path.replace("{id}", "default");
    let mut req = http_client()
        .request(method.clone(), format!("{}{path}", w.http_url()))
        .bearer_auth(token)
        .header("x-tenant-id", "default");
    if matches!(*method, Method::POST | Method::PUT) {
        req = req.json(&serde_json::json!({}));
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn every_route_the_web_client_calls_exists() {
    let served = routes("client-routes");
    let absent = routes("client-routes-absent");
    assert!(served.len() >= 25, "the list lost routes: {served:?}");
    let db = TestDatabase::sqlite();
    let w = crate::support::start(&Config::new().mode("all").database(db.url())).await;
    let token = w.token_for("web-client-route-test", "default");

    let mut missing = Vec::new();
    for (method, path) in &served {
        let (status, body) = call(&w, &token, method, path).await;
        if (status == 404 && body.is_empty()) || status == 405 {
            missing.push(format!("{method} {path}: {status}"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes of docs/web-client.md that walletd --mode=all lacks: {missing:?}"
    );

    for (method, path) in &absent {
        let (status, body) = call(&w, &token, method, path).await;
        assert!(
            (status == 404 && body.is_empty()) || status == 405,
            "{method} {path} is listed as not served but answers {status} {body}"
        );
    }
}
