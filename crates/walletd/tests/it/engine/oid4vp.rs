//! Real OID4VP flows through a real walletd engine process: a credential issued by the Node issuer through the
//! engine is presented, through the engine, to the independent Node verifier (tests/interop/verifier.mjs), which
//! verifies signature, disclosures, key binding, nonce and audience; the tests assert its verdict.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_wallet::Holder;
use walletd_wallet::client::PresentAnswer;

use super::engine_loopback;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::flow_error;
use walletd_testkit::holder::issued;
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::interop::NodeVerifier;
use walletd_testkit::pdp::deciding as pdp;

#[tokio::test]
async fn presents_for_every_query_mode_and_client_id_prefix() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let vct = format!("{}/vct/pid", issuer.url);
    let mut c = connected(&w, None).await;
    let mut n = 0;
    for query in ["dcql", "pe"] {
        for mode in ["direct_post", "direct_post.jwt"] {
            for scheme in ["x509_san_dns", "x509_hash", "redirect_uri"] {
                let req = verifier
                    .request(
                        json!({"query": query, "mode": mode, "scheme": scheme, "claims": ["given_name"], "vct": vct}),
                    )
                    .await;
                // What the web client sends: request_uri_ref and client_id.
                let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
                let case = format!("{query}/{mode}/{scheme}");
                let done = c
                    .run_presentation(&holder, &wallet, &format!("p{n}"), start, PresentAnswer::Consent)
                    .await
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                let verdict = verifier.result(&req["id"]).await;
                assert_eq!(verdict["verified"], true, "{case}: {verdict}");
                assert_eq!(verdict["disclosed"], json!(["given_name"]), "{case}: {verdict}");
                assert_eq!(verdict["encrypted"], mode == "direct_post.jwt", "{case}: {verdict}");
                assert_eq!(verdict["posts"], 1, "{case}");
                let redirect = done["redirect_uri"].as_str().unwrap_or_default();
                assert!(
                    redirect.ends_with(&format!("/done/{}", req["id"].as_str().unwrap())),
                    "{case}: {done}"
                );
                n += 1;
            }
        }
    }
    assert_eq!(n, 12);
}

#[tokio::test]
async fn full_profile_variants() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let mut c = connected(&w, Some(&["presentation_definition", "transaction_data"])).await;

    // PE as is, both claims, A256GCM, request_uri_method=post through the openid4vp:// URL.
    let req = verifier
        .request(
            json!({"query": "pe", "mode": "direct_post.jwt", "enc": "A256GCM", "request_uri_method": "post",
            "claims": ["given_name", "family_name"]}),
        )
        .await;
    c.run_presentation(
        &holder,
        &wallet,
        "pe",
        json!({"request_uri": req["url"]}),
        PresentAnswer::Consent,
    )
    .await
    .unwrap();
    let v = verifier.result(&req["id"]).await;
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["disclosed"], json!(["family_name", "given_name"]), "{v}");
    assert_eq!(
        v["wallet_metadata"]["vp_formats_supported"]["dc+sd-jwt"]["kb-jwt_alg_values"],
        json!(["ES256"])
    );

    // transaction_data: hashed into the KB-JWT by a client that declared the feature.
    let req = verifier
        .request(
            json!({"query": "dcql", "mode": "direct_post", "scheme": "x509_hash", "transaction_data": true,
            "vct": format!("{}/vct/pid", issuer.url)}),
        )
        .await;
    c.run_presentation(
        &holder,
        &wallet,
        "td",
        json!({"request_uri": req["url"]}),
        PresentAnswer::Consent,
    )
    .await
    .unwrap();
    let v = verifier.result(&req["id"]).await;
    assert_eq!(v["verified"], true, "{v}");

    // ... and refused early for the web profile, nothing posted.
    let mut web = connected(&w, None).await;
    let req = verifier
        .request(json!({"query": "dcql", "mode": "direct_post", "transaction_data": true}))
        .await;
    let e = flow_error(
        web.run_presentation(
            &holder,
            &wallet,
            "td-web",
            json!({"request_uri": req["url"]}),
            PresentAnswer::Consent,
        )
        .await,
    );
    assert_eq!(e["error"]["code"], "PRESENTATION_ERROR", "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("transaction_data"),
        "{e}"
    );
    assert_eq!(verifier.result(&req["id"]).await["posts"], 0);
}

