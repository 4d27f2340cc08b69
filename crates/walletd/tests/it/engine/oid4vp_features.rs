//! OID4VP features of full-protocol clients, through a real walletd engine process against the Node verifier:
//! `match_request` (the holder's matcher answers `match_response`; no match ends the flow and tells the verifier
//! `access_denied`; never sent to the web profile), DCQL `claim_sets` and PE `submission_requirements` (as is for
//! clients with the `presentation_definition` feature, translated into DCQL credential_sets for the web profile).

use serde_json::json;
use walletd_wallet::Holder;
use walletd_wallet::client::PresentAnswer;

use super::engine_loopback;
use walletd_testkit::holder::connected;
use walletd_testkit::holder::flow_error;
use walletd_testkit::holder::issued;
use walletd_testkit::interop::NodeIssuer;
use walletd_testkit::interop::NodeVerifier;

#[tokio::test]
async fn match_request_for_clients_that_declare_it() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let vct = wallet[0].all_claims()["vct"].clone();

    // DCQL, and PE for a client that also handles definitions: match_request first, then the usual selection.
    let mut c = connected(&w, Some(&["match_request", "presentation_definition"])).await;
    for query in ["dcql", "pe"] {
        let req = verifier
            .request(json!({"query": query, "scheme": "redirect_uri", "vct": vct}))
            .await;
        let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
        c.run_presentation(&holder, &wallet, &format!("m-{query}"), start, PresentAnswer::Consent)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        let v = verifier.result(&req["id"]).await;
        assert_eq!(v["verified"], true, "{query}: {v}");
        let m = c.last_match_request.clone().expect("a match_request");
        assert!(m["message_id"].is_string(), "{m}");
        assert_eq!(m["dcql_query"]["credentials"][0]["id"], "pid", "{m}");
        assert_eq!(m["presentation_definition"].is_object(), query == "pe", "{m}");
        let sel = c.last_selection.clone().unwrap();
        assert_eq!(sel["matches"][0]["credential_id"], "cred-1", "{sel}");
        assert_eq!(sel["matches"][0]["credential_query_id"], "pid", "{sel}");
    }

    // Nothing in the wallet fits: the flow fails, the verifier hears access_denied (and sends the user somewhere).
    let req = verifier.request(json!({"scheme": "redirect_uri", "vct": vct})).await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    let e = flow_error(
        c.run_presentation(&holder, &[], "m-none", start, PresentAnswer::Consent)
            .await,
    );
    assert_eq!(e["error"]["code"], "PRESENTATION_ERROR", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no matching credential"),
        "{e}"
    );
    assert!(e["error"]["details"]["redirect_uri"].is_string(), "{e}");
    let v = verifier.result(&req["id"]).await;
    assert_eq!(
        (v["posts"].clone(), v["error"].clone()),
        (json!(1), json!("access_denied")),
        "{v}"
    );

    // A web-profile client is never sent match_request.
    let mut web = connected(&w, None).await;
    let req = verifier.request(json!({"scheme": "redirect_uri", "vct": vct})).await;
    let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
    web.run_presentation(&holder, &wallet, "m-web", start, PresentAnswer::Consent)
        .await
        .unwrap();
    assert!(web.last_match_request.is_none());
    assert_eq!(verifier.result(&req["id"]).await["verified"], true);
}

#[tokio::test]
async fn claim_sets_and_submission_requirements() {
    let issuer = NodeIssuer::start();
    let verifier = NodeVerifier::start();
    let w = engine_loopback("").await;
    let holder = Holder::new();
    let wallet = issued(&w, &issuer, &holder).await;
    let vct = wallet[0].all_claims()["vct"].clone();
    let mut web = connected(&w, None).await;
    let mut full = connected(&w, Some(&["presentation_definition"])).await;

    // claim_sets [[nickname], [given_name]]: the credential has no nickname, so the second set, and only it.
    for (name, c) in [("web", &mut web), ("full", &mut full)] {
        let req = verifier
            .request(json!({"query": "dcql", "claim_sets": true, "mode": "direct_post.jwt", "vct": vct}))
            .await;
        let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
        c.run_presentation(&holder, &wallet, &format!("cs-{name}"), start, PresentAnswer::Consent)
            .await
            .unwrap_or_else(|e| panic!("claim_sets {name}: {e}"));
        let v = verifier.result(&req["id"]).await;
        assert_eq!(v["verified"], true, "claim_sets {name}: {v}");
        assert_eq!(v["disclosed"], json!(["given_name"]), "claim_sets {name}: {v}");
    }

    // pick 1 from group A (pid_nick needs a nickname the credential lacks, pid fits): only pid is submitted.
    for (name, c) in [("web", &mut web), ("full", &mut full)] {
        let req = verifier
            .request(json!({"query": "pe", "submission_requirements": true, "vct": vct}))
            .await;
        let start = json!({"request_uri_ref": req["request_uri_ref"], "client_id": req["client_id"]});
        c.run_presentation(&holder, &wallet, &format!("sr-{name}"), start, PresentAnswer::Consent)
            .await
            .unwrap_or_else(|e| panic!("submission_requirements {name}: {e}"));
        let v = verifier.result(&req["id"]).await;
        assert_eq!(v["verified"], true, "submission_requirements {name}: {v}");
        assert_eq!(
            v["presented_to_queries"],
            json!(["pid"]),
            "submission_requirements {name}: {v}"
        );
        assert_eq!(
            v["disclosed"],
            json!(["given_name"]),
            "submission_requirements {name}: {v}"
        );
        let sel = c.last_selection.clone().unwrap();
        if name == "web" {
            let sets = &sel["dcql_query"]["credential_sets"];
            assert_eq!(sets[0]["options"], json!([["pid_nick"], ["pid"]]), "{sel}");
        } else {
            assert!(
                sel["presentation_definition"]["submission_requirements"].is_array(),
                "{sel}"
            );
        }
    }
}
