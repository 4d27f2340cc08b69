//! `GET /type-metadata` against real upstream servers on loopback: an `extends` chain with images embedded and
//! integrity verified; tampered documents and images refused with nothing cached; oversized images and scripted
//! SVG refused; loops; caching headers, ETag/304, stale serving when upstream is down; sources, overrides,
//! `POST /vctm` and `GET /credentials`.

use super::{config, registry, tm_url, type_metadata};
use crate::support::start;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletd_testkit::http_client;
use walletd_testkit::vctm::*;

const CLEAN_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect fill="#123456" width="10" height="10"/></svg>"##;

/// Parent and child documents on `up`; returns (child vct, parent bytes, logo bytes).
fn publish_chain(up: &Upstream) -> (String, Vec<u8>, Vec<u8>) {
    let logo = png(600, 7);
    up.put("img/logo.png", "image/png", logo.clone(), None);
    up.put("img/bg.svg", "image/svg+xml; charset=utf-8", CLEAN_SVG, None);
    let parent_vct = up.url("vct/pid");
    let parent = json!({
        "vct": parent_vct, "name": "Person ID", "description": "base type",
        "display": [{"locale": "de", "name": "Personalausweis",
                     "rendering": {"simple": {"background_image": {"uri": up.url("img/bg.svg"),
                                                                  "uri#integrity": sri256(CLEAN_SVG.as_bytes())}}}}],
        "claims": [{"path": ["given_name"], "display": [{"locale": "en", "label": "Given name"}], "sd": "always"}]
    });
    let parent_bytes = up.put_json("vct/pid", &parent);
    let child = json!({
        "vct": up.url("vct/pid-student"), "name": "Student ID",
        "extends": parent_vct, "extends#integrity": sri256(&parent_bytes),
        "display": [{"locale": "en", "name": "Student ID",
                     "rendering": {"simple": {"logo": {"uri": up.url("img/logo.png"), "uri#integrity": sri384(&logo),
                                                       "alt_text": "logo"}, "background_color": "#ffffff"}}}],
        "claims": [{"path": ["student_number"], "sd": "allowed"}]
    });
    up.put_json("vct/pid-student", &child);
    (up.url("vct/pid-student"), parent_bytes, logo)
}