#[tokio::test]
async fn refusals_post_nothing() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let mut c = connected(&w, None).await;
    let cases: [(&str, Value, Option<&str>, &str, &str); 6] = [
        (
            "bad-sig",
            json!({"tamper": "bad_signature"}),
            None,
            "PRESENTATION_ERROR",
            "signature",
        ),
        (
            "san",
            json!({"tamper": "san_mismatch"}),
            None,
            "PRESENTATION_ERROR",
            "SAN",
        ),
        (
            "cid",
            json!({}),
            Some("x509_san_dns:evil.example"),
            "PRESENTATION_ERROR",
            "client_id",
        ),
        (
            "nonce",
            json!({"tamper": "no_nonce"}),
            None,
            "PRESENTATION_ERROR",
            "nonce",
        ),
        (
            "redir",
            json!({"tamper": "redirect_uri"}),
            None,
            "PRESENTATION_ERROR",
            "redirect_uri",
        ),
        (
            "exp",
            json!({"tamper": "expired"}),
            None,
            "PRESENTATION_ERROR",
            "expired",
        ),
    ];
    for (name, opts, client_id, code, words) in cases {
        let req = verifier.request(opts).await;
        let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": client_id.map(Value::from).unwrap_or(req["client_id"].clone())});
        let e = flow_error(
            c.run_presentation(&holder, &wallet, name, start, PresentAnswer::Consent)
                .await,
        );
        assert_eq!(e["error"]["code"], code, "{name}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(words), "{name}: {e}");
        assert_eq!(verifier.result(&req["id"]).await["posts"], 0, "{name}");
    }

    // The client refuses to sign, or signs nothing: SIGN_ERROR, nothing posted.
    for (name, answer) in [
        ("sign-err", PresentAnswer::SignError),
        ("empty", PresentAnswer::EmptyVpToken),
    ] {
        let req = verifier.request(json!({})).await;
        let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
        let e = flow_error(c.run_presentation(&holder, &wallet, name, start, answer).await);
        assert_eq!(e["error"]["code"], "SIGN_ERROR", "{name}: {e}");
        assert_eq!(verifier.result(&req["id"]).await["posts"], 0, "{name}");
    }

    // Decline: access_denied (+state) posted, the verifier's redirect_uri handed back.
    let req = verifier.request(json!({})).await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    let e = flow_error(
        c.run_presentation(&holder, &wallet, "decline", start, PresentAnswer::Decline)
            .await,
    );
    assert_eq!(e["error"]["code"], "PRESENTATION_ERROR", "{e}");
    let id = req["id"].as_str().unwrap();
    assert!(
        e["error"]["details"]["redirect_uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/declined/{id}")),
        "{e}"
    );
    let v = verifier.result(&req["id"]).await;
    assert_eq!(
        (v["posts"].clone(), v["error"].clone(), v["error_state_ok"].clone()),
        (json!(1), json!("access_denied"), json!(true))
    );
}

