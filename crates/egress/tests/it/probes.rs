//! The probe matrix: every vector of the egress rules (docs/egress.md, and more) thrown at the guard. Each probe must be refused
//! with the expected rule or error code. Prints `N/N probes blocked`.
//!
//! Safety of the suite itself: probes whose destination is outside loopback are decided by the policy or by
//! `EgressClient::check` (the same resolve-and-check path `send` uses), which never connects. Probes that go
//! through `send` have loopback destinations only, so even a broken guard could not send traffic off the host.

use crate::support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use walletd_egress::redirect::next_hop;
use walletd_egress::resolver::StaticResolver;
use walletd_egress::{EgressClient, EgressConfig, EgressError, Method, Policy, StatusCode, Url};

#[derive(Debug, Clone)]
enum Expect {
    /// Blocked with this rule label.
    Rule(&'static str),
    /// Failed with this error code.
    Code(&'static str),
}

#[derive(Default)]
struct Matrix {
    total: usize,
    failures: Vec<String>,
}

impl Matrix {
    fn record<T: std::fmt::Debug>(&mut self, name: &str, res: Result<T, EgressError>, expect: Expect) {
        self.total += 1;
        let ok = match (&res, &expect) {
            (Err(e), Expect::Rule(label)) => e.rule().map(|r| r.label()) == Some(*label),
            (Err(e), Expect::Code(code)) => e.code() == *code,
            (Ok(_), _) => false,
        };
        if !ok {
            self.failures.push(format!("{name}: expected {expect:?}, got {res:?}"));
        }
        if let Err(e) = &res {
            // Client-facing text never carries a resolved or literal address of the destination.
            let text = e.to_string();
            for leak in ["10.0.0.5", "10.1.2.3", "127.0.0.2", "169.254.169.254"] {
                if text.contains(leak) {
                    self.failures.push(format!("{name}: message leaks an address: {text}"));
                }
            }
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The default block list, written out from the rules in docs/egress.md (not taken from the implementation), with
/// addresses inside each range and the expected rule label.
const SPEC_RANGES: &[(&str, &[&str], &str)] = &[
    ("0.0.0.0/8", &["0.0.0.0", "0.1.2.3", "0.255.255.255"], "this_network"),
    ("10/8", &["10.0.0.0", "10.0.0.1", "10.255.255.255"], "private"),
    (
        "100.64/10",
        &["100.64.0.0", "100.100.100.200", "100.127.255.255"],
        "shared_address_space",
    ),
    ("127/8", &["127.0.0.1", "127.0.0.2", "127.255.255.254"], "loopback"),
    (
        "169.254/16",
        &["169.254.0.1", "169.254.169.254", "169.254.255.255"],
        "link_local",
    ),
    ("172.16/12", &["172.16.0.0", "172.20.1.1", "172.31.255.255"], "private"),
    (
        "192.0.0/24",
        &["192.0.0.0", "192.0.0.170", "192.0.0.255"],
        "protocol_assignment",
    ),
    (
        "192.0.2/24",
        &["192.0.2.0", "192.0.2.1", "192.0.2.255"],
        "documentation",
    ),
    (
        "192.88.99/24",
        &["192.88.99.0", "192.88.99.1", "192.88.99.255"],
        "relay_6to4",
    ),
    (
        "192.168/16",
        &["192.168.0.0", "192.168.1.1", "192.168.255.255"],
        "private",
    ),
    (
        "198.18/15",
        &["198.18.0.0", "198.19.0.1", "198.19.255.255"],
        "benchmarking",
    ),
    (
        "198.51.100/24",
        &["198.51.100.0", "198.51.100.7", "198.51.100.255"],
        "documentation",
    ),
    (
        "203.0.113/24",
        &["203.0.113.0", "203.0.113.9", "203.0.113.255"],
        "documentation",
    ),
    (
        "224/4",
        &["224.0.0.1", "239.255.255.250", "239.255.255.255"],
        "multicast",
    ),
    ("240/4", &["240.0.0.0", "250.1.2.3", "255.255.255.254"], "reserved"),
    ("255.255.255.255", &["255.255.255.255"], "broadcast"),
    ("::/128", &["::"], "unspecified"),
    ("::1/128", &["::1"], "loopback"),
    (
        "::ffff:0:0/96 (mapped v4 checked)",
        &["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"],
        "*",
    ),
    (
        "64:ff9b::/96 (embedded v4 checked)",
        &["64:ff9b::7f00:1", "64:ff9b::10.0.0.1", "64:ff9b::a9fe:a9fe"],
        "*",
    ),
    (
        "64:ff9b:1::/48",
        &["64:ff9b:1::", "64:ff9b:1::a00:1", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"],
        "local_nat64",
    ),
    ("100::/64", &["100::", "100::1", "100::ffff:ffff:ffff:ffff"], "discard"),
    (
        "2001::/32",
        &["2001::", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:ffff::1"],
        "teredo",
    ),
    (
        "2001:db8::/32",
        &["2001:db8::", "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"],
        "documentation",
    ),
    (
        "2002::/16 (embedded v4 checked)",
        &["2002:7f00:1::", "2002:a00:1::1", "2002:c0a8:101::1"],
        "*",
    ),
    (
        "fc00::/7",
        &["fc00::", "fd00::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
        "unique_local",
    ),
    (
        "fe80::/10",
        &["fe80::", "fe80::1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
        "link_local",
    ),
    (
        "ff00::/8",
        &["ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
        "multicast",
    ),
];

/// Addresses that must stay reachable (otherwise "block everything" would pass the matrix).
const PUBLIC: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.88.98.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001::1",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
];

/// Every IP-literal spelling of a loopback/unspecified address: (URL host part, expected rule).
fn literal_hosts() -> Vec<(&'static str, &'static str)> {
    vec![
        ("127.0.0.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("0x7f.1", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("0177.1", "loopback"),
        ("017700000001", "loopback"),
        ("127.1", "loopback"),
        ("127.0.1", "loopback"),
        ("127.0.0.1.", "loopback"),
        ("%31%32%37.0.0.1", "loopback"),
        ("\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}", "loopback"),
        ("0", "this_network"),
        ("0.0.0.0", "this_network"),
        ("[::1]", "loopback"),
        ("[0:0:0:0:0:0:0:1]", "loopback"),
        ("[::]", "unspecified"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:7f00:1]", "loopback"),
        ("[::ffff:0:7f00:1]", "non_global_ipv6"),
        ("[::127.0.0.1]", "ipv4_compatible"),
        ("[64:ff9b::127.0.0.1]", "loopback"),
        ("[64:ff9b:1::7f00:1]", "local_nat64"),
        ("[2002:7f00:1::]", "loopback"),
        ("169.254.169.254", "link_local"),
        ("2852039166", "link_local"),
        ("0xa9fea9fe", "link_local"),
        ("[::ffff:a9fe:a9fe]", "link_local"),
        ("[fd00:ec2::254]", "unique_local"),
        ("10.1", "private"),
        ("012.0.0.1", "private"),
        ("[fe80::1%25eth0]", "*"),
    ]
}

#[tokio::test]
async fn probe_matrix() {
    let server = support::start().await;
    let port = server.port();
    let mut m = Matrix::default();

    // 1. The default block list, decided by the policy (every range of the spec, several addresses each).
    let policy = Policy::new(&EgressConfig::default());
    for (range, addrs, label) in SPEC_RANGES {
        for a in *addrs {
            let res = policy.check_ip(ip(a)).map_err(EgressError::Blocked);
            let expect = if *label == "*" {
                Expect::Code("EGRESS_BLOCKED")
            } else {
                Expect::Rule(label)
            };
            m.record(&format!("range {range}: {a}"), res, expect);
        }
    }
    for a in PUBLIC {
        assert_eq!(policy.check_ip(ip(a)), Ok(()), "public address {a} must be allowed");
    }

    // 2. Configured additions, and holes that stay exactly as wide as configured.
    let cfg = EgressConfig {
        blocked_cidrs: vec!["8.8.8.0/24".parse().unwrap(), "2606:4700::/32".parse().unwrap()],
        allowed_cidrs: vec!["127.0.0.1/32".parse().unwrap()],
        ..EgressConfig::default()
    };
    let p2 = Policy::new(&cfg);
    for a in ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
        m.record(
            &format!("blocked_cidrs: {a}"),
            p2.check_ip(ip(a)).map_err(EgressError::Blocked),
            Expect::Rule("configured"),
        );
    }
    for a in ["127.0.0.2", "127.0.0.0", "127.255.255.255"] {
        m.record(
            &format!("hole is /32 only: {a}"),
            p2.check_ip(ip(a)).map_err(EgressError::Blocked),
            Expect::Rule("loopback"),
        );
    }

    // 3. Scheme policy, through `send` (refused before any I/O). The default config refuses http too.
    let strict = EgressClient::with_resolver(
        EgressConfig {
            allowed_cidrs: vec!["127.0.0.1/32".parse().unwrap()],
            ..EgressConfig::default()
        },
        Arc::new(StaticResolver::new().with("allowed.test", &[ip("127.0.0.1")])),
    )
    .unwrap();
    let schemes = [
        "http://allowed.test:PORT/ok".to_string(),
        "file:///etc/passwd".into(),
        "file://localhost/etc/passwd".into(),
        "gopher://127.0.0.1:PORT/_GET".into(),
        "ftp://127.0.0.1:PORT/".into(),
        "data:text/plain,hello".into(),
        "ws://127.0.0.1:PORT/".into(),
        "wss://127.0.0.1:PORT/".into(),
        "unix:/var/run/docker.sock".into(),
        "dict://127.0.0.1:PORT/".into(),
        "ldap://127.0.0.1:PORT/".into(),
        "sftp://127.0.0.1:PORT/".into(),
        "javascript:alert(1)".into(),
        "jar:http://127.0.0.1:PORT/x!/".into(),
    ];
    for u in &schemes {
        let u = u.replace("PORT", &port.to_string());
        m.record(
            &format!("scheme {u}"),
            strict.get(&u, 1024).await,
            Expect::Rule("scheme"),
        );
    }
    m.record(
        "credentials in URL",
        strict
            .get(&format!("https://user:pw@allowed.test:{port}/ok"), 1024)
            .await,
        Expect::Rule("url_credentials"),
    );

    // 4. IP literals in every encoding, through `send` (loopback spellings only) and `check` (all), with a
    //    client that has no holes: none may reach the server.
    let no_holes = EgressClient::with_resolver(
        EgressConfig {
            allow_http: true,
            ..support::local_config()
        }
        .without_holes(),
        Arc::new(StaticResolver::new().with("localhost", &[ip("127.0.0.1"), ip("::1")])),
    )
    .unwrap();
    for (host, label) in literal_hosts() {
        let url = format!("http://{host}:{port}/ok");
        let expect = if label == "*" {
            Expect::Code("EGRESS_INVALID_URL")
        } else {
            Expect::Rule(label)
        };
        m.record(
            &format!("literal check {host}"),
            no_holes.check(&url).await,
            expect.clone(),
        );
        let loopback_only = ["loopback", "this_network", "unspecified"].contains(&label)
            && !host.contains("ff9b")
            && !host.starts_with("[2002");
        if loopback_only {
            m.record(&format!("literal send {host}"), no_holes.get(&url, 1024).await, expect);
        }
    }
    m.record(
        "localhost by name",
        no_holes.get(&format!("http://localhost:{port}/ok"), 1024).await,
        Expect::Rule("loopback"),
    );
    m.record(
        "LOCALHOST by name",
        no_holes.get(&format!("http://LOCALHOST:{port}/ok"), 1024).await,
        Expect::Rule("loopback"),
    );
    assert_eq!(server.hits.count(), 0, "a blocked probe reached the server");

    // 5. Names resolving to blocked addresses (test resolver; `check` never connects), including a name with a
    //    public and a private address.
    let resolver = StaticResolver::new()
        .with("mixed.test", &[ip("93.184.215.14"), ip("10.0.0.5")])
        .with(
            "mixed6.test",
            &[ip("2606:2800:21f:cb07:6820:80da:af6b:8b2c"), ip("fd12::1")],
        )
        .with("metadata.test", &[ip("169.254.169.254")])
        .with("private.test", &[ip("10.1.2.3")])
        .with("nat64.test", &[ip("64:ff9b::a9fe:a9fe")])
        .with("mapped.test", &[ip("::ffff:10.0.0.5")])
        .with("sixtofour.test", &[ip("2002:a00:5::1")])
        .with("cgnat.test", &[ip("100.64.0.1")])
        .with("multicast.test", &[ip("224.0.0.251")])
        .with("mixed-local.test", &[ip("127.0.0.1"), ip("10.0.0.5")])
        .with("empty.test", &[]);
    let named = EgressClient::with_resolver(support::local_config(), Arc::new(resolver)).unwrap();
    for (host, label) in [
        ("mixed.test", "private"),
        ("mixed6.test", "unique_local"),
        ("metadata.test", "link_local"),
        ("private.test", "private"),
        ("nat64.test", "link_local"),
        ("mapped.test", "private"),
        ("sixtofour.test", "private"),
        ("cgnat.test", "shared_address_space"),
        ("multicast.test", "multicast"),
    ] {
        m.record(
            &format!("name {host}"),
            named.check(&format!("https://{host}/")).await,
            Expect::Rule(label),
        );
    }
    m.record(
        "name without addresses",
        named.check("https://empty.test/").await,
        Expect::Code("EGRESS_DNS"),
    );
    m.record(
        "unknown name",
        named.check("https://nowhere.test/").await,
        Expect::Code("EGRESS_DNS"),
    );
    // Through `send`: the allowed loopback address comes first, so even a broken guard would stay on loopback.
    m.record(
        "name with an allowed and a private address (send)",
        named.get(&format!("http://mixed-local.test:{port}/ok"), 1024).await,
        Expect::Rule("private"),
    );
    assert_eq!(server.hits.count(), 0, "a blocked name reached the server");

    // 6. Redirects from the real server into places the policy refuses.
    let redirect_client = EgressClient::with_resolver(
        support::local_config(),
        Arc::new(
            StaticResolver::new()
                .with("allowed.test", &[ip("127.0.0.1")])
                .with("other.test", &[ip("127.0.0.1")])
                .with("localhost", &[ip("127.0.0.2"), ip("::1")]),
        ),
    )
    .unwrap();
    let redirect_targets: Vec<(String, &str)> = vec![
        (format!("http://127.0.0.2:{port}/ok"), "loopback"),
        (format!("http://localhost:{port}/ok"), "loopback"),
        (format!("http://[::ffff:127.0.0.2]:{port}/ok"), "loopback"),
        (format!("http://2130706434:{port}/ok"), "loopback"),
        (format!("http://[::1]:{port}/ok"), "loopback"),
        (format!("http://0.0.0.0:{port}/ok"), "this_network"),
        ("file:///etc/passwd".into(), "scheme"),
        (format!("gopher://127.0.0.1:{port}/_x"), "scheme"),
        (format!("http://u:p@allowed.test:{port}/ok"), "url_credentials"),
    ];
    for (to, label) in &redirect_targets {
        let first = server.url(&format!("/redirect?to={}", urlencode(to)));
        m.record(
            &format!("redirect to {to}"),
            redirect_client.get(&first, 1024).await,
            Expect::Rule(label),
        );
        // The same target two hops away, behind an allowed redirect.
        let second = server.url(&format!("/redirect?to={}", urlencode(&first)));
        m.record(
            &format!("two-hop redirect to {to}"),
            redirect_client.get(&second, 1024).await,
            Expect::Rule(label),
        );
    }
    m.record(
        "redirect chain longer than 5",
        redirect_client.get(&server.url("/chain/6"), 1024).await,
        Expect::Rule("redirect_limit"),
    );
    let self_loop = server.url("/loop");
    m.record(
        "redirect loop",
        redirect_client.get(&self_loop, 1024).await,
        Expect::Rule("redirect_limit"),
    );
    let to_other = urlencode(&format!("http://other.test:{port}/echo"));
    m.record(
        "307 with body to another origin",
        redirect_client
            .request(Method::POST, server.url(&format!("/redirect?status=307&to={to_other}")))
            .body("secret=1")
            .send()
            .await,
        Expect::Rule("redirect_body_cross_origin"),
    );
    m.record(
        "308 with body to another origin",
        redirect_client
            .request(Method::PUT, server.url(&format!("/redirect?status=308&to={to_other}")))
            .body("secret=1")
            .send()
            .await,
        Expect::Rule("redirect_body_cross_origin"),
    );
    // https -> http: decided by the redirect rule before any I/O (no TLS server in the suite).
    let https_cur = Url::parse("https://issuer.example/start").unwrap();
    for (loc, status) in [
        ("http://issuer.example/next", 302u16),
        ("http://other.example/", 301),
        ("http://issuer.example:443/", 307),
    ] {
        let allow_http = Policy::new(&EgressConfig {
            allow_http: true,
            ..EgressConfig::default()
        });
        let res = next_hop(
            &allow_http,
            &https_cur,
            &Method::GET,
            StatusCode::from_u16(status).unwrap(),
            loc,
            false,
            &https_cur.origin(),
        );
        m.record(
            &format!("https->http downgrade {status} {loc}"),
            res,
            Expect::Rule("redirect_downgrade"),
        );
    }
    let hosts_hit = server.hits.hosts();
    assert!(
        hosts_hit.iter().all(|h| h == &format!("127.0.0.1:{port}")),
        "only the allowed origin may be reached during redirect probes, saw {hosts_hit:?}"
    );

    // 7. Size and time limits.
    let mib = 1024 * 1024;
    m.record(
        "oversized body (Content-Length)",
        named.get(&server.url(&format!("/big?n={}", 2 * mib)), mib).await,
        Expect::Code("EGRESS_TOO_LARGE"),
    );
    m.record(
        "oversized body (chunked)",
        named
            .get(&server.url(&format!("/big-chunked?n={}", 2 * mib)), mib)
            .await,
        Expect::Code("EGRESS_TOO_LARGE"),
    );
    m.record(
        "one byte over the limit",
        named.get(&server.url("/big-chunked?n=1001"), 1000).await,
        Expect::Code("EGRESS_TOO_LARGE"),
    );
    let t = Instant::now();
    m.record(
        "gzip bomb (64 MiB from ~64 KiB)",
        named.get(&server.url("/gzip-bomb"), mib).await,
        Expect::Code("EGRESS_TOO_LARGE"),
    );
    assert!(t.elapsed() < Duration::from_secs(3), "the bomb must be cut early");
    let t = Instant::now();
    m.record(
        "endless slow body",
        named.get(&server.url("/slow-drip"), mib).await,
        Expect::Code("EGRESS_TIMEOUT"),
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(5),
        "slow body must end at the 3 s deadline, took {took:?}"
    );
    m.record(
        "headers never come",
        named.get(&server.url("/slow-headers"), mib).await,
        Expect::Code("EGRESS_TIMEOUT"),
    );

    let blocked = m.total - m.failures.len();
    println!("{blocked}/{} probes blocked", m.total);
    assert!(
        m.failures.is_empty(),
        "probes not blocked as expected:\n{}",
        m.failures.join("\n")
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

trait WithoutHoles {
    fn without_holes(self) -> Self;
}

impl WithoutHoles for EgressConfig {
    fn without_holes(mut self) -> Self {
        self.allowed_cidrs.clear();
        self
    }
}
