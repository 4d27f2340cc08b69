//! The address and URL policy: pure decisions, no I/O.
//!
//! Order of an address decision:
//! 1. `egress.allowed_cidrs` (explicit holes) allow;
//! 2. `egress.blocked_cidrs` block;
//! 3. IPv6 forms that carry an IPv4 address (mapped, NAT64 `64:ff9b::/96`, 6to4) are decided by that IPv4
//!    address, from step 1;
//! 4. the built-in list blocks;
//! 5. any other IPv6 address outside global unicast `2000::/3` blocks;
//! 6. everything else is allowed.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::IpNet;
use url::{Host, Url};

use crate::config::EgressConfig;
use crate::error::{EgressError, Embedding, RangeKind, Rule};
use crate::ip::{embedded_ipv4, parse_host_literal};

/// The built-in block list (IPv4 and IPv6). Order matters only for the reported rule: more specific first.
const BUILTIN: &[(&str, RangeKind)] = &[
    ("0.0.0.0/8", RangeKind::ThisNetwork),
    ("10.0.0.0/8", RangeKind::Private),
    ("100.64.0.0/10", RangeKind::SharedAddressSpace),
    ("127.0.0.0/8", RangeKind::Loopback),
    ("169.254.0.0/16", RangeKind::LinkLocal),
    ("172.16.0.0/12", RangeKind::Private),
    ("192.0.0.0/24", RangeKind::ProtocolAssignment),
    ("192.0.2.0/24", RangeKind::Documentation),
    ("192.88.99.0/24", RangeKind::Relay6to4),
    ("192.168.0.0/16", RangeKind::Private),
    ("198.18.0.0/15", RangeKind::Benchmarking),
    ("198.51.100.0/24", RangeKind::Documentation),
    ("203.0.113.0/24", RangeKind::Documentation),
    ("224.0.0.0/4", RangeKind::Multicast),
    ("255.255.255.255/32", RangeKind::Broadcast),
    ("240.0.0.0/4", RangeKind::Reserved),
    ("::/128", RangeKind::Unspecified),
    ("::1/128", RangeKind::Loopback),
    ("::/96", RangeKind::Ipv4Compatible),
    ("64:ff9b:1::/48", RangeKind::LocalNat64),
    ("100::/64", RangeKind::Discard),
    ("2001::/32", RangeKind::Teredo),
    ("2001:2::/48", RangeKind::Benchmarking),
    ("2001:10::/28", RangeKind::Reserved),
    ("2001:20::/28", RangeKind::Reserved),
    ("2001:db8::/32", RangeKind::Documentation),
    ("3fff::/20", RangeKind::Documentation),
    ("fc00::/7", RangeKind::UniqueLocal),
    ("fe80::/10", RangeKind::LinkLocal),
    ("ff00::/8", RangeKind::Multicast),
];

static BUILTIN_NETS: LazyLock<Vec<(IpNet, RangeKind)>> = LazyLock::new(|| {
    BUILTIN
        .iter()
        .map(|(s, k)| (s.parse().expect("built-in CIDR literal"), *k))
        .collect()
});

static GLOBAL_UNICAST_V6: LazyLock<IpNet> = LazyLock::new(|| "2000::/3".parse().expect("literal"));

/// The built-in blocked ranges, as documented (for docs and tests).
pub fn builtin_blocked_ranges() -> impl Iterator<Item = (IpNet, RangeKind)> {
    BUILTIN_NETS.iter().copied()
}

/// Where a checked URL goes: an address already decided, or a name still to resolve (and then check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The host is an IP literal (in any encoding) and passed the address rules.
    Ip(IpAddr),
    /// The host is a DNS name (lower-case ASCII); every address it resolves to must pass [`Policy::check_ip`].
    Name(String),
}

/// The compiled policy of one [`EgressConfig`].
#[derive(Debug, Clone)]
pub struct Policy {
    allow_http: bool,
    blocked: Vec<IpNet>,
    allowed: Vec<IpNet>,
}

impl Policy {
    /// Compiles the policy part of a configuration.
    pub fn new(cfg: &EgressConfig) -> Self {
        Self {
            allow_http: cfg.allow_http,
            blocked: cfg.blocked_cidrs.iter().map(IpNet::trunc).collect(),
            allowed: cfg.allowed_cidrs.iter().map(IpNet::trunc).collect(),
        }
    }

    /// Whether plain `http` is allowed.
    pub fn allow_http(&self) -> bool {
        self.allow_http
    }

