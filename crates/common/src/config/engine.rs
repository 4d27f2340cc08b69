//! Configuration of the engine role (`engine`).

use super::*;

/// Engine (API v2 WebSocket) limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Largest frame accepted after the handshake.
    pub max_message_bytes: usize,
    /// Largest frame accepted before the handshake.
    pub max_handshake_bytes: usize,
    /// Concurrent flows per WebSocket session.
    pub max_flows_per_session: usize,
    /// WebSocket connections per process; more are refused with 503 at upgrade.
    pub max_connections: usize,
    /// How long a new socket may take to send its handshake frame.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// After a refused handshake, how long the engine keeps reading (and discarding) for the client's close frame
    /// before dropping the socket, so the client reads the error even when it sent more frames meanwhile.
    #[serde(with = "humantime_serde")]
    pub close_timeout: Duration,
    /// Interval of the server's WebSocket pings.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// A socket from which nothing (frame or pong) arrives for this long is closed; so is one that accepts no frame
    /// the engine writes for this long (a client that does not read).
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
    /// Longest a whole flow may run.
    #[serde(with = "humantime_serde")]
    pub flow_timeout: Duration,
    /// Longest wait for a user action (PIN, selection, consent, authorization code).
    #[serde(with = "humantime_serde")]
    pub user_action_timeout: Duration,
    /// Longest wait for a `sign_response`.
    #[serde(with = "humantime_serde")]
    pub sign_timeout: Duration,
    /// Longest wait for a client-mediated `trust_result`.
    #[serde(with = "humantime_serde")]
    pub trust_timeout: Duration,
    /// Total deadline of each outbound request to an issuer or verifier (kept under the web client's 60 s).
    #[serde(with = "humantime_serde")]
    pub outbound_timeout: Duration,
    /// How long a web-profile client's deferred issuance is polled before the flow ends with `CREDENTIAL_ERROR`.
    #[serde(with = "humantime_serde")]
    pub web_deferred_window: Duration,
    /// How long what a `credential_notification` needs is kept in memory after `flow_complete`.
    #[serde(with = "humantime_serde")]
    pub notification_ttl: Duration,
    /// Longest an informational `flow_progress` frame waits to leave with the frames after it (0: at once). A flow's
    /// steps come a few milliseconds apart, so without this each step is one more write and one more wake-up of the
    /// client; frames that ask the client for something never wait. At most 1 s.
    #[serde(with = "humantime_serde")]
    pub progress_hold: Duration,
    /// Frames queued for one flow before further frames for it are refused with `TOO_MANY_REQUESTS`.
    pub flow_inbox_frames: usize,
    /// Frames a session's flows may queue for the socket; a full queue makes the flows wait, so a client that does
    /// not read slows only itself and the engine never buffers without bound.
    pub outbound_queue_frames: usize,
    /// Frames that arrive before the handshake and are buffered until it is verified; more close the socket.
    pub max_buffered_frames: usize,
    /// WebSocket read buffer per socket (bytes); small keeps idle sockets cheap, frames grow it as needed.
    pub ws_read_buffer_bytes: usize,
    /// WebSocket frames written without a flush collect up to this many bytes before they are written (bytes; 0:
    /// one write per frame). The engine flushes after every burst of frames, so a burst (held progress, then a
    /// `sign_request` or the terminal frame) is one write instead of one per frame; nothing is allocated up front.
    pub ws_write_buffer_bytes: usize,
    /// Most credentials requested in one credential request (`count` of `generate_proof`), further capped by the
    /// issuer's `batch_credential_issuance.batch_size`. 1 (the default) never asks for a batch.
    pub max_batch_size: usize,
    /// Issuer trust is decided by the client (`evaluating_trust` + `trust_result`) instead of the PDP.
    pub client_mediated_trust: bool,
    /// Largest issuer JWKS fetched from a metadata `jwks_uri` for the trust evaluation (bytes); the fetch also has
    /// `outbound_timeout`.
    pub jwks_max_bytes: usize,
    /// API v2 over Server-Sent Events: server frames kept per session for resumption with `Last-Event-ID`.
    pub sse_replay_frames: usize,
    /// SSE: bytes of server frames kept per session for resumption (the newest frame is always kept). A frame that
    /// must leave the window before any stream took it ends the session.
    pub sse_replay_bytes: usize,
    /// SSE: how long a session lives with no stream attached and no frame posted.
    #[serde(with = "humantime_serde")]
    pub sse_linger: Duration,
    /// SSE: posted client frames queued for the session; more are refused with 429.
    pub sse_inbound_frames: usize,
    /// SSE: server frames queued for the attached stream beyond the replay; a stream that takes none for
    /// `engine.read_timeout` is detached (the frames stay in the replay window).
    pub sse_stream_queue_frames: usize,
    /// Largest mdoc CBOR structure decoded from an issuer or for a presentation (bytes).
    pub mdoc_max_bytes: usize,
    /// Deepest nesting of arrays, maps and tags in an mdoc CBOR structure.
    pub mdoc_max_depth: usize,
    /// Largest IACA list fetched from an issuer's `mdoc_iacas_uri` (bytes).
    pub mdoc_iacas_max_bytes: usize,
    /// How long a fetched IACA list is reused.
    #[serde(with = "humantime_serde")]
    pub mdoc_iacas_ttl: Duration,
    /// Most IACA lists (URLs) kept in the cache.
    pub mdoc_iacas_cache_entries: usize,
    /// Most issuers of one tenant whose IACA lists `/helper/iaca-list` gathers (backend role).
    pub mdoc_iacas_max_issuers: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_message_bytes: 4 * 1024 * 1024,
            max_handshake_bytes: 64 * 1024,
            max_flows_per_session: 8,
            max_connections: 100_000,
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            flow_timeout: Duration::from_secs(10 * 60),
            user_action_timeout: Duration::from_secs(5 * 60),
            sign_timeout: Duration::from_secs(60),
            trust_timeout: Duration::from_secs(2 * 60),
            outbound_timeout: Duration::from_secs(15),
            web_deferred_window: Duration::from_secs(40),
            notification_ttl: Duration::from_secs(5 * 60),
            progress_hold: Duration::from_millis(20),
            flow_inbox_frames: 16,
            outbound_queue_frames: 64,
            max_buffered_frames: 16,
            // Sized for idle sockets (docs/performance.md "Engine"): large frames still arrive, in more reads.
            ws_read_buffer_bytes: 1024,
            ws_write_buffer_bytes: 16 * 1024,
            max_batch_size: 1,
            client_mediated_trust: false,
            jwks_max_bytes: 256 * 1024,
            sse_replay_frames: 64,
            sse_replay_bytes: 1024 * 1024,
            sse_linger: Duration::from_secs(30),
            sse_inbound_frames: 16,
            sse_stream_queue_frames: 16,
            mdoc_max_bytes: 1024 * 1024,
            mdoc_max_depth: 32,
            mdoc_iacas_max_bytes: 256 * 1024,
            mdoc_iacas_ttl: Duration::from_secs(10 * 60),
            mdoc_iacas_cache_entries: 1024,
            mdoc_iacas_max_issuers: 64,
        }
    }
}
