//! OpenID4VCI objects more than one crate reads: credential offers (parsing every encoding), credential issuer
//! metadata, and the well-known URL of a metadata document. Pure functions, no I/O: fetching is the engine's and
//! the registry's.

mod metadata;
mod offer;

pub use metadata::{CREDENTIAL_ISSUER_WELL_KNOWN, CredentialIssuerMetadata, well_known_url};
pub use offer::{CredentialOffer, OfferSource, PRE_AUTH_GRANT, parse_offer_input, parse_offer_object, parse_offer_url};
