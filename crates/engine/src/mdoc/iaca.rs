//! The issuer's IACA certificates from its metadata's `mdoc_iacas_uri`: `{"iacas":[{"certificate": "<base64 DER
//! or PEM>"}]}` (the shape the public web client reads). Fetched with GET through the egress guard, at most
//! `engine.mdoc_iacas_max_bytes`, cached per URL for `engine.mdoc_iacas_ttl` (at most
//! `engine.mdoc_iacas_cache_entries` URLs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use walletd_egress::Method;
use walletd_protocol::ErrorCode;

use crate::failure::{FlowFailure, FlowResult};
use crate::flow::FlowCtx;

type Entry = (Instant, Arc<Vec<Vec<u8>>>);

/// IACA lists by URL, each kept for the configured TTL.
#[derive(Default)]
pub struct IacaCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl IacaCache {
    fn get(&self, url: &str, ttl: std::time::Duration) -> Option<Arc<Vec<Vec<u8>>>> {
        let map = self.entries.lock().ok()?;
        map.get(url)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, l)| l.clone())
    }

    fn put(&self, url: &str, list: Arc<Vec<Vec<u8>>>, ttl: std::time::Duration, max_entries: usize) {
        let Ok(mut map) = self.entries.lock() else { return };
        if map.len() >= max_entries {
            map.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        if map.len() >= max_entries {
            map.clear();
        }
        if max_entries > 0 {
            map.insert(url.to_string(), (Instant::now(), list));
        }
    }
}

/// The certificates (DER) of an IACA list document. Entries that are neither base64 DER nor PEM are refused.
pub fn parse_iaca_list(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the IACA list is not JSON".to_string())?;
    let entries = v
        .get("iacas")
        .and_then(Value::as_array)
        .ok_or("the IACA list has no iacas array")?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let Some(text) = e.get("certificate").and_then(Value::as_str).or_else(|| e.as_str()) else {
            continue;
        };
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        let der = walletd_jose::b64::std_b64_decode(body.trim())
            .or_else(|| walletd_jose::b64_decode(body.trim()))
            .ok_or("an IACA certificate is not base64")?;
        if walletd_jose::x509_chain::subject(&der).is_none() {
            return Err("an IACA certificate is not X.509 DER".into());
        }
        out.push(der);
    }
    Ok(out)
}

/// The IACAs of `uri`, from the cache or fetched now.
pub(crate) async fn fetch(ctx: &FlowCtx, uri: &str) -> FlowResult<Arc<Vec<Vec<u8>>>> {
    let cfg = ctx.engine().config();
    let (ttl, max, entries) = (
        cfg.mdoc_iacas_ttl,
        cfg.mdoc_iacas_max_bytes,
        cfg.mdoc_iacas_cache_entries,
    );
    let cache = ctx.engine().iacas();
    if let Some(l) = cache.get(uri, ttl) {
        return Ok(l);
    }
    let code = ErrorCode::CredentialError;
    let req = ctx
        .engine()
        .egress()
        .request(Method::GET, uri)
        .header("accept", "application/json")
        .max_bytes(max);
    let resp = ctx.outbound(code, "mdoc_iacas_uri", req.send()).await?;
    if !resp.status.is_success() {
        return Err(FlowFailure::new(
            code,
            format!("mdoc_iacas_uri: HTTP {}", resp.status.as_u16()),
        ));
    }
    let list =
        Arc::new(parse_iaca_list(&resp.body).map_err(|m| FlowFailure::new(code, format!("mdoc_iacas_uri: {m}")))?);
    cache.put(uri, list.clone(), ttl, entries);
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lists_parse_and_the_cache_expires() {
        assert!(parse_iaca_list(b"{}").is_err());
        assert!(parse_iaca_list(b"nope").is_err());
        assert_eq!(parse_iaca_list(br#"{"iacas":[]}"#).unwrap().len(), 0);
        assert!(parse_iaca_list(br#"{"iacas":[{"certificate":"AAAA"}]}"#).is_err());
        let c = IacaCache::default();
        let l = Arc::new(vec![vec![1u8]]);
        c.put("u", l.clone(), Duration::from_secs(60), 1);
        assert_eq!(c.get("u", Duration::from_secs(60)), Some(l.clone()));
        assert_eq!(c.get("u", Duration::ZERO), None);
        c.put("v", l, Duration::from_secs(60), 1);
        assert_eq!(c.get("u", Duration::from_secs(60)), None, "bounded to one entry");
    }
}
