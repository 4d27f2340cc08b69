//! The process's one TLS client configuration.
//!
//! reqwest's rustls backend builds a platform verifier for every `Client` it builds, and on Linux that reads and
//! parses every system CA root (about 145 certificates) each time. A `walletd --mode=all` process builds several
//! clients (egress guard, PDP, JWKS, registry, readiness checks), so start-up paid for the roots once per client.
//! Here the configuration is built once, on first use, and every client starts from [`http_client_builder`].
//!
//! This module is only transport plumbing: a client built from it is NOT guarded. Untrusted URLs still go through
//! [`crate::EgressClient`], which starts from this builder too.

use std::sync::{Arc, OnceLock};

use rustls_platform_verifier::BuilderVerifierExt;

/// Why the shared TLS configuration could not be built (no usable system CA roots, typically).
#[derive(Debug, Clone, thiserror::Error)]
#[error("TLS client configuration: {0}")]
pub struct TlsSetupError(String);

impl From<reqwest::Error> for TlsSetupError {
    fn from(e: reqwest::Error) -> Self {
        TlsSetupError(e.to_string())
    }
}

static CLIENT_CONFIG: OnceLock<Result<rustls::ClientConfig, TlsSetupError>> = OnceLock::new();

/// The shared rustls client configuration, built on first use: aws-lc-rs, TLS 1.2 and 1.3, the platform's roots,
/// HTTP/1.1 ALPN (the only HTTP version the workspace's reqwest is built with).
pub fn client_config() -> Result<rustls::ClientConfig, TlsSetupError> {
    CLIENT_CONFIG.get_or_init(build_client_config).clone()
}

fn build_client_config() -> Result<rustls::ClientConfig, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(e.to_string()))?
        .with_platform_verifier()
        .map_err(|e| TlsSetupError(e.to_string()))?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The builder every reqwest client of walletd starts from: the shared TLS configuration and never an
/// environment proxy (`HTTP_PROXY` must not redirect walletd's traffic). Callers add their own timeouts, redirect
/// policy and resolver.
pub fn http_client_builder() -> Result<reqwest::ClientBuilder, TlsSetupError> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(client_config()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_starts_from_one_configuration() {
        let config = client_config().expect("the system CA roots load");
        // reqwest is built without HTTP/2: offering h2 in ALPN would let a server pick a protocol we cannot speak.
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        http_client_builder()
            .unwrap()
            .build()
            .expect("a client builds from the shared configuration");
    }
}
