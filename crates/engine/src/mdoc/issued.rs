//! What the engine checks of an issued mdoc before handing it to the client unchanged (OID4VCI step 11): the
//! `IssuerSigned` parses within the configured bounds, its element digests match the MSO, the `IssuerAuth`
//! signature verifies with its x5chain's document signer certificate, that chain leads to one of the issuer's
//! IACAs (when it publishes `mdoc_iacas_uri`), the MSO's docType is the configuration's `doctype` and the MSO is
//! valid now. Then the tenant's PDP (when it has one) is asked about the chain. The result goes to the client as
//! `flow_progress credential_verified`; a failed check ends the flow with `CREDENTIAL_ERROR` (or
//! `UNTRUSTED_ISSUER` when the PDP refuses the chain).

use serde_json::{Value, json};
use walletd_jose::x509_chain;
use walletd_protocol::ErrorCode;
use walletd_protocol::mdoc::{self, IssuerSigned};
use walletd_protocol::oid4vci::CredentialIssuerMetadata;
use walletd_trust::Role;

use super::{iaca, limits, unix_now};
use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;
use crate::trust_step::{Judge, TrustKey, TrustQuestion};

fn fail(i: usize, m: impl std::fmt::Display) -> FlowFailure {
    FlowFailure::new(ErrorCode::CredentialError, format!("issued mdoc {i}: {m}"))
}

fn short(s: &str) -> String {
    s.chars().take(100).collect()
}

/// Checks one parsed mdoc; returns its report and its chain (with the IACA appended when one was found).
fn check_one(
    i: usize,
    doc: &IssuerSigned,
    want_doctype: Option<&str>,
    iacas: Option<&[Vec<u8>]>,
    now: i64,
) -> FlowResult<(Value, Vec<Vec<u8>>)> {
    if let Some(w) = want_doctype
        && doc.mso.doc_type != w
    {
        return Err(fail(
            i,
            format!(
                "its docType {} is not the configuration's doctype {}",
                short(&doc.mso.doc_type),
                short(w)
            ),
        ));
    }
    let v = doc.mso.validity;
    if now < v.valid_from {
        return Err(fail(i, "its MSO is not valid yet (validFrom is in the future)"));
    }
    if now > v.valid_until {
        return Err(fail(i, "its MSO has expired (validUntil is in the past)"));
    }
    doc.verify_digests().map_err(|e| fail(i, e))?;
    let mut chain = doc.x5chain();
    if chain.is_empty() {
        return Err(fail(i, "its issuerAuth carries no x5chain"));
    }
    let alg = doc
        .algorithm()
        .ok_or_else(|| fail(i, "its issuerAuth names no signature algorithm"))?;
    x509_chain::verify_cose_signature(&chain[0], alg, &doc.signed_bytes(), &doc.issuer_auth.signature).map_err(
        |e| {
            fail(
                i,
                format!("the issuerAuth signature does not verify with its document signer certificate ({e})"),
            )
        },
    )?;
    let chain_report = match iacas {
        Some(list) => {
            let at = x509_chain::verify_chain(&chain, list, now).map_err(|e| {
                fail(
                    i,
                    format!("its IssuerAuth is not chained to any of the issuer's IACAs ({e})"),
                )
            })?;
            if chain.last() != Some(&list[at]) {
                chain.push(list[at].clone());
            }
            json!({"chained": true, "iaca": x509_chain::subject(&list[at])})
        }
        None => json!({"chained": false, "reason": "the issuer metadata has no mdoc_iacas_uri"}),
    };
    let report = json!({
        "doctype": doc.mso.doc_type,
        "valid_from": walletd_protocol::format_unix_millis(v.valid_from * 1000),
        "valid_until": walletd_protocol::format_unix_millis(v.valid_until * 1000),
        "signed": walletd_protocol::format_unix_millis(v.signed * 1000),
        "alg": alg,
        "digests_valid": true,
        "signature_valid": true,
        "document_signer": x509_chain::subject(&chain[0]),
        "iaca": chain_report,
        "namespaces": doc.element_names(),
    });
    Ok((report, chain))
}

/// Checks every issued mdoc of one credential response and reports the result to the client.
pub(crate) async fn check_issued(
    ctx: &mut FlowCtx,
    issuer: &str,
    meta: &CredentialIssuerMetadata,
    config: &Value,
    credentials: &[Value],
) -> FlowResult<()> {
    let lim = limits(ctx.engine().config());
    let want_doctype = config.get("doctype").and_then(Value::as_str);
    let iacas = match meta.str("mdoc_iacas_uri") {
        Some(uri) => Some(iaca::fetch(ctx, uri).await?),
        None => None,
    };
    let now = unix_now();
    let mut reports = Vec::with_capacity(credentials.len());
    let mut first_chain = None;
    for (i, c) in credentials.iter().enumerate() {
        let text = c
            .as_str()
            .ok_or_else(|| fail(i, "an mso_mdoc credential must be a base64url string"))?;
        let doc = mdoc::parse_credential(text, &lim).map_err(|e| fail(i, e))?;
        let (report, chain) = check_one(i, &doc, want_doctype, iacas.as_deref().map(Vec::as_slice), now)?;
        reports.push(report);
        first_chain.get_or_insert(chain);
    }
    // The tenant's PDP judges the document signer chain (a client-mediated deployment sees it in the report).
    if let (Some(judge @ Judge::Pdp { .. }), Some(chain)) = (Judge::of(ctx).await, first_chain) {
        let question = TrustQuestion {
            subject: issuer.to_string(),
            role: Role::CredentialIssuer,
            subject_type: "credential_issuer",
            key: Some(TrustKey::X5c(chain)),
            client_members: serde_json::Map::new(),
            pdp_context: vec![
                ("credential_format", json!(mdoc::FORMAT)),
                ("doctype", json!(want_doctype)),
            ],
        };
        let decision = judge
            .decide(ctx, &question, "evaluating_trust", ErrorCode::UntrustedIssuer)
            .await?;
        if !decision.trusted() {
            return Err(FlowFailure::new(
                ErrorCode::UntrustedIssuer,
                "the trust policy does not accept the mdoc's document signer chain",
            ));
        }
        for r in &mut reports {
            r["pdp_trusted"] = json!(true);
        }
    }
    ctx.progress(
        "credential_verified",
        json!({"format": mdoc::FORMAT, "credentials": reports}),
    )
    .await;
    Ok(())
}
