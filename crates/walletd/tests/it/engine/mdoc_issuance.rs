//! mso_mdoc issuance through a real walletd engine process against the independent Node issuer, whose mdocs are
//! made by @owf/mdoc and signed by a document signer certified by a test IACA (tests/interop/mdoc.mjs): the
//! engine checks what it can (IssuerAuth, x5chain to the issuer's IACAs, doctype, validity, digests), reports it
//! as `credential_verified` and hands the credential over unchanged; broken mdocs end the flow with a clear error.

use std::time::Duration;

use serde_json::{Value, json};
use walletd_protocol::mdoc::{Limits, parse_credential};
use walletd_wallet::Holder;

use super::engine;
use walletd_testkit::holder::{browser, connected, finish_collecting, run_collecting};
use walletd_testkit::interop::NodeIssuer;

const FEATURES: &[&str] = &["select_credential", "mdoc"];

/// The holder's key is the MSO's device key (COSE_Key x = JWK x).
fn assert_bound_to(credential: &str, holder: &Holder) {
    let doc = parse_credential(credential, &Limits::default()).unwrap();
    let x = doc
        .mso
        .device_key
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_integer() == Some((-2).into()))
        .and_then(|(_, v)| v.as_bytes().cloned())
        .unwrap();
    let jwk_x = walletd_jose::b64_decode(holder.public_jwk().to_value()["x"].as_str().unwrap()).unwrap();
    assert_eq!(x, jwk_x);
}

fn verified_step(steps: &[Value]) -> Value {
    steps
        .iter()
        .find(|s| s["step"] == "credential_verified")
        .map(|s| s["payload"].clone())
        .unwrap_or_else(|| panic!("no credential_verified step in {steps:?}"))
}

#[tokio::test]
async fn pid_mdoc_pre_authorized_is_checked_and_handed_over_unchanged() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, Some(FEATURES)).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre", "config_id": "pid-mdoc"})).await;
    let (done, steps) = run_collecting(&mut c, &holder, "m", &offer["offer"]).await;
    let done = done.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done["selected_credential_configuration_id"], "pid-mdoc");
    let cred = &done["credentials"][0];
    assert_eq!(cred["format"], "mso_mdoc", "{done}");
    assert_bound_to(cred["credential"].as_str().unwrap(), &holder);
    let report = verified_step(&steps);
    assert_eq!(report["format"], "mso_mdoc");
    let r = &report["credentials"][0];
    assert_eq!(r["doctype"], "eu.europa.ec.eudi.pid.1", "{report}");
    assert_eq!(r["iaca"]["chained"], true, "{report}");
    assert!(r["iaca"]["iaca"].as_str().unwrap().contains("trusted IACA"), "{report}");
    assert_eq!(r["signature_valid"], true);
    assert!(
        r["namespaces"]["eu.europa.ec.eudi.pid.1"]
            .as_array()
            .unwrap()
            .contains(&json!("given_name"))
    );
    // The report names elements, never their values.
    assert!(!report.to_string().contains("Erika"), "{report}");
}

#[tokio::test]
async fn mdl_by_authorization_code_web_profile() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let mut c = connected(&w, None).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "auth", "config_id": "mdl"})).await;
    let auth = browser();
    let done = c
        .run_issuance(
            &holder,
            "ac",
            json!({"offer": offer["offer"], "redirect_uri": "https://wallet.example/cb"}),
            None,
            Some(&auth),
        )
        .await
        .unwrap();
    assert_eq!(done["credentials"][0]["format"], "mso_mdoc", "{done}");
    let doc = parse_credential(
        done["credentials"][0]["credential"].as_str().unwrap(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(doc.mso.doc_type, "org.iso.18013.5.1.mDL");
    assert_bound_to(done["credentials"][0]["credential"].as_str().unwrap(), &holder);
}

/// One offer naming the SD-JWT VC and the mdoc PID: the selection shows both formats (with the doctype), and the
/// client's choice decides which one is issued.
#[tokio::test]
async fn one_offer_with_both_formats_of_the_pid() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let holder = Holder::new();
    for (pick, format) in [("pid-mdoc", "mso_mdoc"), ("pid", "dc+sd-jwt")] {
        let mut c = connected(&w, Some(FEATURES)).await;
        let offer = issuer
            .offer(json!({"grant": "pre", "config_ids": ["pid", "pid-mdoc"], "config_id": "pid"}))
            .await;
        c.send(&json!({"type":"flow_start","flow_id":"both","protocol":"oid4vci","offer":offer["offer"]}))
            .await
            .unwrap();
        let sel = loop {
            let v = c.recv_flow("both", Duration::from_secs(20)).await.unwrap();
            assert_ne!(v["type"], "flow_error", "{v}");
            if v["step"] == "awaiting_selection" {
                break v["payload"]["available_credentials"].clone();
            }
        };
        let mdoc = sel.as_array().unwrap().iter().find(|a| a["id"] == "pid-mdoc").unwrap();
        assert_eq!(mdoc["format"], "mso_mdoc");
        assert_eq!(mdoc["doctype"], "eu.europa.ec.eudi.pid.1");
        c.send(&json!({"type":"flow_action","flow_id":"both","action":"select_credential","payload":{"credential_configuration_id":pick}}))
            .await
            .unwrap();
        let (done, _) = finish_collecting(&mut c, &holder, "both", Duration::from_secs(20)).await;
        let done = done.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done["credentials"][0]["format"], format, "{done}");
    }
}

