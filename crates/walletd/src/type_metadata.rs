//! The engine's type-metadata port answered by the registry role of the same process (all-mode, or any process
//! running both roles): no HTTP round-trip to itself and no `registry.url` to configure.

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use walletd_engine::TypeMetadataSource;
use walletd_registry::Registry;

/// [`TypeMetadataSource`] over this process's [`Registry`].
pub struct LocalRegistry(pub Registry);

impl TypeMetadataSource for LocalRegistry {
    fn type_metadata<'a>(&'a self, vct: &'a str) -> BoxFuture<'a, Result<Value, String>> {
        async move {
            let served = self
                .0
                .type_metadata(vct, None)
                .await
                .map_err(|e| format!("the registry has no type metadata for this vct: {e}"))?;
            serde_json::from_slice(&served.entry.body).map_err(|_| "the registry answer is not JSON".to_string())
        }
        .boxed()
    }
}
