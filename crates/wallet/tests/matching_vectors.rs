//! The shared matcher vectors (`tests/vectors/matching/*.json`, also read by the TypeScript client's tests):
//! the Rust holder's DCQL and Presentation Exchange matchers and its selective disclosure must give the
//! expected answers (SD-JWT VC and `mso_mdoc`). Credentials of formats this crate does not hold are left out of
//! the wallet, and cases whose `requires` names such a format are skipped.

use std::path::PathBuf;

use serde_json::{Value, json};
use walletd_wallet::present::StoredCredential;
use walletd_wallet::{Holder, dcql, pe};

const FORMATS: [&str; 3] = ["dc+sd-jwt", "vc+sd-jwt", "mso_mdoc"];

fn vector_files() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/matching");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("a readable vector file");
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, serde_json::from_str(&text).expect("a JSON vector file"))
        })
        .collect()
}

fn matches_json(m: Option<Vec<dcql::Match>>) -> Value {
    match m {
        None => Value::Null,
        Some(ms) => Value::Array(
            ms.into_iter()
                .map(|m| json!({"query_id": m.query_id, "credential_id": m.credential_id, "disclosed_claims": m.disclosed_claims}))
                .collect(),
        ),
    }
}

#[test]
fn shared_matching_vectors() {
    let files = vector_files();
    assert!(files.len() >= 3, "the vector files are there");
    let holder = Holder::new();
    let (mut ran, mut skipped) = (0, 0);
    let mut failures: Vec<String> = Vec::new();
    for (file, v) in &files {
        let creds: Vec<&Value> = v["credentials"]
            .as_array()
            .expect("credentials")
            .iter()
            .filter(|c| c["format"].as_str().is_some_and(|f| FORMATS.contains(&f)))
            .collect();
        let stored = |c: &Value| {
            StoredCredential::new(
                c["id"].as_str().expect("an id"),
                c["credential"].as_str().expect("an SD-JWT"),
            )
        };
        for c in &creds {
            if c["format"] == "mso_mdoc" {
                let doc = walletd_wallet::mdoc::as_mdoc(&stored(c)).expect("an mdoc that parses");
                if doc.mso.doc_type != c["doctype"] {
                    failures.push(format!("{file}: doctype of {}: got {}", c["id"], doc.mso.doc_type));
                }
                continue;
            }
            if !c["claims"].is_null() {
                let got = Value::Object(stored(c).all_claims());
                if got != c["claims"] {
                    failures.push(format!("{file}: claims of {}: got {got}", c["id"]));
                }
            }
        }
        for case in v["cases"].as_array().expect("cases") {
            let name = format!("{file}: {}", case["name"].as_str().unwrap_or("?"));
            let needs_other = case["requires"]
                .as_array()
                .is_some_and(|r| r.iter().any(|f| !f.as_str().is_some_and(|f| FORMATS.contains(&f))));
            if needs_other {
                skipped += 1;
                continue;
            }
            let wallet: Vec<StoredCredential> = match case["wallet"].as_array() {
                Some(ids) => ids
                    .iter()
                    .filter_map(|id| creds.iter().find(|c| c["id"] == *id))
                    .map(|c| stored(c))
                    .collect(),
                None => creds.iter().map(|c| stored(c)).collect(),
            };
            ran += 1;
            if let Some(p) = case.get("present") {
                let cred = creds
                    .iter()
                    .find(|c| c["id"] == p["credential_id"])
                    .expect("the present case's credential");
                let paths: Vec<String> = p["disclosed_claims"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                let shown = stored(cred)
                    .present(holder.key(), &paths, "aud", "nonce", &[])
                    .expect("an in-memory key signs");
                let parts: Vec<&str> = shown.split('~').collect();
                let label = |enc: &str| -> Value {
                    cred["disclosures"]
                        .as_object()
                        .and_then(|m| m.iter().find(|(_, e)| e.as_str() == Some(enc)))
                        .map_or_else(|| json!(enc), |(k, _)| json!(k))
                };
                // `<jwt>~<d1>~...~<kb-jwt>`: the disclosures sit between the first and the last part.
                let got: Vec<Value> = parts[1..parts.len() - 1].iter().map(|d| label(d)).collect();
                if Value::Array(got.clone()) != case["expect_disclosures"] {
                    failures.push(format!("{name}: got {}", Value::Array(got)));
                }
                continue;
            }
            let got = if let Some(q) = case.get("dcql_query") {
                matches_json(dcql::match_query(q, &wallet))
            } else {
                matches_json(pe::match_definition(&case["presentation_definition"], &wallet))
            };
            if got != case["expect"] {
                failures.push(format!("{name}: expected {}, got {got}", case["expect"]));
            }
        }
    }
    assert!(failures.is_empty(), "vector failures:\n{}", failures.join("\n"));
    assert!(ran >= 40, "ran {ran} cases ({skipped} skipped)");
}
