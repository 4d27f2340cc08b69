//! Reading a response body as a stream, cut at a maximum.
//!
//! The stream yields *decompressed* bytes (the HTTP stack decodes `Content-Encoding`), so the limit applies after
//! decompression and a small gzip bomb is cut as soon as its output passes the limit. Time is bounded by the
//! caller's total deadline, which wraps this read.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::error::EgressError;

/// Metadata documents (issuer/verifier metadata, VCTM, JWKS): 1 MiB.
pub const METADATA_MAX_BYTES: usize = 1024 * 1024;
/// Request objects (OpenID4VP `request_uri`): 1 MiB.
pub const REQUEST_OBJECT_MAX_BYTES: usize = 1024 * 1024;
/// Credential responses: 4 MiB.
pub const CREDENTIAL_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Reads at most `limit` bytes of `resp`'s body; fails with [`EgressError::TooLarge`] as soon as it would pass.
pub(crate) async fn read_limited(resp: reqwest::Response, limit: usize) -> Result<Bytes, EgressError> {
    if resp.content_length().is_some_and(|len| len > limit as u64) {
        return Err(EgressError::TooLarge { limit });
    }
    let mut buf = BytesMut::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if e.is_timeout() {
                EgressError::Timeout(crate::error::TimeoutKind::Total)
            } else if e.is_decode() {
                EgressError::http("response body could not be decoded", e)
            } else {
                EgressError::http("reading the response body failed", e)
            }
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(EgressError::TooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
