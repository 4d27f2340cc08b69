//! Readiness checks of HTTP dependencies (registry, PDP). Redis is checked through the shared connection
//! (`walletd_common::redis::SharedRedis::ping`).

use std::time::Duration;

/// An HTTP client for operator-configured dependencies (registry, PDP): trusted URLs, so no egress guard, but never
/// an environment proxy and always a timeout.
pub fn dependency_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("a reqwest client with static settings builds")
}

/// `Ok` when `url` answers 2xx.
pub async fn http_ok(client: &reqwest::Client, url: url::Url) -> Result<(), String> {
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("answered {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("timed out".into()),
        Err(_) => Err("unreachable".into()),
    }
}
