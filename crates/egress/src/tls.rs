//! The process's one TLS client configuration.
//!
//! reqwest's rustls backend builds a platform verifier for every `Client` it builds, and on Linux that reads and
//! parses every system CA root (about 145 certificates, from the bundle file and again from the hashed directory)
//! each time. A `walletd --mode=all` process builds several clients (egress guard, PDP, JWKS, registry, readiness
//! checks), so start-up paid for the roots once per client. Here the configuration is built once and every client
//! starts from [`http_client_builder`].
//!
//! The roots themselves are read when the first server certificate is verified, or earlier by
//! [`load_system_roots`] (walletd calls it once its listeners are up): reading them was the largest piece of
//! start-up work that start-up itself never needs (docs/performance.md "Start-up").
//!
//! This module is only transport plumbing: a client built from it is NOT guarded. Untrusted URLs still go through
//! [`crate::EgressClient`], which starts from this builder too.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Why the shared TLS configuration could not be built, or why the system CA roots cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("TLS client configuration: {0}")]
pub struct TlsSetupError(String);

impl From<reqwest::Error> for TlsSetupError {
    fn from(e: reqwest::Error) -> Self {
        TlsSetupError(e.to_string())
    }
}

static CLIENT_CONFIG: OnceLock<Result<rustls::ClientConfig, TlsSetupError>> = OnceLock::new();
static SYSTEM_ROOTS: OnceLock<Arc<SystemRootsVerifier>> = OnceLock::new();

/// The shared rustls client configuration, built on first use: aws-lc-rs, TLS 1.2 and 1.3, the platform's roots
/// (read on first verification), HTTP/1.1 ALPN (the only HTTP version the workspace's reqwest is built with).
pub fn client_config() -> Result<rustls::ClientConfig, TlsSetupError> {
    CLIENT_CONFIG.get_or_init(build_client_config).clone()
}

/// Reads the system CA roots now rather than at the first TLS handshake. Fails when the platform has none usable;
/// then every TLS connection fails with the same message (a plain-HTTP one does not).
pub fn load_system_roots() -> Result<(), TlsSetupError> {
    system_roots()
        .platform()
        .map(|_| ())
        .map_err(|e| TlsSetupError(e.to_string()))
}

/// The builder every reqwest client of walletd starts from: the shared TLS configuration and never an
/// environment proxy (`HTTP_PROXY` must not redirect walletd's traffic). Callers add their own timeouts, redirect
/// policy and resolver.
pub fn http_client_builder() -> Result<reqwest::ClientBuilder, TlsSetupError> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(client_config()?))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn system_roots() -> Arc<SystemRootsVerifier> {
    SYSTEM_ROOTS
        .get_or_init(|| {
            Arc::new(SystemRootsVerifier::new(
                provider(),
                rustls_platform_verifier::Verifier::new,
            ))
        })
        .clone()
}

