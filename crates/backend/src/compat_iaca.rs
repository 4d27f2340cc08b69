//! `GET /helper/iaca-list`: the IACA certificates of the tenant's registered issuers, for the web client's mdoc
//! verification (it adds them to the IACAs it reads from issuers itself). Served by the backend because the list
//! comes from what the backend owns: the tenant's issuers, their verified metadata's `mdoc_iacas_uri`, fetched
//! through the egress guard with the engine's bounded, cached fetch (`walletd_common::mdoc_iacas`, one cache per
//! process).
//!
//! The answer is `{"iaca_list":[{"certificate":"<PEM>", "credential_issuer"}], "unavailable":[{"credential_issuer",
//! "error"}]}`: the web client reads `iaca_list[].certificate` as PEM text. Without a token, like the newer web
//! client asks: the tenant is `X-Tenant-ID` (set by the `/t/{tenant}` alias too), else `default`; the certificates
//! are public. An issuer whose list cannot be had is left out, named in `unavailable` and logged.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use walletd_common::http::{ApiError, tenant_header};
use walletd_common::mdoc_iacas::{IacaCache, IacaLimits, to_pem};

use crate::compat::CompatState;

/// What `/helper/iaca-list` needs besides the tenant's issuers.
#[derive(Clone)]
pub struct IacaSettings {
    /// The process's IACA cache (shared with the engine).
    pub cache: Arc<IacaCache>,
    /// `engine.mdoc_iacas_*` and the outbound deadline.
    pub limits: IacaLimits,
    /// Most issuers of one tenant asked (`engine.mdoc_iacas_max_issuers`); the others are left out and logged.
    pub max_issuers: usize,
}

pub(crate) async fn iaca_list(State(s): State<CompatState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let tenant = tenant_header(&headers).unwrap_or_else(|| "default".to_string());
    let issuers = s.service.tenant_issuers(&tenant).await?;
    let settings = &s.iacas;
    if issuers.len() > settings.max_issuers {
        tracing::warn!(
            tenant = %tenant,
            issuers = issuers.len(),
            max = settings.max_issuers,
            "iaca-list: more issuers than engine.mdoc_iacas_max_issuers; the rest are left out"
        );
    }
    let egress = &s.egress;
    let asked = issuers.iter().take(settings.max_issuers).map(|i| {
        let id = i.credential_issuer_identifier.clone();
        async move {
            let r = settings.cache.issuer_iacas(egress, &id, settings.limits).await;
            (id, r)
        }
    });
    let mut seen = HashSet::new();
    let mut list = Vec::new();
    let mut unavailable = Vec::new();
    for (issuer, result) in futures::future::join_all(asked).await {
        match result {
            Ok(certs) => {
                for der in certs.iter() {
                    if seen.insert(der.clone()) {
                        list.push(json!({"certificate": to_pem(der), "credential_issuer": issuer}));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant, issuer = %issuer, error = %e, "iaca-list: an issuer's IACAs are unavailable");
                unavailable.push(json!({"credential_issuer": issuer, "error": e.to_string()}));
            }
        }
    }
    let body: Value = json!({"iaca_list": list, "unavailable": unavailable});
    Ok(Json(body).into_response())
}
