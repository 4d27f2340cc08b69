//! mdoc (`mso_mdoc`, ISO/IEC 18013-5) support of the engine: the issuer's IACA list (`mdoc_iacas_uri`, fetched
//! through the egress guard, bounded and cached) and the checks of an issued mdoc the engine can make without
//! holding it (docs/oid4vci.md "mdoc").

pub(crate) mod handover;
mod iaca;
mod issued;

pub(crate) use issued::check_issued;
pub use walletd_common::mdoc_iacas::{IacaCache, parse_iaca_list};

use walletd_common::config::EngineConfig;
use walletd_protocol::mdoc::Limits;

/// The CBOR limits of the engine's configuration.
pub(crate) fn limits(cfg: &EngineConfig) -> Limits {
    Limits {
        max_bytes: cfg.mdoc_max_bytes,
        max_depth: cfg.mdoc_max_depth,
    }
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