#[tokio::test]
async fn untrusted_verifier_and_verifier_down() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let holder = Holder::new();
    let (pdp_url, seen) = pdp(false).await;
    let w = engine_loopback("").await;
    let wallet = issued(&w, &issuer, &holder).await;
    let guarded = super::engine_with_pdp(&pdp_url, "").await;
    let mut c = connected(&guarded, None).await;
    let req = verifier.request(json!({"scheme": "x509_san_dns"})).await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    let e = flow_error(
        c.run_presentation(&holder, &wallet, "untrusted", start, PresentAnswer::Consent)
            .await,
    );
    assert_eq!(e["error"]["code"], "UNTRUSTED_VERIFIER", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("not trusted"), "{e}");
    assert_eq!(verifier.result(&req["id"]).await["posts"], 0);
    let asked = seen.lock().unwrap()[0].clone();
    assert_eq!(asked["resource"]["type"], "x5c", "{asked}");
    assert_eq!(asked["resource"]["id"], "x509_san_dns:localhost", "{asked}");

    // Verifier down: the request object cannot be fetched.
    let mut c = connected(&w, None).await;
    let req = verifier.request(json!({})).await;
    drop(verifier);
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    let e = flow_error(
        c.run_presentation(&holder, &wallet, "down", start, PresentAnswer::Consent)
            .await,
    );
    assert_eq!(e["error"]["code"], "PRESENTATION_ERROR", "{e}");
}

#[tokio::test]
async fn verifier_verdicts_are_cached_across_presentations() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let holder = Holder::new();
    let (pdp_url, seen) = pdp(true).await;
    let wallet = issued(&engine_loopback("").await, &issuer, &holder).await;
    let guarded = super::engine_with_pdp(&pdp_url, "").await;
    let vct = format!("{}/vct/pid", issuer.url);
    let mut c = connected(&guarded, None).await;
    for n in 0..2 {
        // Each request has its own response_uri (the verifier's session is in its path).
        let req = verifier
            .request(json!({"scheme": "x509_hash", "claims": ["given_name"], "vct": vct}))
            .await;
        let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
        c.run_presentation(&holder, &wallet, &format!("p{n}"), start, PresentAnswer::Consent)
            .await
            .unwrap_or_else(|e| panic!("presentation {n}: {e}"));
        assert_eq!(verifier.result(&req["id"]).await["verified"], true);
    }
    let asked = seen.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "the second presentation reuses the verdict: {asked:?}");
    let context = &asked[0]["context"];
    let origin = context["response_origin"].as_str().unwrap_or_default();
    assert!(
        origin.starts_with("http://127.0.0.1:") && !origin.contains("/response"),
        "{context}"
    );
    assert!(
        context.get("response_uri").is_none(),
        "the PDP does not see the session path: {context}"
    );
}

#[tokio::test]
async fn user_action_timeout_tells_the_verifier() {
    let verifier = NodeVerifier::start();
    let w = engine_loopback("  user_action_timeout: 1s\n").await;
    let mut c = connected(&w, None).await;
    let req = verifier.request(json!({"scheme": "redirect_uri"})).await;
    c.send(&json!({"type": "flow_start", "flow_id": "t", "protocol": "oid4vp",
        "request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]}))
        .await
        .unwrap();
    // Bounded: progress frames, then the terminal frame.
    let mut terminal = Value::Null;
    for _ in 0..20 {
        let v = c.recv_flow("t", Duration::from_secs(10)).await.unwrap();
        if v["type"] == "flow_progress" && v["step"] == "credential_selection" {
            let verifier_info = &v["payload"]["verifier"];
            assert_eq!(verifier_info["client_id_scheme"], "redirect_uri", "{v}");
            assert_eq!(verifier_info["name"], "walletd interop verifier", "{v}");
            assert_eq!(verifier_info["domain"], "127.0.0.1", "{v}");
            assert_eq!(v["payload"]["dcql_query"]["credentials"][0]["id"], "pid", "{v}");
        }
        if v["type"] != "flow_progress" {
            terminal = v;
            break;
        }
    }
    assert_eq!(terminal["type"], "flow_error", "{terminal}");
    assert_eq!(terminal["error"]["code"], "FLOW_TIMEOUT", "{terminal}");
    assert!(terminal["error"]["details"]["redirect_uri"].is_string(), "{terminal}");
    let v = verifier.result(&req["id"]).await;
    assert_eq!(v["error"], "access_denied", "{v}");
}
