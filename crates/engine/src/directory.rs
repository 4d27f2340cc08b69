//! What the engine may read of a tenant's configuration.
//!
//! The engine has no database of its own (docs/api-v2.md "What the engine never does"). The binary answers these
//! questions from its store in all-mode, or from `tenants.source` opened read-only; an engine built without a
//! directory treats every tenant as having no PDP of its own, no issuer registrations and no pre-registered
//! verifiers.

use futures::future::BoxFuture;
use walletd_common::tenant::Tenant;
use walletd_trust::TenantTrustSettings;

/// How the wallet authenticates to one credential issuer's token endpoint, as the tenant registered it.
#[derive(Clone, Default)]
pub struct IssuerClient {
    /// The OAuth client id registered with the issuer.
    pub client_id: Option<String>,
    /// The private client JWK (JSON text) for `private_key_jwt`; `None` means no client assertion.
    pub client_jwk: Option<String>,
}

impl std::fmt::Debug for IssuerClient {
    // The private JWK is a secret: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerClient")
            .field("client_id", &self.client_id)
            .field("client_jwk", &self.client_jwk.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A verifier the tenant registered (the `pre-registered` client_id prefix and verifier display names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisteredVerifier {
    /// The name shown to the user.
    pub name: String,
    /// The verifier's URL (its origin is the domain shown to the user).
    pub url: String,
    /// The client_id the verifier uses in its requests.
    pub client_id: Option<String>,
    /// The client_id scheme it was registered with, when given.
    pub client_id_scheme: Option<String>,
}

/// Read-only tenant configuration for the engine. A failed lookup answers `None` (the caller decides what that
/// means: a missing PDP falls back to the global one, a missing registration to a plain `client_id`).
pub trait TenantDirectory: Send + Sync {
    /// The tenant's trust settings (its own PDP and cache TTL).
    fn trust_settings<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Option<TenantTrustSettings>>;

    /// The tenant's registration with `credential_issuer` (exact identifier match).
    fn issuer_client<'a>(
        &'a self,
        tenant_id: &'a str,
        credential_issuer: &'a str,
    ) -> BoxFuture<'a, Option<IssuerClient>>;

    /// The tenant's verifier registered with `client_id` (exact match).
    fn verifier<'a>(&'a self, tenant_id: &'a str, client_id: &'a str) -> BoxFuture<'a, Option<RegisteredVerifier>>;

    /// The tenant's record (enabled flag, allowed protocols): `Ok(None)` for an unknown tenant, `Err` when it
    /// cannot be read now (the engine then refuses, retryably: it never runs a flow for a tenant it cannot check).
    fn tenant<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Result<Option<Tenant>, String>>;
}

/// Type metadata (VCTM) by `vct`, answered by the registry role in this process (all-mode) without an HTTP
/// round-trip; an engine without it asks `registry.url` over HTTP.
pub trait TypeMetadataSource: Send + Sync {
    /// The resolved document, or why there is none (a message for the client).
    fn type_metadata<'a>(&'a self, vct: &'a str) -> BoxFuture<'a, Result<serde_json::Value, String>>;
}

/// Why the wallet provider refused or failed an attestation: a short machine code (`instance_revoked`,
/// `rate_limited`, `invalid_request`, ...) and a message safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefusal {
    /// Machine-readable reason (the provider's HTTP error code).
    pub code: String,
    /// Human-readable; never carries key material or tokens.
    pub message: String,
}

/// A Wallet Instance Attestation obtained for the client.
#[derive(Debug, Clone)]
pub struct ObtainedWia {
    /// The `oauth-client-attestation+jwt`.
    pub jwt: String,
    /// The wallet instance it was issued to (key attestations of the same flow are attached to it).
    pub instance_id: String,
}

/// The tenant's wallet provider, asked by the engine on the client's behalf when the client declared the
/// `provider_attestations` feature (docs/api-v2.md "Attestations obtained by the engine"). The binary answers it
/// with the wallet-provider role of the same process (`--mode=all`, or `engine,wallet-provider`); an engine without
/// it leaves attestations to the client (the client-driven path).
pub trait WalletProviderPort: Send + Sync {
    /// The provider's issuer identifier (the audience of a PoP for it).
    fn issuer(&self) -> String;

    /// A key attestation (`key-attestation+jwt`) of `jwks` (public JWKs whose possession the engine has checked)
    /// carrying the issuer's `nonce`, issued to `user_id` of `tenant_id`: for `instance_id` (one of the user's
    /// instances) or, without it, the user's own wallet instance.
    fn key_attestation<'a>(
        &'a self,
        tenant_id: &'a str,
        user_id: &'a str,
        jwks: Vec<serde_json::Value>,
        nonce: Option<String>,
        instance_id: Option<String>,
    ) -> BoxFuture<'a, Result<String, ProviderRefusal>>;

    /// A single-use challenge for a Wallet Instance Attestation.
    fn wia_challenge<'a>(
        &'a self,
        tenant_id: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderRefusal>>;

    /// A Wallet Instance Attestation for the instance key the client's `pop` (over `challenge`, for the provider)
    /// proves; `client_id` becomes its `sub` (default: the instance id).
    fn wallet_instance_attestation<'a>(
        &'a self,
        tenant_id: &'a str,
        user_id: &'a str,
        pop: String,
        challenge: String,
        client_id: Option<String>,
    ) -> BoxFuture<'a, Result<ObtainedWia, ProviderRefusal>>;
}