async fn refused(options: Value, config_id: &str, extra_engine: &str) -> Value {
    let issuer = NodeIssuer::start_with(options);
    let w = engine(extra_engine).await;
    let mut c = connected(&w, Some(FEATURES)).await;
    let holder = Holder::new();
    let offer = issuer.offer(json!({"grant": "pre", "config_id": config_id})).await;
    let (done, _) = run_collecting(&mut c, &holder, "bad", &offer["offer"]).await;
    let err = done.unwrap_err();
    // The process is alive and the session still works: a good SD-JWT VC flow completes.
    let offer = issuer.offer(json!({"grant": "pre"})).await;
    let (ok, _) = run_collecting(&mut c, &holder, "good", &offer["offer"]).await;
    ok.unwrap_or_else(|e| panic!("{e}"));
    err["error"].clone()
}

#[tokio::test]
async fn broken_mdocs_end_the_flow_with_clear_errors() {
    for (variant, config, words) in [
        ("rogue", "pid-mdoc", "not chained to any of the issuer's IACAs"),
        ("expired", "mdl", "expired"),
        (
            "wrong_doctype",
            "mdl",
            "is not the configuration's doctype org.iso.18013.5.1.mDL",
        ),
        ("tampered", "mdl", "does not match the MSO"),
        ("deep", "mdl", "nested deeper than 32"),
    ] {
        let e = refused(json!({"mdoc_variant": variant}), config, "").await;
        assert_eq!(e["code"], "CREDENTIAL_ERROR", "{variant}: {e}");
        let m = e["message"].as_str().unwrap();
        assert!(m.contains(words), "{variant}: {m}");
        assert!(!m.contains("Erika"), "{m}");
    }
}

#[tokio::test]
async fn oversized_mdoc_is_refused_by_the_configured_limit() {
    let e = refused(json!({"mdoc_variant": "oversized"}), "mdl", "  mdoc_max_bytes: 32768\n").await;
    assert_eq!(e["code"], "CREDENTIAL_ERROR", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("larger than 32768 bytes"),
        "{e}"
    );
}

#[tokio::test]
async fn iaca_list_at_a_blocked_address_is_not_fetched() {
    let e = refused(
        json!({"mdoc_iacas_uri": "http://169.254.169.254/iacas"}),
        "pid-mdoc",
        "",
    )
    .await;
    assert_eq!(e["code"], "EGRESS_BLOCKED", "{e}");
    assert!(e["message"].as_str().unwrap().contains("mdoc_iacas_uri"), "{e}");
}

async fn select_in(c: &mut walletd_wallet::client::EngineClient, id: &str, offer: &Value, payload: Value) {
    c.send(&json!({"type":"flow_start","flow_id":id,"protocol":"oid4vci","offer":offer}))
        .await
        .unwrap();
    loop {
        let v = c.recv_flow(id, Duration::from_secs(20)).await.unwrap();
        assert_ne!(v["type"], "flow_error", "{v}");
        if v["step"] == "awaiting_selection" {
            break;
        }
    }
    c.send(&json!({"type":"flow_action","flow_id":id,"action":"select_credential","payload":payload}))
        .await
        .unwrap();
}