fn build_client_config() -> Result<rustls::ClientConfig, TlsSetupError> {
    let roots = system_roots();
    let mut config = rustls::ClientConfig::builder_with_provider(roots.provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(e.to_string()))?
        .dangerous() // not dangerous: the verifier is the platform's, built on first use (below)
        .with_custom_certificate_verifier(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The platform's certificate verifier (rustls-platform-verifier: the system CA roots, checked by webpki), built
/// the first time a certificate chain is checked. Handshake signatures need no roots and are checked with the
/// crypto provider's algorithms, exactly as the platform verifier checks them.
#[derive(Debug)]
struct SystemRootsVerifier {
    provider: Arc<CryptoProvider>,
    /// Builds the platform verifier: `Verifier::new` (tests add a root of their own).
    load: LoadPlatform,
    platform: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

type LoadPlatform = fn(Arc<CryptoProvider>) -> Result<rustls_platform_verifier::Verifier, rustls::Error>;

impl SystemRootsVerifier {
    fn new(provider: Arc<CryptoProvider>, load: LoadPlatform) -> SystemRootsVerifier {
        SystemRootsVerifier {
            provider,
            load,
            platform: OnceLock::new(),
        }
    }

    fn platform(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.platform
            .get_or_init(|| (self.load)(self.provider.clone()))
            .as_ref()
            .map_err(|e| rustls::Error::General(format!("no usable system CA roots: {e}")))
    }
}

impl ServerCertVerifier for SystemRootsVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.platform()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, PKCS_ECDSA_P256_SHA256};
    use rustls::pki_types::PrivateKeyDer;

    #[test]
    fn every_client_starts_from_one_configuration() {
        let config = client_config().expect("the configuration builds");
        // reqwest is built without HTTP/2: offering h2 in ALPN would let a server pick a protocol we cannot speak.
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        http_client_builder()
            .unwrap()
            .build()
            .expect("a client builds from the shared configuration");
    }

    #[test]
    fn the_system_roots_load_and_the_handshake_offers_what_the_platform_checks() {
        load_system_roots().expect("the system CA roots load");
        let roots = system_roots();
        let schemes = roots.supported_verify_schemes();
        assert_eq!(schemes, roots.platform().expect("loaded").supported_verify_schemes());
        assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
    }

    /// A CA of the test's own, standing in for a system root.
    static TEST_CA: OnceLock<CertifiedIssuer<'static, KeyPair>> = OnceLock::new();

    fn test_ca() -> &'static CertifiedIssuer<'static, KeyPair> {
        TEST_CA.get_or_init(|| ca("walletd test root"))
    }

    fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(p, key).unwrap()
    }

    /// The system roots plus the test CA (a system root the test controls).
    fn platform_with_test_ca(
        provider: Arc<CryptoProvider>,
    ) -> Result<rustls_platform_verifier::Verifier, rustls::Error> {
        rustls_platform_verifier::Verifier::new_with_extra_roots([test_ca().der().clone()], provider)
    }

    /// A server for `host` whose certificate `issuer` signed, speaking only `version`.
    fn server(
        issuer: &CertifiedIssuer<'static, KeyPair>,
        host: &str,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> rustls::ServerConnection {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = CertificateParams::new(vec![host.to_string()])
            .unwrap()
            .signed_by(&key, issuer)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        rustls::ServerConnection::new(Arc::new(config)).unwrap()
    }

    /// Runs a whole handshake in memory between a client using `verifier` and `server`.
    fn handshake(
        verifier: Arc<SystemRootsVerifier>,
        mut server: rustls::ServerConnection,
    ) -> Result<(), rustls::Error> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let name = ServerName::try_from("issuer.test").unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(config), name)?;
        for _ in 0..10 {
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
            let mut wire = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets()?;
            let mut wire = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets()?;
        }
        panic!("the handshake did not finish in 10 flights");
    }

    #[test]
    fn a_handshake_checks_the_chain_against_the_roots_loaded_on_first_use_and_the_signature() {
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let verifier = Arc::new(SystemRootsVerifier::new(provider(), platform_with_test_ca));
            assert!(
                verifier.platform.get().is_none(),
                "nothing is read before a chain is checked"
            );
            handshake(verifier.clone(), server(test_ca(), "issuer.test", version))
                .unwrap_or_else(|e| panic!("{version:?}: a chain to a root completes the handshake: {e}"));
            assert!(verifier.platform.get().is_some());

            let stranger = ca("not a root");
            let refused = handshake(verifier.clone(), server(&stranger, "issuer.test", version)).unwrap_err();
            assert!(
                matches!(
                    refused,
                    rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
                ),
                "{version:?}: {refused:?}"
            );
            let refused = handshake(verifier, server(test_ca(), "other.test", version)).unwrap_err();
            assert!(
                matches!(refused, rustls::Error::InvalidCertificate(_)),
                "{version:?}: a certificate for another name is refused: {refused:?}"
            );
        }
    }

    #[test]
    fn without_roots_every_chain_is_refused_with_the_reason() {
        let verifier = Arc::new(SystemRootsVerifier::new(provider(), |_| {
            Err(rustls::Error::General(
                "No CA certificates were loaded from the system".into(),
            ))
        }));
        let refused = handshake(verifier, server(test_ca(), "issuer.test", &rustls::version::TLS13)).unwrap_err();
        assert!(refused.to_string().contains("no usable system CA roots"), "{refused}");
    }
}
