//! The engine's client-frame parser on arbitrary input: never panics; an accepted frame has a sane flow id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use walletd_protocol::{MAX_FLOW_ID_CHARS, parse_client_frame};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(msg) = parse_client_frame(text)
        && let Some(id) = msg.flow_id()
    {
        assert!(!id.is_empty() && id.chars().count() <= MAX_FLOW_ID_CHARS);
    }
});
