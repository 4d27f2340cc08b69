//! Error type of the guard, the rule names and the block metric.
//!
//! Display texts are safe to show to clients: they name the rule (and, for built-in address rules, the public
//! range such as `10.0.0.0/8`) but never the address a name resolved to, nor errors of the HTTP stack (which can
//! contain it). The underlying error is kept as `source()` for server-side logs.

use std::fmt;

use ipnet::IpNet;

/// Name of the counter incremented for every blocked request, labelled `rule`.
pub const BLOCKED_METRIC: &str = "walletd_egress_blocked_total";

/// The range classes of the built-in block list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RangeKind {
    /// `0.0.0.0/8`: "this network".
    ThisNetwork,
    /// `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `100.64/10`: carrier-grade NAT.
    SharedAddressSpace,
    /// `127/8`, `::1`.
    Loopback,
    /// `169.254/16`, `fe80::/10` (includes cloud metadata endpoints).
    LinkLocal,
    /// `192.0.0/24` and other protocol assignments.
    ProtocolAssignment,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `192.88.99/24`: deprecated 6to4 relay anycast.
    Relay6to4,
    /// `198.18/15`, `2001:2::/48`.
    Benchmarking,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `240/4`, ORCHID ranges.
    Reserved,
    /// `255.255.255.255`.
    Broadcast,
    /// `::/128`.
    Unspecified,
    /// `::/96` (deprecated IPv4-compatible IPv6).
    Ipv4Compatible,
    /// `64:ff9b:1::/48`: local-use NAT64, whose mapping is operator-defined.
    LocalNat64,
    /// `100::/64`: discard-only.
    Discard,
    /// `2001::/32`: Teredo tunnelling.
    Teredo,
    /// `fc00::/7`: unique local addresses.
    UniqueLocal,
    /// Any IPv6 address outside global unicast `2000::/3` not covered by a more specific rule.
    NonGlobalIpv6,
}

impl RangeKind {
    /// Metric label of the class.
    pub fn label(self) -> &'static str {
        match self {
            RangeKind::ThisNetwork => "this_network",
            RangeKind::Private => "private",
            RangeKind::SharedAddressSpace => "shared_address_space",
            RangeKind::Loopback => "loopback",
            RangeKind::LinkLocal => "link_local",
            RangeKind::ProtocolAssignment => "protocol_assignment",
            RangeKind::Documentation => "documentation",
            RangeKind::Relay6to4 => "relay_6to4",
            RangeKind::Benchmarking => "benchmarking",
            RangeKind::Multicast => "multicast",
            RangeKind::Reserved => "reserved",
            RangeKind::Broadcast => "broadcast",
            RangeKind::Unspecified => "unspecified",
            RangeKind::Ipv4Compatible => "ipv4_compatible",
            RangeKind::LocalNat64 => "local_nat64",
            RangeKind::Discard => "discard",
            RangeKind::Teredo => "teredo",
            RangeKind::UniqueLocal => "unique_local",
            RangeKind::NonGlobalIpv6 => "non_global_ipv6",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            RangeKind::ThisNetwork => "a 'this network' range",
            RangeKind::Private => "a private range",
            RangeKind::SharedAddressSpace => "the shared (carrier-grade NAT) range",
            RangeKind::Loopback => "a loopback range",
            RangeKind::LinkLocal => "a link-local range",
            RangeKind::ProtocolAssignment => "an IETF protocol assignment range",
            RangeKind::Documentation => "a documentation range",
            RangeKind::Relay6to4 => "the 6to4 relay anycast range",
            RangeKind::Benchmarking => "a benchmarking range",
            RangeKind::Multicast => "a multicast range",
            RangeKind::Reserved => "a reserved range",
            RangeKind::Broadcast => "the broadcast address",
            RangeKind::Unspecified => "the unspecified address",
            RangeKind::Ipv4Compatible => "the deprecated IPv4-compatible IPv6 range",
            RangeKind::LocalNat64 => "the local-use NAT64 range",
            RangeKind::Discard => "the discard-only range",
            RangeKind::Teredo => "the Teredo range",
            RangeKind::UniqueLocal => "a unique-local range",
            RangeKind::NonGlobalIpv6 => "an IPv6 range outside global unicast",
        }
    }
}

/// IPv6 forms that carry an IPv4 address and are judged by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Embedding {
    /// `::ffff:0:0/96`.
    Ipv4Mapped,
    /// `64:ff9b::/96` (well-known NAT64 prefix).
    Nat64,
    /// `2002::/16`.
    SixToFour,
}

impl Embedding {
    fn describe(self) -> &'static str {
        match self {
            Embedding::Ipv4Mapped => "an IPv4-mapped IPv6 address",
            Embedding::Nat64 => "a NAT64 address",
            Embedding::SixToFour => "a 6to4 address",
        }
    }
}