async fn token_requests(issuer: &NodeIssuer) -> usize {
    let v: Value = walletd_testkit::http_client()
        .get(format!("{}/test/token_requests", issuer.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array().unwrap().len()
}

/// One offer, one flow, one access token: a client with `select_credential` and `mdoc` selects the SD-JWT VC and
/// the mdoc of the PID together, and `flow_complete` carries both batches, each with its format and configuration.
#[tokio::test]
async fn one_flow_issues_both_formats_with_one_access_token() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let holder = Holder::new();
    let pid_offer = || issuer.offer(json!({"grant": "pre", "config_ids": ["pid", "pid-mdoc"], "config_id": "pid"}));

    // Without the `mdoc` feature the list is ignored: one configuration, and the token requests one flow makes.
    let mut plain = connected(&w, Some(&["select_credential"])).await;
    let both = json!({"credential_configuration_id": "pid-mdoc", "credential_configuration_ids": ["pid"]});
    select_in(&mut plain, "one", &pid_offer().await["offer"], both).await;
    let (done, _) = finish_collecting(&mut plain, &holder, "one", Duration::from_secs(20)).await;
    let done = done.unwrap_or_else(|e| panic!("{e}"));
    let creds = done["credentials"].as_array().unwrap();
    assert!(
        creds
            .iter()
            .all(|c| c["format"] == "mso_mdoc" && c.get("credential_configuration_id").is_none()),
        "{done}"
    );
    let per_flow = token_requests(&issuer).await;

    let mut c = connected(&w, Some(FEATURES)).await;
    let payload = json!({"credential_configuration_id": "pid", "credential_configuration_ids": ["pid-mdoc", "pid"]});
    select_in(&mut c, "two", &pid_offer().await["offer"], payload).await;
    let (done, steps) = finish_collecting(&mut c, &holder, "two", Duration::from_secs(20)).await;
    let done = done.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done["selected_credential_configuration_id"], "pid");
    let creds = done["credentials"].as_array().unwrap();
    let of = |cfg: &str| {
        creds
            .iter()
            .filter(|c| c["credential_configuration_id"] == cfg)
            .collect::<Vec<_>>()
    };
    let (sd, md) = (of("pid"), of("pid-mdoc"));
    assert!(!sd.is_empty() && !md.is_empty(), "{done}");
    assert_eq!(
        sd.len() + md.len(),
        creds.len(),
        "every entry names its configuration: {done}"
    );
    assert!(sd.iter().all(|c| c["format"] == "dc+sd-jwt"), "{done}");
    assert!(md.iter().all(|c| c["format"] == "mso_mdoc"), "{done}");
    assert_bound_to(md[0]["credential"].as_str().unwrap(), &holder);
    assert_eq!(
        verified_step(&steps)["credentials"][0]["doctype"],
        "eu.europa.ec.eudi.pid.1"
    );
    let requests: Vec<&Value> = steps.iter().filter(|s| s["step"] == "requesting_credential").collect();
    assert_eq!(requests.len(), 2, "one credential request per configuration: {steps:?}");
    assert_eq!(
        token_requests(&issuer).await - per_flow,
        per_flow,
        "one grant (token exchange) for both configurations"
    );

    // An id the offer does not name fails the flow.
    let bad = json!({"credential_configuration_id": "pid", "credential_configuration_ids": ["mdl"]});
    select_in(&mut c, "bad", &pid_offer().await["offer"], bad).await;
    let (done, _) = finish_collecting(&mut c, &holder, "bad", Duration::from_secs(20)).await;
    assert_eq!(done.unwrap_err()["error"]["code"], "INVALID_MESSAGE");
}

/// The authorization code grant authorizes every selected configuration at once: one authorization (its
/// `credential_offer` narrowed to both ids), one code, both formats issued.
#[tokio::test]
async fn both_formats_by_one_authorization_code() {
    let issuer = NodeIssuer::start();
    let w = engine("").await;
    let holder = Holder::new();
    let mut c = connected(&w, Some(FEATURES)).await;
    let offer = issuer
        .offer(json!({"grant": "auth", "config_ids": ["pid", "pid-mdoc"], "config_id": "pid"}))
        .await;
    c.send(
        &json!({"type":"flow_start","flow_id":"ac2","protocol":"oid4vci","offer":offer["offer"],
        "redirect_uri":"https://wallet.example/cb"}),
    )
    .await
    .unwrap();
    let auth = browser();
    let mut authorizations = 0;
    let done = loop {
        let v = c.recv_flow("ac2", Duration::from_secs(20)).await.unwrap();
        match (v["type"].as_str().unwrap(), v["step"].as_str()) {
            ("flow_complete", _) => break v,
            ("flow_error", _) => panic!("{v}"),
            ("sign_request", _) => {
                let proofs = holder.proofs(&v["params"]);
                c.send(&json!({"type":"sign_response","flow_id":"ac2","message_id":v["message_id"],"proofs":proofs}))
                    .await
                    .unwrap();
            }
            (_, Some("awaiting_selection")) => {
                let payload =
                    json!({"credential_configuration_id": "pid-mdoc", "credential_configuration_ids": ["pid"]});
                c.send(&json!({"type":"flow_action","flow_id":"ac2","action":"select_credential","payload":payload}))
                    .await
                    .unwrap();
            }
            (_, Some("authorization_required")) => {
                authorizations += 1;
                let p = &v["payload"];
                assert_eq!(
                    p["credential_offer"]["credential_configuration_ids"],
                    json!(["pid-mdoc", "pid"]),
                    "{p}"
                );
                let redirect = auth(p["authorization_url"].as_str().unwrap().to_string())
                    .await
                    .unwrap();
                let (code, state) = walletd_wallet::client::code_and_state(&redirect);
                c.send(
                    &json!({"type":"flow_action","flow_id":"ac2","action":"authorization_complete",
                    "payload":{"code": code, "state": state}}),
                )
                .await
                .unwrap();
            }
            _ => {}
        }
    };
    assert_eq!(authorizations, 1, "one authorization for both");
    assert_eq!(done["selected_credential_configuration_id"], "pid-mdoc");
    let formats: Vec<&str> = done["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["format"].as_str().unwrap())
        .collect();
    assert!(
        formats.contains(&"mso_mdoc") && formats.contains(&"dc+sd-jwt"),
        "{done}"
    );
    assert_eq!(
        done["credentials"][0]["credential_configuration_id"], "pid-mdoc",
        "selection order: {done}"
    );
}
