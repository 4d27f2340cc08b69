//! Name resolution for the guard: the [`GuardResolver`] trait, the production resolver and test resolvers.
//!
//! The guard resolves a name exactly once per hop through a `GuardResolver`, checks every address, and pins the
//! checked addresses for the connection (see `pin.rs`). The HTTP stack is never given a resolver of its own.
//!
//! Production choice: [`HickoryResolver`] (hickory-resolver, the crate named in the architecture). Reasons: it is
//! fully async (no blocking `getaddrinfo` threads that can pile up behind a slow DNS server when an attacker
//! supplies many slow names), its timeouts and attempts are ours to set, and it does not depend on NSS modules
//! (mDNS, LDAP, ...) whose answers we cannot reason about. It still honours `/etc/resolv.conf` and `/etc/hosts`.
//! [`SystemResolver`] (getaddrinfo through `tokio::net::lookup_host`) is the fallback when the system DNS
//! configuration cannot be read by hickory.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

/// Error of a resolution (the text may name the host; it is never shown to clients by the guard).
pub type ResolveError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves a host name to addresses. Implementations must not filter: the guard checks every address returned.
#[async_trait]
pub trait GuardResolver: Send + Sync + 'static {
    /// Returns all addresses of `host` (a lower-case ASCII DNS name, never an IP literal).
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError>;
}

/// The production resolver: hickory with the system configuration.
pub struct HickoryResolver {
    inner: hickory_resolver::TokioResolver,
}

impl HickoryResolver {
    /// Builds a resolver from `/etc/resolv.conf` (and `/etc/hosts`), with `timeout` per attempt.
    pub fn from_system_conf(timeout: Duration) -> Result<Self, ResolveError> {
        let mut builder = hickory_resolver::TokioResolver::builder_tokio()?;
        let opts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = 2;
        Ok(Self {
            inner: builder.build()?,
        })
    }
}

#[async_trait]
impl GuardResolver for HickoryResolver {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        // A trailing dot makes the name fully qualified so search domains are not appended.
        let fqdn = if host.ends_with('.') {
            host.to_string()
        } else {
            format!("{host}.")
        };
        let lookup = self.inner.lookup_ip(fqdn.as_str()).await?;
        Ok(lookup.iter().collect())
    }
}

/// getaddrinfo through tokio (blocking thread pool). Used only when hickory cannot read the system config.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

#[async_trait]
impl GuardResolver for SystemResolver {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let addrs = tokio::net::lookup_host((host, 0u16)).await?;
        Ok(addrs.map(|a| a.ip()).collect())
    }
}

/// A fixed table of names (for tests and development): unknown names fail to resolve. Counts calls.
#[derive(Debug, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
    calls: AtomicUsize,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a name; the name is matched case-insensitively.
    pub fn with(mut self, host: &str, addrs: &[IpAddr]) -> Self {
        self.table.insert(host.to_ascii_lowercase(), addrs.to_vec());
        self
    }

    /// How many times [`GuardResolver::resolve`] was called.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl GuardResolver for StaticResolver {
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.table
            .get(&host.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| format!("no such host: {host}").into())
    }
}

/// Answers a scripted sequence, one answer per call, whatever the name (the last answer repeats). Counts calls.
/// Models DNS rebinding: a public answer first, a private one next.
#[derive(Debug)]
pub struct ScriptedResolver {
    answers: Mutex<VecDeque<Vec<IpAddr>>>,
    calls: AtomicUsize,
}

impl ScriptedResolver {
    /// The answers, in order.
    pub fn new(answers: Vec<Vec<IpAddr>>) -> Self {
        Self {
            answers: Mutex::new(answers.into()),
            calls: AtomicUsize::new(0),
        }
    }

    /// How many times [`GuardResolver::resolve`] was called.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl GuardResolver for ScriptedResolver {
    async fn resolve(&self, _host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut q = self.answers.lock().expect("lock");
        let answer = if q.len() > 1 { q.pop_front() } else { q.front().cloned() };
        answer.ok_or_else(|| "script exhausted".into())
    }
}
