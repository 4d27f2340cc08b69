//! URL/host parsing and the egress policy decision on arbitrary input: must never panic, and the decisions
//! must be self-consistent.
//!
//! Input: UTF-8 text. The whole text is a URL; if it contains a newline, the part before is the current URL and
//! the part after is a redirect `Location`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use walletd_egress::ip::parse_host_literal;
use walletd_egress::redirect::next_hop;
use walletd_egress::{Destination, EgressConfig, Method, Policy, StatusCode, Url};

static POLICIES: LazyLock<[Policy; 2]> = LazyLock::new(|| {
    let dev = EgressConfig {
        allow_http: true,
        allowed_cidrs: vec!["127.0.0.1/32".parse().unwrap()],
        blocked_cidrs: vec!["8.8.8.0/24".parse().unwrap(), "2001:4860::/32".parse().unwrap()],
        ..EgressConfig::default()
    };
    [Policy::new(&EgressConfig::default()), Policy::new(&dev)]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_host_literal(text);
    for policy in POLICIES.iter() {
        match policy.check_url_str(text) {
            Ok((url, Destination::Ip(ip))) => {
                // An address the URL check let through passes the address check on its own.
                assert!(policy.check_ip(ip).is_ok(), "{url} -> {ip}");
                assert!(matches!(url.scheme(), "https" | "http"));
            }
            Ok((url, Destination::Name(name))) => {
                // A name handed to DNS is never something a resolver library would read as an address.
                assert!(parse_host_literal(&name).is_none(), "{url} -> name {name:?}");
                assert!(!name.is_empty());
            }
            Err(e) => {
                let _ = (e.code(), e.to_string());
            }
        }
        if let Some((current, location)) = text.split_once('\n')
            && let Ok(cur) = Url::parse(current)
        {
            for status in [301u16, 302, 303, 307, 308] {
                let status = StatusCode::from_u16(status).unwrap();
                if let Ok(hop) = next_hop(policy, &cur, &Method::POST, status, location, true, &cur.origin()) {
                    assert!(
                        !(cur.scheme() == "https" && hop.url.scheme() == "http"),
                        "downgrade allowed"
                    );
                    assert!(
                        !(hop.keep_body && hop.url.origin() != cur.origin()),
                        "body sent cross-origin"
                    );
                    assert!(
                        !(hop.keep_credentials && hop.url.origin() != cur.origin()),
                        "credentials cross-origin"
                    );
                }
            }
        }
    }
});