    /// Decides one address. `Err` carries the rule that blocks it.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Rule> {
        self.check_ip_via(ip, None)
    }

    fn check_ip_via(&self, ip: IpAddr, via: Option<Embedding>) -> Result<(), Rule> {
        if self.allowed.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        if self.blocked.iter().any(|n| n.contains(&ip)) {
            return Err(Rule::Configured { via });
        }
        if let IpAddr::V6(v6) = ip
            && let Some((v4, form)) = embedded_ipv4(v6)
        {
            return self.check_ip_via(IpAddr::V4(v4), Some(form));
        }
        if let Some((range, kind)) = BUILTIN_NETS.iter().find(|(n, _)| n.contains(&ip)) {
            return Err(Rule::Address {
                kind: *kind,
                range: *range,
                via,
            });
        }
        if let IpAddr::V6(v6) = ip
            && !GLOBAL_UNICAST_V6.contains(&ip)
        {
            return Err(Rule::Address {
                kind: RangeKind::NonGlobalIpv6,
                range: non_global_range(v6),
                via,
            });
        }
        Ok(())
    }

    /// Decides a scheme (lower-case, as the URL parser produces it).
    pub fn check_scheme(&self, scheme: &str) -> Result<(), Rule> {
        match scheme {
            "https" => Ok(()),
            "http" if self.allow_http => Ok(()),
            other => Err(Rule::Scheme(truncate(other, 32))),
        }
    }

    /// Parses `input` and applies every rule that needs no I/O: scheme, credentials, host present, and (for IP
    /// literals in any encoding) the address rules.
    pub fn check_url_str(&self, input: &str) -> Result<(Url, Destination), EgressError> {
        let url = Url::parse(input).map_err(|e| EgressError::InvalidUrl(e.to_string()))?;
        let dest = self.check_url(&url)?;
        Ok((url, dest))
    }

    /// Applies every rule that needs no I/O to a parsed URL (see [`Policy::check_url_str`]).
    pub fn check_url(&self, url: &Url) -> Result<Destination, EgressError> {
        self.check_scheme(url.scheme()).map_err(EgressError::Blocked)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EgressError::Blocked(Rule::UrlCredentials));
        }
        let ip = match url.host() {
            None => return Err(EgressError::InvalidUrl("URL has no host".into())),
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(Host::Domain(d)) => match parse_host_literal(d) {
                Some(ip) => ip,
                None => {
                    if d.is_empty() {
                        return Err(EgressError::InvalidUrl("URL has an empty host".into()));
                    }
                    return Ok(Destination::Name(d.to_ascii_lowercase()));
                }
            },
        };
        self.check_ip(ip).map_err(EgressError::Blocked)?;
        Ok(Destination::Ip(ip))
    }
}

/// The largest classic block describing a non-global IPv6 address (for messages: `::/8`, `4000::/2`, ...).
fn non_global_range(v6: Ipv6Addr) -> IpNet {
    let first = v6.segments()[0];
    let net = if first & 0xe000 == 0 {
        "::/3"
    } else if first & 0xc000 == 0x4000 {
        "4000::/2"
    } else if first & 0x8000 == 0x8000 {
        "8000::/1"
    } else {
        "::/0"
    };
    net.parse().expect("literal")
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Policy {
        Policy::new(&EgressConfig::default())
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(p().check_ip(s.parse().unwrap()), Ok(()), "{s}");
        }
    }

    #[test]
    fn holes_and_additions() {
        let cfg = EgressConfig {
            allowed_cidrs: vec!["127.0.0.1/32".parse().unwrap()],
            blocked_cidrs: vec!["8.8.8.0/24".parse().unwrap()],
            ..Default::default()
        };
        let p = Policy::new(&cfg);
        assert_eq!(p.check_ip("127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(p.check_ip("::ffff:127.0.0.1".parse().unwrap()), Ok(()));
        assert!(p.check_ip("127.0.0.2".parse().unwrap()).is_err());
        assert_eq!(
            p.check_ip("8.8.8.8".parse().unwrap()),
            Err(Rule::Configured { via: None })
        );
        assert_eq!(
            p.check_ip("64:ff9b::808:808".parse().unwrap()),
            Err(Rule::Configured {
                via: Some(Embedding::Nat64)
            })
        );
    }

    #[test]
    fn non_global_v6() {
        let r = p().check_ip("4000::1".parse().unwrap()).unwrap_err();
        assert_eq!(r.label(), "non_global_ipv6");
        let r = p().check_ip("fec0::1".parse().unwrap()).unwrap_err();
        assert_eq!(r.label(), "non_global_ipv6");
    }
}
