//! An issuer's IACA certificates from its metadata's `mdoc_iacas_uri`: `{"iacas":[{"certificate": "<base64 DER or
//! PEM>"}]}` (the shape the public web client reads). One implementation for every role that needs them: the
//! engine checks issued mdocs against them, the backend serves the web client's `/helper/iaca-list` from them.
//! Fetched with GET through the egress guard, at most `engine.mdoc_iacas_max_bytes`, cached per URL for
//! `engine.mdoc_iacas_ttl` (at most `engine.mdoc_iacas_cache_entries` URLs). One cache per process (`app.rs`
//! hands the same [`IacaCache`] to every role), so the engine and the backend fetch a list once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use walletd_egress::{EgressClient, EgressError, Method};

use crate::config::EngineConfig;

/// The DER certificates of one IACA list.
pub type IacaList = Arc<Vec<Vec<u8>>>;

type Entry = (Instant, IacaList);

/// The bounds of the fetch and of the cache (from `engine.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IacaLimits {
    /// Largest list body (bytes).
    pub max_bytes: usize,
    /// How long a list is reused.
    pub ttl: Duration,
    /// Most URLs kept.
    pub max_entries: usize,
    /// Deadline of one fetch.
    pub timeout: Duration,
}

impl IacaLimits {
    /// The limits of the engine's configuration (`engine.mdoc_iacas_*`, `engine.outbound_timeout`).
    pub fn from_config(cfg: &EngineConfig) -> Self {
        IacaLimits {
            max_bytes: cfg.mdoc_iacas_max_bytes,
            ttl: cfg.mdoc_iacas_ttl,
            max_entries: cfg.mdoc_iacas_cache_entries,
            timeout: cfg.outbound_timeout,
        }
    }
}

/// Why a list could not be had. The messages name the URL's role, never its body.
#[derive(Debug)]
pub enum IacaError {
    /// The egress guard refused or the exchange failed (`EgressError::code` tells which).
    Egress(EgressError),
    /// No answer within the deadline.
    Timeout,
    /// The issuer answered with a non-success status.
    Status(u16),
    /// The body is not an IACA list.
    Invalid(String),
    /// The issuer's metadata could not be had (what went wrong).
    Metadata(String),
}

impl std::fmt::Display for IacaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IacaError::Egress(e) => write!(f, "mdoc_iacas_uri: {e}"),
            IacaError::Timeout => f.write_str("mdoc_iacas_uri: no answer within the outbound deadline"),
            IacaError::Status(s) => write!(f, "mdoc_iacas_uri: HTTP {s}"),
            IacaError::Invalid(m) => write!(f, "mdoc_iacas_uri: {m}"),
            IacaError::Metadata(m) => write!(f, "issuer metadata: {m}"),
        }
    }
}

impl std::error::Error for IacaError {}

/// What an issuer's metadata said about its IACAs: the `mdoc_iacas_uri` (or none), or why it could not be read.
type IssuerEntry = (Instant, Result<Option<String>, String>);

/// A failed metadata lookup is kept at most this long (so a broken issuer is not asked on every request, and a
/// repaired one is seen again soon).
const FAILURE_TTL: Duration = Duration::from_secs(60);

/// IACA lists by URL, and issuers' `mdoc_iacas_uri` by issuer, each kept for the configured TTL.
#[derive(Default)]
pub struct IacaCache {
    entries: Mutex<HashMap<String, Entry>>,
    issuers: Mutex<HashMap<String, IssuerEntry>>,
}

impl IacaCache {
    fn get(&self, url: &str, ttl: Duration) -> Option<IacaList> {
        let map = self.entries.lock().ok()?;
        map.get(url)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, l)| l.clone())
    }

    fn put(&self, url: &str, list: IacaList, ttl: Duration, max_entries: usize) {
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

    /// The IACAs of `uri`, from the cache or fetched now through `egress`.
    pub async fn fetch(&self, egress: &EgressClient, uri: &str, limits: IacaLimits) -> Result<IacaList, IacaError> {
        if let Some(l) = self.get(uri, limits.ttl) {
            return Ok(l);
        }
        let req = egress
            .request(Method::GET, uri)
            .header("accept", "application/json")
            .max_bytes(limits.max_bytes);
        let resp = match tokio::time::timeout(limits.timeout, req.send()).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(IacaError::Egress(e)),
            Err(_) => return Err(IacaError::Timeout),
        };
        if !resp.status.is_success() {
            return Err(IacaError::Status(resp.status.as_u16()));
        }
        let list = Arc::new(parse_iaca_list(&resp.body).map_err(IacaError::Invalid)?);
        self.put(uri, list.clone(), limits.ttl, limits.max_entries);
        Ok(list)
    }
}

impl IacaCache {
    /// The IACAs `issuer` publishes (its verified metadata's `mdoc_iacas_uri`); an empty list when it names none.
    /// The metadata lookup is cached like the lists (failures for at most a minute).
    pub async fn issuer_iacas(
        &self,
        egress: &EgressClient,
        issuer: &str,
        limits: IacaLimits,
    ) -> Result<IacaList, IacaError> {
        let cached = self.issuers.lock().ok().and_then(|m| {
            m.get(issuer)
                .filter(|(at, r)| {
                    at.elapsed()
                        < if r.is_ok() {
                            limits.ttl
                        } else {
                            limits.ttl.min(FAILURE_TTL)
                        }
                })
                .map(|(_, r)| r.clone())
        });
        let uri = match cached {
            Some(r) => r,
            None => {
                let r =
                    match tokio::time::timeout(limits.timeout, crate::issuer_metadata::fetch_verified(egress, issuer))
                        .await
                    {
                        Ok(Ok(m)) => Ok(m
                            .metadata
                            .get("mdoc_iacas_uri")
                            .and_then(Value::as_str)
                            .map(str::to_string)),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("no answer within the outbound deadline".to_string()),
                    };
                if let Ok(mut m) = self.issuers.lock() {
                    if m.len() >= limits.max_entries {
                        m.clear();
                    }
                    if limits.max_entries > 0 {
                        m.insert(issuer.to_string(), (Instant::now(), r.clone()));
                    }
                }
                r
            }
        };
        match uri.map_err(IacaError::Metadata)? {
            Some(u) => self.fetch(egress, &u, limits).await,
            None => Ok(Arc::default()),
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

/// A DER certificate as PEM text (64-character lines), the form the web client's certificate list holds.
pub fn to_pem(der: &[u8]) -> String {
    let b64 = walletd_jose::b64::std_b64(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn pem_wraps_at_64() {
        let pem = to_pem(&[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(*lines.last().unwrap(), "-----END CERTIFICATE-----");
        let body: String = lines[1..lines.len() - 1].concat();
        assert_eq!(walletd_jose::b64::std_b64_decode(&body).unwrap(), vec![7u8; 100]);
    }
}