/// The rule that refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The scheme is not `https` (nor `http` with `allow_http`). Carries the (lower-case) scheme.
    Scheme(String),
    /// The URL carries user name or password.
    UrlCredentials,
    /// The destination address is in a built-in blocked range.
    Address {
        /// Class of the range.
        kind: RangeKind,
        /// The range (a well-known public constant, never the destination itself).
        range: IpNet,
        /// Set when the address was an IPv6 form carrying the IPv4 address that matched.
        via: Option<Embedding>,
    },
    /// The destination address is in a range of `egress.blocked_cidrs`.
    Configured {
        /// Set when the address was an IPv6 form carrying the IPv4 address that matched.
        via: Option<Embedding>,
    },
    /// A redirect from `https` to `http`.
    RedirectDowngrade,
    /// More redirects than `egress.max_redirects`.
    RedirectLimit(u32),
    /// A 307/308 redirect that would resend a request body to another origin.
    RedirectBodyCrossOrigin,
}

impl Rule {
    /// Metric label (`rule="..."`).
    pub fn label(&self) -> &'static str {
        match self {
            Rule::Scheme(_) => "scheme",
            Rule::UrlCredentials => "url_credentials",
            Rule::Address { kind, .. } => kind.label(),
            Rule::Configured { .. } => "configured",
            Rule::RedirectDowngrade => "redirect_downgrade",
            Rule::RedirectLimit(_) => "redirect_limit",
            Rule::RedirectBodyCrossOrigin => "redirect_body_cross_origin",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let via = |f: &mut fmt::Formatter<'_>, via: &Option<Embedding>| match via {
            Some(e) => write!(f, ", embedded in {}", e.describe()),
            None => Ok(()),
        };
        match self {
            Rule::Scheme(s) => write!(f, "URL scheme '{s}' is not allowed"),
            Rule::UrlCredentials => f.write_str("URLs with embedded credentials are not allowed"),
            Rule::Address { kind, range, via: v } => {
                write!(f, "destination address is in {} ({range})", kind.describe())?;
                via(f, v)
            }
            Rule::Configured { via: v } => {
                f.write_str("destination address is in a range blocked by egress.blocked_cidrs")?;
                via(f, v)
            }
            Rule::RedirectDowngrade => f.write_str("redirect from https to http is not allowed"),
            Rule::RedirectLimit(n) => write!(f, "more than {n} redirects"),
            Rule::RedirectBodyCrossOrigin => {
                f.write_str("307/308 redirect would resend the request body to another origin")
            }
        }
    }
}

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// `egress.connect_timeout` while connecting.
    Connect,
    /// `egress.total_timeout` for the whole call.
    Total,
}

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in an egress call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// The URL does not parse, or has no host.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// A policy rule refused the request before any connection was made.
    #[error("blocked: {0}")]
    Blocked(Rule),
    /// A timeout fired.
    #[error("{}", match .0 { TimeoutKind::Connect => "timed out connecting", TimeoutKind::Total => "timed out (total deadline)" })]
    Timeout(TimeoutKind),
    /// The (decompressed) response body exceeds the per-call maximum.
    #[error("response body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The host name does not resolve.
    #[error("could not resolve host name")]
    Resolve(#[source] Source),
    /// Connecting, TLS, or the HTTP exchange failed.
    #[error("{context}")]
    Http {
        /// A fixed description safe to show.
        context: &'static str,
        /// The underlying error (may contain addresses: for logs only).
        #[source]
        source: Option<Source>,
    },
    /// The remote answered with a non-success status (see `EgressResponse::error_for_status`).
    #[error("remote answered HTTP {}", .0.as_u16())]
    Status(reqwest::StatusCode),
    /// The guard's configuration is invalid.
    #[error("invalid egress configuration: {0}")]
    Config(String),
}

impl EgressError {
    /// A stable machine-readable code: `EGRESS_BLOCKED`, `EGRESS_TIMEOUT`, `EGRESS_TOO_LARGE`, `EGRESS_HTTP`,
    /// `EGRESS_INVALID_URL`, `EGRESS_DNS`, `EGRESS_CONFIG`.
    pub fn code(&self) -> &'static str {
        match self {
            EgressError::InvalidUrl(_) => "EGRESS_INVALID_URL",
            EgressError::Blocked(_) => "EGRESS_BLOCKED",
            EgressError::Timeout(_) => "EGRESS_TIMEOUT",
            EgressError::TooLarge { .. } => "EGRESS_TOO_LARGE",
            EgressError::Resolve(_) => "EGRESS_DNS",
            EgressError::Http { .. } | EgressError::Status(_) => "EGRESS_HTTP",
            EgressError::Config(_) => "EGRESS_CONFIG",
        }
    }

    /// The blocking rule, if this is a [`EgressError::Blocked`].
    pub fn rule(&self) -> Option<&Rule> {
        match self {
            EgressError::Blocked(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn http(context: &'static str, source: impl Into<Source>) -> Self {
        EgressError::Http {
            context,
            source: Some(source.into()),
        }
    }
}

/// Counts a blocked request in [`BLOCKED_METRIC`] (called once per refused call, by the client).
pub(crate) fn record(err: &EgressError) {
    if let EgressError::Blocked(rule) = err {
        metrics::counter!(BLOCKED_METRIC, "rule" => rule.label()).increment(1);
        tracing::debug!(rule = rule.label(), "egress request blocked: {rule}");
    }
}