#[tokio::test]
async fn extends_chain_with_images_is_resolved_embedded_and_verified() {
    let up = Upstream::start().await;
    let (vct, _, logo) = publish_chain(&up);
    let w = registry().await;

    let (s, h, doc) = type_metadata(&w, &vct, None).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    assert_eq!(doc["vct"], vct.as_str());
    assert_eq!(doc["name"], "Student ID");
    assert_eq!(doc["description"], "base type", "inherited from the parent");
    let display = doc["display"].as_array().unwrap();
    assert_eq!(display.len(), 2, "{doc}");
    let de = display.iter().find(|d| d["locale"] == "de").unwrap();
    let (ct, bytes) = data_uri(&de["rendering"]["simple"]["background_image"]["uri"]);
    assert_eq!((ct.as_str(), bytes.as_slice()), ("image/svg+xml", CLEAN_SVG.as_bytes()));
    let en = display.iter().find(|d| d["locale"] == "en").unwrap();
    let (ct, bytes) = data_uri(&en["rendering"]["simple"]["logo"]["uri"]);
    assert_eq!((ct.as_str(), bytes), ("image/png", logo.clone()));
    assert_eq!(en["rendering"]["simple"]["logo"]["alt_text"], "logo");
    let claims: Vec<&Value> = doc["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["path"][0])
        .collect();
    assert_eq!(claims, [&json!("given_name"), &json!("student_number")]);

    // ETag, Cache-Control, 304; a second request is served from the cache.
    let etag = h["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"'));
    assert!(h["cache-control"].to_str().unwrap().starts_with("public, max-age="));
    // The tag matches, and so does a list with its weak form; another tag does not.
    for (header, status) in [
        (etag.clone(), StatusCode::NOT_MODIFIED),
        (format!("\"other\", W/{etag}"), StatusCode::NOT_MODIFIED),
        ("\"other\"".to_string(), StatusCode::OK),
    ] {
        let r = http_client()
            .get(tm_url(&w, &[("vct", vct.as_str())]))
            .header("If-None-Match", &header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "If-None-Match: {header}");
        assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    }
    assert_eq!(type_metadata(&w, &vct, None).await.2, doc);
    assert_eq!(
        (up.hits("vct/pid-student"), up.hits("vct/pid"), up.hits("img/logo.png")),
        (1, 1, 1)
    );

    // The credential's vct#integrity is checked against the document itself.
    let child_bytes =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&up_bytes(&up, "vct/pid-student").await).unwrap())
            .unwrap();
    let (s, _, body) = type_metadata(&w, &vct, Some(&sri256(&child_bytes))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, body) = type_metadata(&w, &vct, Some(&sri256(b"something else"))).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "integrity_mismatch");
    assert!(body["message"].as_str().unwrap().contains("vct#integrity"), "{body}");

    // Unknown types are 404 not_found; a missing vct is 400.
    let (s, _, body) = type_metadata(&w, "urn:eudi:unknown:1", None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (s, _, _) = type_metadata(&w, &up.url("vct/missing"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = http_client()
        .get(format!("{}/type-metadata", w.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn up_bytes(up: &Upstream, path: &str) -> Vec<u8> {
    http_client()
        .get(up.url(path))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn tampered_documents_and_images_fail_integrity_and_nothing_is_cached() {
    let up = Upstream::start().await;
    let (vct, parent_bytes, logo) = publish_chain(&up);
    let w = registry().await;

    // The parent changes after the child pinned it.
    let mut tampered: Value = serde_json::from_slice(&parent_bytes).unwrap();
    tampered["name"] = json!("Evil ID");
    up.put_json("vct/pid", &tampered);
    let (s, _, body) = type_metadata(&w, &vct, None).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"], "integrity_mismatch");
    assert!(
        body["message"].as_str().unwrap().contains("extends#integrity"),
        "{body}"
    );
    // Nothing was cached: the next request fetches again (and fails again).
    let before = up.hits("vct/pid-student");
    assert_eq!(type_metadata(&w, &vct, None).await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(up.hits("vct/pid-student"), before + 1);

    // Restored parent, tampered logo.
    up.put("vct/pid", "application/json", parent_bytes.clone(), None);
    let mut evil = logo.clone();
    evil[100] ^= 0xff;
    up.put("img/logo.png", "image/png", evil, None);
    let (s, _, body) = type_metadata(&w, &vct, None).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"], "integrity_mismatch");
    assert!(
        body["message"].as_str().unwrap().contains("/display/"),
        "names the image: {body}"
    );

    // Everything restored: served, so no failure was cached.
    up.put("img/logo.png", "image/png", logo, None);
    assert_eq!(type_metadata(&w, &vct, None).await.0, StatusCode::OK);
}

fn with_logo(up: &Upstream, name: &str, image_path: &str) -> String {
    let vct = up.url(&format!("vct/{name}"));
    up.put_json(
        &format!("vct/{name}"),
        &json!({"vct": vct, "display": [{"locale": "en", "name": name,
                "rendering": {"simple": {"logo": {"uri": up.url(image_path)}}}}]}),
    );
    vct
}

#[tokio::test]
async fn oversized_images_scripted_svg_and_wrong_types_are_refused() {
    let up = Upstream::start().await;
    let w = start(&config().limit("registry.max_image_bytes", 1024)).await;
    up.put("img/small.png", "image/png", png(1000, 1), None);
    up.put("img/big.png", "image/png", png(5000, 1), None);
    up.put(
        "img/script.svg",
        "image/svg+xml",
        r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
        None,
    );
    up.put(
        "img/onload.svg",
        "image/svg+xml",
        r#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#,
        None,
    );
    up.put(
        "img/external.svg",
        "image/svg+xml",
        r#"<svg xmlns="http://www.w3.org/2000/svg"><image href="https://tracker.example/x.png"/></svg>"#,
        None,
    );
    up.put("img/page.html", "text/html", "<html></html>", None);
    up.put("img/fake.png", "image/png", "<svg/>", None);

    let (s, _, doc) = type_metadata(&w, &with_logo(&up, "small", "img/small.png"), None).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    for (name, path, needle) in [
        ("big", "img/big.png", "max_image_bytes"),
        ("script", "img/script.svg", "<script"),
        ("onload", "img/onload.svg", "event handler"),
        ("external", "img/external.svg", "external"),
        ("html", "img/page.html", "text/html"),
        ("fake", "img/fake.png", "not image/png"),
    ] {
        let (s, _, body) = type_metadata(&w, &with_logo(&up, name, path), None).await;
        assert_eq!(s, StatusCode::BAD_GATEWAY, "{name}: {body}");
        assert_eq!(body["error"], "image_refused", "{name}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{name}: {body}");
    }
}

#[tokio::test]
async fn extends_loops_and_unknown_parents_are_errors() {
    let up = Upstream::start().await;
    let w = start(&config().limit("registry.max_extends_depth", 3)).await;
    let (a, b) = (up.url("vct/a"), up.url("vct/b"));
    up.put_json("vct/a", &json!({"vct": a, "extends": b}));
    up.put_json("vct/b", &json!({"vct": b, "extends": a}));
    let (s, _, body) = type_metadata(&w, &a, None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("extends_invalid")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("loops"));
    for i in 0..6 {
        let next = up.url(&format!("vct/d{}", i + 1));
        up.put_json(
            &format!("vct/d{i}"),
            &json!({"vct": up.url(&format!("vct/d{i}")), "extends": next}),
        );
    }
    let (s, _, body) = type_metadata(&w, &up.url("vct/d0"), None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("extends_invalid")),
        "{body}"
    );
    up.put_json(
        "vct/orphan",
        &json!({"vct": up.url("vct/orphan"), "extends": up.url("vct/nobody")}),
    );
    let (s, _, body) = type_metadata(&w, &up.url("vct/orphan"), None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("extends_invalid")),
        "{body}"
    );
    // A document naming another vct than the one fetched is refused.
    up.put_json("vct/liar", &json!({"vct": "https://elsewhere.example/vct"}));
    let (s, _, body) = type_metadata(&w, &up.url("vct/liar"), None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("invalid_document")),
        "{body}"
    );
}

#[tokio::test]
async fn upstream_down_serves_stale_and_no_store_is_not_cached() {
    let up = Upstream::start().await;
    let w = registry().await;
    let vct = up.url("vct/short");
    let doc = json!({"vct": vct, "name": "Short-lived"});
    up.put(
        "vct/short",
        "application/json",
        serde_json::to_vec(&doc).unwrap(),
        Some("public, max-age=1"),
    );
    let (s, h, first) = type_metadata(&w, &vct, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["cache-control"], "public, max-age=1");
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    up.set_down(true);
    let (s, h, stale) = type_metadata(&w, &vct, None).await;
    assert_eq!(s, StatusCode::OK, "{stale}");
    assert_eq!(stale, first);
    assert!(h["warning"].to_str().unwrap().starts_with("110"));
    assert_eq!(h["cache-control"], "public, max-age=0, must-revalidate");
    assert_eq!(up.hits("vct/short"), 2, "revalidation was attempted");
    // Nothing stale to fall back on: the upstream failure is reported.
    let (s, _, body) = type_metadata(&w, &up.url("vct/never-seen"), None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("upstream_error")),
        "{body}"
    );

    // `no-store` upstream: served but fetched again every time.
    up.set_down(false);
    let nv = up.url("vct/nostore");
    up.put(
        "vct/nostore",
        "application/json",
        serde_json::to_vec(&json!({"vct": nv})).unwrap(),
        Some("no-store"),
    );
    assert_eq!(type_metadata(&w, &nv, None).await.0, StatusCode::OK);
    assert_eq!(type_metadata(&w, &nv, None).await.0, StatusCode::OK);
    assert_eq!(up.hits("vct/nostore"), 2);
}

#[tokio::test]
async fn sources_overrides_registration_and_listing() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let overrides = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.json"),
        json!({"vct": "urn:test:dir", "name": "From dir"}).to_string(),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.json"), "{not json").unwrap();
    std::fs::write(
        dir.path().join("shadowed.json"),
        json!({"vct": "urn:test:shadow", "name": "source"}).to_string(),
    )
    .unwrap();
    std::fs::write(
        overrides.path().join("o.json"),
        json!({"vct": "urn:test:shadow", "name": "override"}).to_string(),
    )
    .unwrap();
    up.put_json(
        "list.json",
        &json!([{"vct": "urn:test:list", "name": "From list", "organization": "Org"}, {"no": "vct"}]),
    );
    let w = start(
        &config()
            .admin_token("reg-admin")
            .registry_sources(&[dir.path().display().to_string(), up.url("list.json")])
            .registry_overrides_dir(&overrides.path().display().to_string()),
    )
    .await;
    assert_eq!(type_metadata(&w, "urn:test:dir", None).await.2["name"], "From dir");
    assert_eq!(type_metadata(&w, "urn:test:list", None).await.2["name"], "From list");
    assert_eq!(type_metadata(&w, "urn:test:shadow", None).await.2["name"], "override");

    // POST /vctm: admin token only, validated.
    let post = |token: Option<&'static str>, body: Value| {
        let mut r = http_client().post(format!("{}/vctm", w.http_url())).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let doc = json!({"vct": "urn:test:posted", "name": "Posted", "extends": "urn:test:dir"});
    assert_eq!(
        post(None, doc.clone()).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(Some("wrong"), doc.clone()).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(Some("reg-admin"), json!({"name": "no vct"}))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    let r = post(Some("reg-admin"), doc).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let (s, _, got) = type_metadata(&w, "urn:test:posted", None).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["name"], "Posted");
    assert_eq!(got["extends"], "urn:test:dir");

    let r = http_client()
        .get(format!("{}/credentials", w.http_url()))
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_eq!(list["total"], 4, "{list}");
    let vcts: Vec<&str> = list["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["vct"].as_str().unwrap())
        .collect();
    assert_eq!(
        vcts,
        ["urn:test:dir", "urn:test:list", "urn:test:posted", "urn:test:shadow"]
    );
    let entry = &list["credentials"][1];
    assert_eq!(
        (entry["name"].as_str(), entry["organization"].as_str()),
        (Some("From list"), Some("Org"))
    );
    let status: Value = http_client()
        .get(format!("{}/status", w.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        status["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("vctm-registry"))
    );
}
