//! IP-literal recognition and the IPv4 address carried inside some IPv6 forms.
//!
//! The `url` crate already turns every IPv4 spelling of the WHATWG URL standard (`2130706433`, `0x7f.1`,
//! `0177.0.0.1`, `127.1`, percent-encoded or full-width digits...) into a real address for `http`/`https`.
//! [`parse_host_literal`] is a second, independent parser applied to whatever the URL parser left as a *domain*,
//! so a host that any resolver library (`inet_aton` style) would treat as a number is still checked as an
//! address and never handed to DNS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::Embedding;

/// Parses a host string as an IP literal in any common encoding: dotted decimal, one to four parts
/// (`127.1`, `127.0.1`), each part decimal, octal (leading `0`) or hex (`0x`), an optional single trailing dot,
/// and bracketed or bare IPv6. Returns `None` if the string is not an IP literal.
pub fn parse_host_literal(host: &str) -> Option<IpAddr> {
    let h = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(v6) = h.parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    parse_ipv4_lenient(h).map(IpAddr::V4)
}

/// `inet_aton`-style IPv4 parser (the forms the WHATWG URL standard also accepts).
pub fn parse_ipv4_lenient(s: &str) -> Option<Ipv4Addr> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        nums.push(parse_part(p)?);
    }
    let (last, init) = nums.split_last()?;
    if init.iter().any(|&n| n > 255) {
        return None;
    }
    // The last part fills all the remaining bytes.
    let last_bits = 8 * (5 - parts.len() as u32);
    if last_bits < 64 && *last >= (1u64 << last_bits) {
        return None;
    }
    let mut value: u64 = *last;
    for (i, n) in init.iter().enumerate() {
        value |= n << (8 * (3 - i as u32));
    }
    Some(Ipv4Addr::from(u32::try_from(value).ok()?))
}

fn parse_part(p: &str) -> Option<u64> {
    if p.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() {
        // "0x" alone is zero in the WHATWG parser; accept it to stay on the strict side.
        return if radix == 16 { Some(0) } else { None };
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Cap the length so the value fits in u64 (anything this long is out of range anyway).
    if digits.len() > 20 {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// If `v6` is one of the forms judged by the IPv4 address it carries, returns that address and the form:
/// IPv4-mapped `::ffff:a.b.c.d`, well-known NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::/48`.
pub fn embedded_ipv4(v6: Ipv6Addr) -> Option<(Ipv4Addr, Embedding)> {
    let o = v6.octets();
    let seg = v6.segments();
    if seg[..5] == [0, 0, 0, 0, 0] && seg[5] == 0xffff {
        return Some((Ipv4Addr::new(o[12], o[13], o[14], o[15]), Embedding::Ipv4Mapped));
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some((Ipv4Addr::new(o[12], o[13], o[14], o[15]), Embedding::Nat64));
    }
    if seg[0] == 0x2002 {
        return Some((Ipv4Addr::new(o[2], o[3], o[4], o[5]), Embedding::SixToFour));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_ipv4_forms() {
        let lo = Some(Ipv4Addr::new(127, 0, 0, 1));
        for s in [
            "127.0.0.1",
            "127.0.0.1.",
            "2130706433",
            "0x7f000001",
            "0X7F000001",
            "0x7f.1",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "0177.1",
            "017700000001",
            "127.1",
            "127.0.1",
            "0x7f.0x0.0x0.0x1",
            "00000000177.0.0.1",
        ] {
            assert_eq!(parse_ipv4_lenient(s), lo, "{s}");
        }
        assert_eq!(parse_ipv4_lenient("0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(parse_ipv4_lenient("0x"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(parse_ipv4_lenient("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(parse_ipv4_lenient("4294967295"), Some(Ipv4Addr::BROADCAST));
        for s in [
            "",
            ".",
            "4294967296",
            "256.0.0.1",
            "1.2.3.4.5",
            "08.0.0.1",
            "0x1g",
            "example.com",
            "1..1",
            "1.2.3.256",
            "1.2.65536",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_ipv4_lenient(s), None, "{s}");
        }
    }

    #[test]
    fn host_literals() {
        assert_eq!(parse_host_literal("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(
            parse_host_literal("::ffff:127.0.0.1"),
            Some("::ffff:7f00:1".parse().unwrap())
        );
        assert_eq!(parse_host_literal("example.org"), None);
    }

    #[test]
    fn embedded() {
        let e = |s: &str| embedded_ipv4(s.parse().unwrap());
        assert_eq!(
            e("::ffff:10.1.2.3"),
            Some((Ipv4Addr::new(10, 1, 2, 3), Embedding::Ipv4Mapped))
        );
        assert_eq!(
            e("64:ff9b::a9fe:a9fe"),
            Some((Ipv4Addr::new(169, 254, 169, 254), Embedding::Nat64))
        );
        assert_eq!(
            e("2002:c0a8:0101::1"),
            Some((Ipv4Addr::new(192, 168, 1, 1), Embedding::SixToFour))
        );
        assert_eq!(e("2001:db8::1"), None);
        assert_eq!(e("64:ff9b:1::1"), None);
        assert_eq!(e("::1"), None);
    }
}
