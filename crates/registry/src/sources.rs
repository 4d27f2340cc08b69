//! Locally known documents: configured sources (a URL answering a JSON list of documents, or a directory of
//! `*.json` documents), local override files, and documents registered through `POST /vctm`.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use serde_json::Value;
use walletd_egress::EgressClient;

use crate::document;

/// Most documents read from one source (bounds memory and poll time).
pub const MAX_DOCUMENTS_PER_SOURCE: usize = 10_000;

/// A known document: its bytes (what integrity metadata is computed over) and the parsed value.
#[derive(Debug, Clone)]
pub struct Known {
    pub raw: Bytes,
    pub doc: Value,
}

impl Known {
    /// A document given as a value (a list element, a registration): its bytes are its compact serialisation.
    pub fn from_value(doc: Value) -> Known {
        Known {
            raw: Bytes::from(doc.to_string()),
            doc,
        }
    }
}

/// Documents by vct.
pub type DocMap = BTreeMap<String, Known>;

/// Reads every `*.json` file of a directory (one document each, at most `max_bytes`); invalid files are logged
/// and skipped so one bad file does not hide the others.
pub fn read_dir(dir: &Path, max_bytes: usize) -> DocMap {
    let mut out = DocMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read a VCTM directory");
            return out;
        }
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .take(MAX_DOCUMENTS_PER_SOURCE)
        .collect();
    paths.sort();
    for path in paths {
        let bytes = match std::fs::metadata(&path) {
            Ok(m) if m.len() as usize <= max_bytes => std::fs::read(&path),
            Ok(_) => {
                tracing::warn!(file = %path.display(), "VCTM file is larger than registry.max_document_bytes");
                continue;
            }
            Err(e) => Err(e),
        };
        match bytes.map_err(|e| e.to_string()).and_then(|b| {
            let doc = document::parse(&b)?;
            Ok(Known {
                raw: Bytes::from(b),
                doc,
            })
        }) {
            Ok(k) => {
                let vct = k.doc["vct"].as_str().unwrap_or_default().to_string();
                out.insert(vct, k);
            }
            Err(e) => tracing::warn!(file = %path.display(), error = %e, "invalid VCTM file skipped"),
        }
    }
    out
}

/// Fetches a source URL answering a JSON list of documents (or `{"documents": [...]}`).
pub async fn fetch_list(egress: &EgressClient, url: &str, max_bytes: usize) -> Result<DocMap, String> {
    let resp = egress.get(url, max_bytes).await.map_err(|e| e.to_string())?;
    if !resp.status.is_success() {
        return Err(format!("HTTP {}", resp.status.as_u16()));
    }
    let v: Value = resp.json().map_err(|e| format!("not JSON: {e}"))?;
    let list = match &v {
        Value::Array(a) => a,
        Value::Object(o) => o
            .get("documents")
            .and_then(Value::as_array)
            .ok_or("a source answers a JSON list of documents")?,
        _ => return Err("a source answers a JSON list of documents".into()),
    };
    let mut out = DocMap::new();
    for (i, doc) in list.iter().take(MAX_DOCUMENTS_PER_SOURCE).enumerate() {
        match document::validate(doc) {
            Ok(()) => {
                let vct = doc["vct"].as_str().unwrap_or_default().to_string();
                out.insert(vct, Known::from_value(doc.clone()));
            }
            Err(e) => tracing::warn!(index = i, error = %e, "invalid VCTM in a source list skipped"),
        }
    }
    Ok(out)
}
